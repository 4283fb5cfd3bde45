import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import CubbyServer

extension TestWorld {
    /// Issues a scim credential for `site` (the seeded site by default), as the console does.
    func scimToken(site: String? = nil) async throws -> (id: String, token: String) {
        let org = manifest.organizationId
        let sites = try await parts.store.read { s in try await s.sites(organization: org) }
        let p = Principal(
            role: .superAdmin, credentialId: .make(), organizationId: OrganizationID(UUID(uuidString: org)!),
            siteIds: Set(sites.compactMap(SiteID.init(uuidString:))))
        let (c, token) = try await parts.staff.issueCredential(
            p, actor: .console, .init(kind: .scim, label: "Entra ID", days: 30, sites: [site ?? manifest.siteId]))
        return (c.id, token)
    }

    /// A second site of the seeded organization.
    func secondSite() async throws -> String {
        let id = UUID().uuidString.lowercased()
        try await parts.store.write { s in
            try await s.insertSite(
                SiteRecord(id: id, organizationId: manifest.organizationId, name: "Annex", createdAt: 0))
        }
        return id
    }
}

extension TestClientProtocol {
    /// A SCIM request: `application/scim+json` bodies.
    @discardableResult
    func scim(_ method: HTTPRequest.Method, _ path: String, _ token: String?, _ body: String? = nil) async throws
        -> HTTPResult
    {
        try await call(method, "/scim/v2" + path, token: token, json: body, contentType: "application/scim+json")
    }
}

