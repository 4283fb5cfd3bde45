import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// Turns a bearer credential into a principal: keyed-hash lookup, expiry and revocation, and scope. As a
/// middleware it only hands itself to the request's context: the routes that need a credential look the
/// header up (`CubbyRequestContext.principal(of:)`), so open routes ignore whatever `Authorization` carries.
struct Authenticator: RouterMiddleware {
    typealias Context = CubbyRequestContext
    let store: any SQLStore
    let keys: LockerKeys
    let clock: ServerClock
    let maxBodyBytes: Int

    static let prefixes: [String: Principal.Role] = [
        "cby_courier_": .courier, "cby_device_": .device, "cby_admin_": .admin, "cby_carrier_": .carrier,
        "cby_auditor_": .auditor, "cby_scim_": .scim,
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var context = context
        context.maxBodyBytes = maxBodyBytes
        context.authenticator = self
        return try await next(request, context)
    }

    /// The principal for an `Authorization` header, or `unauthorized`.
    func principal(forHeader header: String) async throws -> Principal {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw APIError.unauthorized }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        guard token.utf8.count <= 128, let role = Self.prefixes.first(where: { token.hasPrefix($0.key) })?.value else {
            throw APIError.unauthorized
        }
        let hash = keys.credentialHash(token)
        let nowMs = clock.now().millisecondsSince1970
        return try await store.read { s -> Principal in
            guard let (c, unitSite) = try await s.credentialWithUnitSite(hash: hash), c.kind == role.rawValue,
                c.revokedAt == nil,
                c.expiresAt.map({ $0 > nowMs }) ?? true, let org = UUID(uuidString: c.organizationId),
                let id = UUID(uuidString: c.id)
            else { throw APIError.unauthorized }
            var sites: [String] = []
            // An admin key limited to no sites is the organization's: it acts with a super-administrator's reach.
            let role: Principal.Role = role == .admin && c.siteIds == nil ? .superAdmin : role
            switch role {
            case .courier, .carrier:
                if let carrier = c.carrierId { sites = try await s.carrierSites(carrier) }
            case .admin, .auditor, .superAdmin:
                if let list = c.siteIds {
                    sites = list.split(separator: ",").map(String.init)
                } else {
                    sites = try await s.sites(organization: c.organizationId)
                }
            case .device:
                sites = unitSite.map { [$0] } ?? []
            case .resident:
                sites = []
            case .scim:
                // Issued with exactly one site: the site its recipients belong to.
                sites = c.siteIds.map { $0.split(separator: ",").map(String.init) } ?? []
            }
            return Principal(
                role: role, credentialId: CredentialID(id), organizationId: OrganizationID(org),
                carrierId: c.carrierId.flatMap(CarrierID.init(uuidString:)),
                unitId: c.unitId.flatMap(UnitID.init(uuidString:)),
                siteIds: Set(sites.compactMap(SiteID.init(uuidString:))),
                subjectId: c.courierId.flatMap(PersonID.init(uuidString:)))
        }
    }
}
