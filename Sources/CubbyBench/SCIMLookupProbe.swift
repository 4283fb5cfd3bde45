import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation

extension RecipientBenchmark.LookupProbe {
    /// `GET /scim/v2/Users?filter=userName eq "…"` with a scim credential of the seeded site, as an identity
    /// provider matches a person before it creates or changes them.
    public static let scimByUserName = RecipientBenchmark.LookupProbe(
        label: #"GET /scim/v2/Users?filter=userName eq "…""#,
        authorize: { setup in
            let org = setup.manifest.organizationId
            guard let orgId = OrganizationID(uuidString: org) else { throw CocoaError(.coderInvalidValue) }
            let sites = try await setup.parts.store.read { s in try await s.sites(organization: org) }
            let console = Principal(
                role: .superAdmin, credentialId: .make(), organizationId: orgId,
                siteIds: Set(sites.compactMap(SiteID.init(uuidString:))))
            let (_, token) = try await setup.parts.staff.issueCredential(
                console, actor: .console,
                .init(kind: .scim, label: "bench", days: 1, sites: [setup.manifest.siteId]))
            return "Bearer " + token
        },
        path: { person in
            "/scim/v2/Users?filter=" + RecipientBenchmark.query(#"userName eq "\#(person.email)""#)
        },
        found: { person, body in body.contains("\"id\":\"\(person.id)\"") && body.contains("\"totalResults\":1") })
}