enum SCIMFixture {
    static func user(_ email: String, name: String = "Ann Lee", externalId: String? = nil, extra: String = "")
        -> String
    {
        let ext = externalId.map { #","externalId":"\#($0)""# } ?? ""
        return
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\#(email)","displayName":"\#(name)"\#(ext)\#(extra)}"#
    }

    static func patch(_ ops: String) -> String {
        #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[\#(ops)]}"#
    }

    static func filter(_ text: String) -> String {
        "/Users?filter=" + text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    }
}

/// Every SCIM answer is `application/scim+json`; errors carry the SCIM error schema with `status` as a string.
func expectSCIMError(_ r: HTTPResult, _ status: Int, _ scimType: String? = nil, _ comment: Comment? = nil) {
    #expect(r.status == status, comment)
    #expect(r.headers[.contentType]?.hasPrefix("application/scim+json") == true, comment)
    #expect(r.body["schemas"] as? [String] == ["urn:ietf:params:scim:api:messages:2.0:Error"], comment)
    #expect(r.body.str("status") == String(status), comment)
    if let scimType { #expect(r.body.str("scimType") == scimType, comment) }
}

@Suite("SCIM 2.0 provisioning of recipients")
struct SCIMTests {
    @Test(arguments: Backend.available)
    func createGetFilterThenDeactivateByPatch(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let (credential, token) = try await w.scimToken()
            try await w.test { c in
                let created = try await c.scim(
                    .post, "/Users", token,
                    SCIMFixture.user(
                        "Ann@Example.org", externalId: "entra-1",
                        extra:
                            #","phoneNumbers":[{"value":"+1 555 010 0199","type":"mobile"}],"preferredLanguage":"es","title":"ignored""#
                    ))
                #expect(created.status == 201)
                #expect(created.headers[.contentType]?.hasPrefix("application/scim+json") == true)
                let id = try #require(created.body.str("id"))
                #expect(created.headers[.location] == "\(w.settings.linkBase)/scim/v2/Users/\(id)")
                #expect(created.body.str("userName") == "ann@example.org")
                #expect(created.body.str("displayName") == "Ann Lee")
                #expect(created.body.str("externalId") == "entra-1")
                #expect(created.body.str("preferredLanguage") == "es")
                #expect(created.body["active"] as? Bool == true)
                #expect(created.body["title"] == nil)
                let phones = created.body["phoneNumbers"] as? [[String: Any]]
                #expect(phones?.first?["value"] as? String == "+15550100199")
                #expect(created.body.obj("meta")?["resourceType"] as? String == "User")
                #expect(created.body.obj("meta")?["location"] as? String == created.headers[.location])

                let got = try await c.scim(.get, "/Users/\(id)", token)
                #expect(got.status == 200 && got.body.str("userName") == "ann@example.org")

                for filter in [
                    #"userName eq "ANN@example.org""#, #"externalId eq "entra-1""#, #"id eq "\#(id)""#,
                    #"userName eq "ann@example.org" and externalId eq "entra-1""#,
                ] {
                    let found = try await c.scim(.get, SCIMFixture.filter(filter), token)
                    #expect(found.status == 200, "\(filter)")
                    #expect(found.body["totalResults"] as? Int == 1, "\(filter)")
                    #expect(found.body["schemas"] as? [String] == [SCIMSchemas.listResponse])
                    let resources = found.body["Resources"] as? [[String: Any]]
                    #expect(resources?.first?["id"] as? String == id, "\(filter)")
                }
                for filter in [
                    #"userName eq "nobody@example.org""#, #"userName eq "ann@example.org" and externalId eq "x""#,
                ] {
                    let none = try await c.scim(.get, SCIMFixture.filter(filter), token)
                    #expect(none.status == 200 && none.body["totalResults"] as? Int == 0, "\(filter)")
                }

                // Entra ID deactivates with a capitalised op and a string boolean.
                let off = try await c.scim(
                    .patch, "/Users/\(id)", token,
                    SCIMFixture.patch(#"{"op":"Replace","path":"active","value":"False"}"#))
                #expect(off.status == 200 && off.body["active"] as? Bool == false)
                expectSCIMError(try await c.scim(.get, "/Users/\(id)", token), 404)
                let gone = try await c.scim(.get, SCIMFixture.filter(#"userName eq "ann@example.org""#), token)
                #expect(gone.body["totalResults"] as? Int == 0)

                // Every change was audited by the recipient directory, with the scim credential as the actor.
                let events = try await w.parts.store.read { s in
                    try await s.auditEvents(from: 0, limit: 10_000, organization: w.manifest.organizationId)
                }.filter { $0.actorKind == "scim" }
                #expect(events.map(\.type) == ["recipient.created", "recipient.deactivated"])
                #expect(events.allSatisfy { $0.actorId == credential && $0.actorRole == "scim" })
                #expect(events.allSatisfy { !$0.detail.contains("ann@") && !$0.detail.contains("Ann Lee") })
            }
        }
    }

    @Test(arguments: Backend.available)
    func putReplacesTheWholeUser(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                let created = try await c.scim(
                    .post, "/Users", token,
                    SCIMFixture.user(
                        "bo@example.org", name: "Bo", externalId: "e-2",
                        extra: #","phoneNumbers":[{"value":"+15550100111"}]"#))
                let id = try #require(created.body.str("id"))
                let put = try await c.scim(
                    .put, "/Users/\(id)", token,
                    #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bo.new@example.org","name":{"givenName":"Bo","familyName":"Berg"},"active":"True"}"#
                )
                #expect(put.status == 200)
                #expect(put.body.str("userName") == "bo.new@example.org")
                #expect(put.body.str("displayName") == "Bo Berg")
                // Left out of the replacement: cleared.
                #expect(put.body["phoneNumbers"] == nil)
                #expect(put.body["externalId"] == nil)
                #expect(put.body.str("preferredLanguage") == "en")
                let got = try await c.scim(.get, "/Users/\(id)", token)
                #expect(got.body.str("userName") == "bo.new@example.org" && got.body["phoneNumbers"] == nil)
            }
        }
    }

    @Test(arguments: Backend.available)
    func deleteDeactivatesAndThenEveryVerbIs404(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                let id = try #require(
                    try await c.scim(.post, "/Users", token, SCIMFixture.user("cy@example.org")).body.str("id"))
                let deleted = try await c.scim(.delete, "/Users/\(id)", token)
                #expect(deleted.status == 204 && deleted.data.isEmpty)
                expectSCIMError(try await c.scim(.get, "/Users/\(id)", token), 404)
                expectSCIMError(try await c.scim(.put, "/Users/\(id)", token, SCIMFixture.user("cy@example.org")), 404)
                expectSCIMError(
                    try await c.scim(
                        .patch, "/Users/\(id)", token,
                        SCIMFixture.patch(#"{"op":"replace","path":"active","value":true}"#)), 404)
                expectSCIMError(try await c.scim(.delete, "/Users/\(id)", token), 404)
                let list = try await c.scim(.get, "/Users?count=200", token)
                let ids = (list.body["Resources"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(!ids.contains(id))
                // The recipient is deactivated, not erased: the directory still has it.
                let r = try await w.parts.recipients.get(
                    SCIMUsers.deskPrincipal(try await w.scimPrincipal(token)), id: id)
                #expect(!r.active)
            }
        }
    }

    @Test(arguments: Backend.available)
    func uniquenessConflictsAre409(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                let first = try await c.scim(
                    .post, "/Users", token, SCIMFixture.user("dee@example.org", externalId: "x-1"))
                #expect(first.status == 201)
                expectSCIMError(
                    try await c.scim(.post, "/Users", token, SCIMFixture.user("DEE@example.org")), 409, "uniqueness")
                expectSCIMError(
                    try await c.scim(.post, "/Users", token, SCIMFixture.user("other@example.org", externalId: "x-1")),
                    409, "uniqueness")
                let second = try #require(
                    try await c.scim(.post, "/Users", token, SCIMFixture.user("eve@example.org")).body.str("id"))
                expectSCIMError(
                    try await c.scim(
                        .patch, "/Users/\(second)", token,
                        SCIMFixture.patch(#"{"op":"replace","path":"userName","value":"dee@example.org"}"#)), 409,
                    "uniqueness")
                #expect(try await c.scim(.get, "/Users/\(second)", token).body.str("userName") == "eve@example.org")
            }
        }
    }

    @Test(arguments: Backend.available)
    func anotherSitesUserIsNotFound(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let (_, here) = try await w.scimToken()
            let (_, there) = try await w.scimToken(site: try await w.secondSite())
            try await w.test { c in
                let id = try #require(
                    try await c.scim(.post, "/Users", there, SCIMFixture.user("fay@example.org", externalId: "f")).body
                        .str("id"))
                expectSCIMError(try await c.scim(.get, "/Users/\(id)", here), 404)
                expectSCIMError(try await c.scim(.put, "/Users/\(id)", here, SCIMFixture.user("fay@example.org")), 404)
                expectSCIMError(
                    try await c.scim(
                        .patch, "/Users/\(id)", here,
                        SCIMFixture.patch(#"{"op":"replace","path":"displayName","value":"X"}"#)), 404)
                expectSCIMError(try await c.scim(.delete, "/Users/\(id)", here), 404)
                let filtered = try await c.scim(.get, SCIMFixture.filter(#"userName eq "fay@example.org""#), here)
                #expect(filtered.body["totalResults"] as? Int == 0)
                let byId = try await c.scim(.get, SCIMFixture.filter(#"id eq "\#(id)""#), here)
                #expect(byId.body["totalResults"] as? Int == 0)
                #expect(try await c.scim(.get, "/Users/\(id)", there).status == 200)
            }
        }
    }

    @Test func credentialsOfOtherKindsAreRefusedAndScimReachesNothingElse() async throws {
        try await TestWorld.with(.sqlite) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                for other in [w.manifest.adminToken, w.manifest.courierToken, w.manifest.auditorToken, w.device] {
                    expectSCIMError(try await c.scim(.get, "/Users", other), 403)
                    expectSCIMError(try await c.scim(.post, "/Users", other, SCIMFixture.user("g@example.org")), 403)
                }
                expectSCIMError(try await c.scim(.get, "/Users", nil), 401)
                expectSCIMError(try await c.scim(.get, "/ServiceProviderConfig", "cby_scim_nonsense"), 401)
                for (method, path) in [
                    (HTTPRequest.Method.get, "/api/v1/units/\(w.unit)"), (.post, "/api/v1/parcels"),
                    (.get, "/api/v1/audit/events"), (.get, "/api/v1/alerts"),
                ] {
                    let r = try await c.call(method, path, token: token, json: method == .post ? "{}" : nil)
                    #expect(r.status == 403 && r.body.str("error") == "forbidden", "\(method) \(path)")
                }
            }
        }
    }

    @Test func pagingIsOneBasedAndClamped() async throws {
        try await TestWorld.with(.sqlite) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                let before = try await c.scim(.get, "/Users?count=0", token)
                let base = try #require(before.body["totalResults"] as? Int)
                #expect((before.body["Resources"] as? [Any])?.isEmpty == true)
                for i in 0..<5 {
                    #expect(
                        try await c.scim(.post, "/Users", token, SCIMFixture.user("p\(i)@example.org")).status == 201)
                }
                let all = try await c.scim(.get, "/Users?startIndex=1&count=200", token)
                #expect(all.body["totalResults"] as? Int == base + 5)
                let ids = (all.body["Resources"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                #expect(ids.count == base + 5)
                let page = try await c.scim(.get, "/Users?startIndex=2&count=2", token)
                #expect(page.body["startIndex"] as? Int == 2 && page.body["itemsPerPage"] as? Int == 2)
                #expect(
                    (page.body["Resources"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
                        == Array(ids[1...2]))
                let clamped = try await c.scim(.get, "/Users?startIndex=-4&count=99999", token)
                #expect(clamped.body["startIndex"] as? Int == 1)
                #expect((clamped.body["Resources"] as? [Any])?.count == min(base + 5, SCIMDiscovery.maxResults))
                let past = try await c.scim(.get, "/Users?startIndex=1000", token)
                #expect(
                    past.body["totalResults"] as? Int == base + 5 && (past.body["Resources"] as? [Any])?.isEmpty == true
                )
                let narrowed = try await c.scim(.get, "/Users/\(ids[0])?attributes=userName", token)
                #expect(Set(narrowed.body.keys) == ["schemas", "id", "userName"])
                let without = try await c.scim(.get, "/Users/\(ids[0])?excludedAttributes=meta,emails", token)
                #expect(without.body["meta"] == nil && without.body["emails"] == nil && without.body["userName"] != nil)
                let searched = try await c.scim(
                    .post, "/Users/.search", token,
                    #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"p3@example.org\"","attributes":["userName"]}"#
                )
                #expect(searched.body["totalResults"] as? Int == 1)
            }
        }
    }

    @Test func discoveryDescribesWhatIsSupported() async throws {
        try await TestWorld.with(.sqlite) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                let config = try await c.scim(.get, "/ServiceProviderConfig", token)
                #expect(config.status == 200)
                #expect(config.body.obj("patch")?["supported"] as? Bool == true)
                #expect(config.body.obj("bulk")?["supported"] as? Bool == false)
                #expect(config.body.obj("filter")?["maxResults"] as? Int == 200)
                #expect(config.body.obj("sort")?["supported"] as? Bool == false)
                #expect(config.body.obj("changePassword")?["supported"] as? Bool == false)
                #expect(config.body.obj("etag")?["supported"] as? Bool == false)
                let types = try await c.scim(.get, "/ResourceTypes", token)
                #expect((types.body["Resources"] as? [[String: Any]])?.first?["endpoint"] as? String == "/Users")
                #expect(try await c.scim(.get, "/ResourceTypes/User", token).body.str("schema") == SCIMSchemas.user)
                expectSCIMError(try await c.scim(.get, "/ResourceTypes/Group", token), 404)
                let schemas = try await c.scim(.get, "/Schemas", token)
                let published = schemas.body["Resources"] as? [[String: Any]] ?? []
                #expect(
                    Set(published.compactMap { $0["name"] as? String }) == [
                        "User", "ServiceProviderConfig", "ResourceType", "Schema",
                    ])
                let user = try #require(published.first)
                let names = (user["attributes"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names == ["userName", "displayName", "emails", "phoneNumbers", "preferredLanguage", "active"])
                #expect(
                    try await c.scim(.get, "/Schemas/\(SCIMSchemas.user)", token).body.str("id") == SCIMSchemas.user)
                expectSCIMError(try await c.scim(.get, "/Schemas/urn:example:nothing", token), 404)
                #expect(try await c.scim(.get, "/Schemas/\(SCIMSchemas.resourceType)", token).status == 200)
                for method in [HTTPRequest.Method.post, .put, .patch, .delete] {
                    expectSCIMError(try await c.scim(method, "/Schemas", token, "{}"), 405)
                }
                expectSCIMError(try await c.scim(.get, "/Schemas?filter=id%20pr", token), 403)
                expectSCIMError(try await c.scim(.post, "/.search", token, "{}"), 501)
            }
        }
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method
        var path: String
        var body: String?
        var contentType: String? = "application/scim+json"
        var status: Int
        var scimType: String?
        var testDescription: String { name }
    }

    static let badInput: [BadCase] = [
        BadCase(
            name: "malformed JSON", method: .post, path: "/Users", body: #"{"userName":"#, status: 400,
            scimType: "invalidSyntax"),
        BadCase(name: "JSON array", method: .post, path: "/Users", body: "[]", status: 400, scimType: "invalidSyntax"),
        BadCase(name: "empty body", method: .post, path: "/Users", body: "", status: 400, scimType: "invalidSyntax"),
        BadCase(
            name: "unknown schema", method: .post, path: "/Users",
            body: #"{"schemas":["urn:example:Thing"],"userName":"h@example.org","displayName":"H"}"#, status: 400,
            scimType: "invalidValue"),
        BadCase(
            name: "no schemas", method: .post, path: "/Users", body: #"{"userName":"h@example.org","displayName":"H"}"#,
            status: 400, scimType: "invalidValue"),
        BadCase(
            name: "wrong content type", method: .post, path: "/Users", body: SCIMFixture.user("h@example.org"),
            contentType: "text/plain", status: 415),
        BadCase(
            name: "userName not an email", method: .post, path: "/Users", body: SCIMFixture.user("not-an-email"),
            status: 400, scimType: "invalidValue"),
        BadCase(
            name: "userName missing", method: .post, path: "/Users",
            body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"H"}"#, status: 400,
            scimType: "invalidValue"),
        BadCase(
            name: "userName a number", method: .post, path: "/Users",
            body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":5,"displayName":"H"}"#,
            status: 400, scimType: "invalidValue"),
        BadCase(
            name: "phone not E.164", method: .post, path: "/Users",
            body: SCIMFixture.user("h@example.org", extra: #","phoneNumbers":[{"value":"5550100"}]"#), status: 400,
            scimType: "invalidValue"),
        BadCase(
            name: "unsupported language", method: .post, path: "/Users",
            body: SCIMFixture.user("h@example.org", extra: #","preferredLanguage":"tlh""#), status: 400,
            scimType: "invalidValue"),
        BadCase(
            name: "active not a boolean", method: .post, path: "/Users",
            body: SCIMFixture.user("h@example.org", extra: #","active":"maybe""#), status: 400, scimType: "invalidValue"
        ),
        BadCase(
            name: "invalid filter", method: .get, path: SCIMFixture.filter(#"userName eq"#), status: 400,
            scimType: "invalidFilter"),
        BadCase(
            name: "filter on an attribute without an index", method: .get,
            path: SCIMFixture.filter(#"displayName eq "H""#), status: 400, scimType: "invalidFilter"),
        BadCase(
            name: "or of two lookups", method: .get,
            path: SCIMFixture.filter(#"userName eq "a@example.org" or userName eq "b@example.org""#), status: 400,
            scimType: "invalidFilter"),
        BadCase(
            name: "startIndex not a number", method: .get, path: "/Users?startIndex=x", status: 400,
            scimType: "invalidValue"),
        BadCase(
            name: "bad attributes", method: .get, path: "/Users?attributes=a%20b", status: 400, scimType: "invalidValue"
        ),
        BadCase(name: "unknown path", method: .get, path: "/Groups", status: 404),
        BadCase(name: "method not allowed", method: .delete, path: "/Users", status: 405),
        BadCase(name: "user id not a UUID", method: .get, path: "/Users/42", status: 404),
        BadCase(name: "unknown user", method: .get, path: "/Users/\(UUID().uuidString.lowercased())", status: 404),
    ]

    @Test(arguments: badInput)
    func badInputIsAnsweredInTheErrorSchemaAndChangesNothing(_ bad: BadCase) async throws {
        try await TestWorld.with(.sqlite) { w in
            let (_, token) = try await w.scimToken()
            let before = try await w.counts()
            try await w.test { c in
                let r = try await c.call(
                    bad.method, "/scim/v2" + bad.path, token: token, json: bad.body, contentType: bad.contentType)
                expectSCIMError(r, bad.status, bad.scimType, "\(bad.name): \(String(decoding: r.data, as: UTF8.self))")
            }
            #expect(try await w.counts().audit == before.audit, "\(bad.name) changed nothing")
        }
    }

    @Test func badPatchesChangeNothing() async throws {
        try await TestWorld.with(.sqlite) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                let id = try #require(
                    try await c.scim(.post, "/Users", token, SCIMFixture.user("ida@example.org", name: "Ida")).body.str(
                        "id"))
                let before = try await w.counts()
                let cases: [(String, String?)] = [
                    (
                        SCIMFixture.patch(#"{"op":"replace","path":"displayName","value":"New"},{"op":"remove"}"#),
                        "noTarget"
                    ),
                    (SCIMFixture.patch(#"{"op":"replace","path":"displayName","value":7}"#), "invalidValue"),
                    (SCIMFixture.patch(#"{"op":"replace","path":"active","value":"nope"}"#), "invalidValue"),
                    (SCIMFixture.patch(#"{"op":"remove","path":"userName"}"#), "invalidValue"),
                    (SCIMFixture.patch(#"{"op":"replace","path":"userName","value":"bad"}"#), "invalidValue"),
                    (#"{"Operations":[{"op":"remove","path":"displayName"}]}"#, "invalidSyntax"),
                    (SCIMFixture.patch(#"{"op":"replace","path":"bad path!","value":1}"#), "invalidPath"),
                ]
                for (body, scimType) in cases {
                    expectSCIMError(try await c.scim(.patch, "/Users/\(id)", token, body), 400, scimType, "\(body)")
                }
                #expect(try await w.counts().audit == before.audit)
                #expect(try await c.scim(.get, "/Users/\(id)", token).body.str("displayName") == "Ida")
            }
        }
    }

    @Test func oktaAndEntraPatchFormsChangeTheRecipient() async throws {
        try await TestWorld.with(.sqlite) { w in
            let (_, token) = try await w.scimToken()
            try await w.test { c in
                let id = try #require(
                    try await c.scim(.post, "/Users", token, SCIMFixture.user("jo@example.org", name: "Jo")).body.str(
                        "id"))
                let entra = try await c.scim(
                    .patch, "/Users/\(id)", token,
                    SCIMFixture.patch(
                        #"{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+15550100122"},{"op":"Replace","path":"displayName","value":"Jo Ng"},{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Ops"}"#
                    ))
                #expect(entra.status == 200)
                #expect(entra.body.str("displayName") == "Jo Ng")
                #expect((entra.body["phoneNumbers"] as? [[String: Any]])?.first?["value"] as? String == "+15550100122")
                let okta = try await c.scim(
                    .patch, "/Users/\(id)", token,
                    SCIMFixture.patch(
                        #"{"op":"replace","value":{"userName":"jo.ng@example.org","preferredLanguage":"es"}}"#))
                #expect(okta.body.str("userName") == "jo.ng@example.org" && okta.body.str("preferredLanguage") == "es")
                let removed = try await c.scim(
                    .patch, "/Users/\(id)", token, SCIMFixture.patch(#"{"op":"remove","path":"phoneNumbers"}"#))
                #expect(removed.body["phoneNumbers"] == nil)
            }
        }
    }
}

extension TestWorld {
    /// The principal a scim token authenticates as.
    func scimPrincipal(_ token: String) async throws -> Principal {
        let authenticator = parts.edges.authenticator
        return try await authenticator.principal(forHeader: "Bearer \(token)")
    }
}
