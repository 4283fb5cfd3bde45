import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

extension TestWorld {
    var recipients: RecipientDesk { parts.recipients }

    /// An API credential of an administrator scoped to `sites`.
    func adminToken(sites: [String]) async throws -> String {
        let token = SecretGenerator.credential(prefix: "cby_admin_")
        try await parts.store.write { s in
            try await s.insertCredential(
                CredentialRecord(
                    id: EntityID.make(), kind: "admin", tokenHash: parts.keys.credentialHash(token),
                    organizationId: manifest.organizationId, siteIds: sites.joined(separator: ","),
                    label: "site administrator", createdAt: clock.now.millisecondsSince1970))
        }
        return token
    }

    /// Every recipient of an organization, erased ones left out.
    func recipientRows(_ org: String? = nil) async throws -> [RecipientRecord] {
        try await parts.store.read { s in try await s.recipients(organization: org ?? manifest.organizationId) }
    }

    /// A second organization in the same database, with its own site, units, credentials and residents.
    func otherOrganization() async throws -> DemoManifest {
        try await DemoSeed(parts: parts).seed(
            server: "http://test", unitCount: 1, organizationName: "Other Group", siteName: "Elsewhere",
            superAdminEmail: "admin@other.example")
    }
}

@Suite("Recipients: create, read, change, find, deactivate")
struct RecipientTests {
    static func createBody(
        _ site: String, name: String = "Ana García", email: String? = "ana.garcia@example.org",
        phone: String? = "+1 (555) 010-0199", apartment: String? = "4B", externalId: String? = "T-10442",
        language: String = "es"
    ) -> String {
        var fields = [#""siteId":"\#(site)""#, #""name":"\#(name)""#, #""preferredLanguage":"\#(language)""#]
        if let email { fields.append(#""email":"\#(email)""#) }
        if let phone { fields.append(#""phone":"\#(phone)""#) }
        if let apartment { fields.append(#""apartment":"\#(apartment)""#) }
        if let externalId { fields.append(#""externalId":"\#(externalId)""#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    @Test("create, get, patch and deactivate through the API, each audited with ids only", arguments: Backend.available)
    func lifecycle(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = w.manifest.adminToken
            try await w.test { c in
                let created = try await c.call(.post, "/api/v1/recipients", token: admin, json: Self.createBody(w.site))
                #expect(created.status == 201)
                let id = try #require(created.body.str("id"))
                #expect(created.headers[.location] == "/api/v1/recipients/\(id)")
                #expect(created.body.str("phone") == "+15550100199")
                #expect(created.body.str("preferredLanguage") == "es")
                #expect(created.body["active"] as? Bool == true)
                #expect(created.body["deactivatedAt"] is NSNull)

                let got = try await c.call(.get, "/api/v1/recipients/\(id)", token: admin)
                #expect(got.status == 200)
                #expect(got.body.str("name") == "Ana García")
                #expect(got.body.str("email") == "ana.garcia@example.org")
                #expect(got.body.str("externalId") == "T-10442")
                #expect(got.body.str("apartment") == "4B")

                let patched = try await c.call(
                    .patch, "/api/v1/recipients/\(id)", token: admin,
                    json: #"{"phone":null,"apartment":"12C","needsAccessible":true,"email":"Ana@Example.org"}"#)
                #expect(patched.status == 200)
                #expect(patched.body["phone"] is NSNull)
                #expect(patched.body.str("apartment") == "12C")
                #expect(patched.body.str("email") == "ana@example.org")
                #expect(patched.body["needsAccessible"] as? Bool == true)
                #expect(patched.body.str("name") == "Ana García", "fields left out stay")

                let same = try await c.call(
                    .patch, "/api/v1/recipients/\(id)", token: admin, json: #"{"apartment":"12C"}"#)
                #expect(same.status == 200)

                let off = try await c.call(.post, "/api/v1/recipients/\(id)/deactivate", token: admin)
                #expect(off.status == 200)
                #expect(off.body["active"] as? Bool == false)
                #expect(off.body.str("deactivatedAt") != nil)
                let again = try await c.call(.post, "/api/v1/recipients/\(id)/deactivate", token: admin)
                #expect(again.status == 200)
            }
            let types = try await w.auditTypes().filter { $0.hasPrefix("recipient.") }
            #expect(types == ["recipient.created", "recipient.updated", "recipient.deactivated"])
            let events = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
            for e in events where e.type.hasPrefix("recipient.") {
                let text = String(decoding: e.canonical, as: UTF8.self) + e.detail
                for secret in ["Ana", "García", "example.org", "+1555", "0100199", "T-10442", "12C"] {
                    #expect(!text.contains(secret), "\(e.type) holds \(secret)")
                }
            }
            let updated = try #require(events.first { $0.type == "recipient.updated" })
            #expect(updated.detail.contains("email,phone,apartment,needsAccessible"))
        }
    }

    @Test(
        "name, email, phone and external id are sealed at rest; email and external id only as keyed hashes",
        arguments: Backend.available)
    func sealedAtRest(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let p = try principal(w, .superAdmin)
            let r = try await w.recipients.create(
                p,
                RecipientDraft(
                    siteId: w.site, name: "Zebulon Quartermaine", email: "zebulon.q@example.org",
                    phone: "+15550104477", apartment: "7F", externalId: "PMS-778899"))
            let raw = try await w.parts.store.read { s in try await s.recipientRowBytes(r.id) }
            #expect(raw.count == 4)
            for plaintext in [
                "Zebulon", "Quartermaine", "zebulon.q@example.org", "zebulon", "15550104477", "PMS-778899",
            ] {
                for column in raw {
                    #expect(column.range(of: Data(plaintext.utf8)) == nil, "\(plaintext) is in a stored column")
                }
            }
            let record = try #require(try await w.parts.store.read { s in try await s.recipient(r.id) })
            #expect(record.emailHash == w.recipients.emailHash("zebulon.q@example.org"))
            #expect(record.externalIdHash == w.recipients.externalIdHash(organization: r.organizationId, "PMS-778899"))
            #expect(record.externalIdHash != w.recipients.externalIdHash(organization: EntityID.make(), "PMS-778899"))
            #expect(record.apartment == "7F", "the apartment is plain text by design: staff search it")
        }
    }

    @Test(
        "each search key finds exactly its recipient, never one of another organization or outside the caller's sites",
        arguments: Backend.available)
    func searchIsScoped(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let (siteB, _) = try await w.otherSite()
            let other = try await w.otherOrganization()
            let boss = try principal(w, .superAdmin)
            var everywhere = boss
            everywhere.siteIds.insert(try #require(SiteID(uuidString: siteB)))
            let a = try await w.recipients.create(
                everywhere,
                RecipientDraft(siteId: w.site, name: "A", email: "same@example.org", apartment: "1A", externalId: "X-1")
            )
            let b = try await w.recipients.create(
                everywhere,
                RecipientDraft(siteId: siteB, name: "B", email: "bee@example.org", apartment: "1A", externalId: "X-2"))
            let otherBoss = Principal(
                role: .superAdmin, credentialId: .make(),
                organizationId: try #require(OrganizationID(uuidString: other.organizationId)),
                siteIds: [try #require(SiteID(uuidString: other.siteId))])
            let c = try await w.recipients.create(
                otherBoss,
                RecipientDraft(
                    siteId: other.siteId, name: "C", email: "same@example.org", apartment: "1A", externalId: "X-1"))
            let siteAOnly = try await w.adminToken(sites: [w.site])
            let orgWide = w.manifest.adminToken

            try await w.test { client in
                func ids(_ query: String, _ token: String) async throws -> [String] {
                    let r = try await client.call(.get, "/api/v1/recipients?\(query)", token: token)
                    #expect(r.status == 200, "\(query): \(r.status) \(String(decoding: r.data, as: UTF8.self))")
                    return (r.body["recipients"] as? [[String: Any]] ?? []).compactMap { $0.str("id") }
                }
                #expect(try await ids("email=SAME@example.org", orgWide) == [a.id])
                #expect(try await ids("externalId=X-1", orgWide) == [a.id])
                #expect(try await ids("externalId=X-2", orgWide) == [b.id])
                #expect(try await ids("apartment=1a", orgWide).sorted() == [a.id, b.id].sorted())
                #expect(try await ids("apartment=1A&siteId=\(siteB)", orgWide) == [b.id])
                #expect(try await ids("email=bee@example.org", siteAOnly) == [])
                #expect(try await ids("externalId=X-2", siteAOnly) == [])
                #expect(try await ids("apartment=1A", siteAOnly) == [a.id])
                #expect(try await ids("email=nobody@example.org", orgWide) == [])
                #expect(!(try await ids("limit=200", orgWide)).contains(c.id))
                let outside = try await client.call(.get, "/api/v1/recipients/\(b.id)", token: siteAOnly)
                #expect(outside.status == 404)
                let foreign = try await client.call(.get, "/api/v1/recipients/\(c.id)", token: orgWide)
                #expect(foreign.status == 404)
                let foreignSite = try await client.call(
                    .get, "/api/v1/recipients?siteId=\(other.siteId)", token: orgWide)
                #expect(foreignSite.status == 404)
                let otherSite = try await client.call(.get, "/api/v1/recipients?siteId=\(siteB)", token: siteAOnly)
                #expect(otherSite.status == 404)
                let patchOutside = try await client.call(
                    .patch, "/api/v1/recipients/\(b.id)", token: siteAOnly, json: #"{"name":"Mallory"}"#)
                #expect(patchOutside.status == 404)
                let moveOutside = try await client.call(
                    .patch, "/api/v1/recipients/\(a.id)", token: siteAOnly, json: #"{"siteId":"\#(siteB)"}"#)
                #expect(moveOutside.status == 404)
                let offOutside = try await client.call(.post, "/api/v1/recipients/\(b.id)/deactivate", token: siteAOnly)
                #expect(offOutside.status == 404)
                let createOutside = try await client.call(
                    .post, "/api/v1/recipients", token: siteAOnly,
                    json: Self.createBody(siteB, email: "n@example.org", externalId: nil))
                #expect(createOutside.status == 404)
            }
            #expect(try await w.recipients.get(everywhere, id: b.id).active)
        }
    }

    @Test("paging walks every recipient once", arguments: Backend.available)
    func paging(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let p = try principal(w, .superAdmin)
            for i in 0..<5 {
                _ = try await w.recipients.create(p, RecipientDraft(siteId: w.site, name: "P\(i)", apartment: "9Z"))
            }
            try await w.test { c in
                var seen: [String] = []
                var cursor: String? = nil
                var pages = 0
                repeat {
                    let q = "apartment=9Z&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let r = try await c.call(.get, "/api/v1/recipients?\(q)", token: w.manifest.adminToken)
                    #expect(r.status == 200)
                    seen += (r.body["recipients"] as? [[String: Any]] ?? []).compactMap { $0.str("id") }
                    cursor = r.body.str("nextCursor")
                    pages += 1
                } while cursor != nil && pages < 10
                #expect(pages == 3)
                #expect(seen.count == 5 && Set(seen).count == 5)
                #expect(seen == seen.sorted())
            }
        }
    }

    @Test(
        "an email and an external id belong to one recipient of an organization, deactivated ones included",
        arguments: Backend.available)
    func uniqueness(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = w.manifest.adminToken
            let other = try await w.otherOrganization()
            try await w.test { c in
                let first = try await c.call(.post, "/api/v1/recipients", token: admin, json: Self.createBody(w.site))
                #expect(first.status == 201)
                let id = try #require(first.body.str("id"))
                let sameEmail = try await c.call(
                    .post, "/api/v1/recipients", token: admin, json: Self.createBody(w.site, externalId: "T-2"))
                #expect(sameEmail.status == 409)
                #expect(sameEmail.body.str("error") == "recipient_exists")
                let sameExternal = try await c.call(
                    .post, "/api/v1/recipients", token: admin, json: Self.createBody(w.site, email: "x@example.org"))
                #expect(sameExternal.status == 409)
                // The demo's first resident has resident1@example.org.
                let takeSeeded = try await c.call(
                    .patch, "/api/v1/recipients/\(id)", token: admin, json: #"{"email":"resident1@example.org"}"#)
                #expect(takeSeeded.status == 409)
                _ = try await c.call(.post, "/api/v1/recipients/\(id)/deactivate", token: admin)
                let afterDeactivation = try await c.call(
                    .post, "/api/v1/recipients", token: admin, json: Self.createBody(w.site))
                #expect(afterDeactivation.status == 409, "a deactivated recipient keeps its email and external id")
                let otherOrg = try await c.call(
                    .post, "/api/v1/recipients", token: other.adminToken, json: Self.createBody(other.siteId))
                #expect(otherOrg.status == 201, "another organization may hold the same email and external id")
            }
            #expect(try await w.recipientRows().count == 4)
        }
    }

    @Test(
        "a deactivated recipient gets no new parcels (409) while a parcel already deposited can still be picked up",
        arguments: Backend.available)
    func deactivatedRecipientKeepsLivePickups(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let recipient = m.recipients[0].id
            try await w.test { c in
                let drop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: ParcelFlowTests.dropoffBody("LIVE1", recipient))
                #expect(drop.status == 201)
                let announced = try await c.call(
                    .post, "/api/v1/parcels", token: m.carrierToken,
                    json: #"{"unitId":"\#(w.unit)","trackingNumber":"ANN1","recipientId":"\#(recipient)","size":"S"}"#)
                #expect(announced.status == 201)
            }
            try await w.settle()
            let pin = try #require(try w.notifications().first { $0["kind"] == "parcel.deposited" }?["pin"])
            _ = try await w.recipients.deactivate(try principal(w, .admin), id: recipient)
            let before = try await w.counts()
            try await w.test { c in
                let drop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: ParcelFlowTests.dropoffBody("NEW1", recipient))
                #expect(drop.status == 409)
                #expect(drop.body.str("error") == "recipient_deactivated")
                let announce = try await c.call(
                    .post, "/api/v1/parcels", token: m.carrierToken,
                    json: #"{"unitId":"\#(w.unit)","trackingNumber":"NEW2","recipientId":"\#(recipient)","size":"S"}"#)
                #expect(announce.status == 409)
                #expect(announce.body.str("error") == "recipient_deactivated")
                let announcedDrop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: ParcelFlowTests.dropoffBody("ANN1", recipient))
                #expect(announcedDrop.status == 409, "an announced parcel is not dropped off for them either")
            }
            #expect(try await w.counts() == before)
            try await w.test { c in
                let pickup = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(pin)"}"#)
                #expect(pickup.status == 200, "the live pickup stays valid")
            }
        }
    }

    @Test(
        "resident sign-in picks an active recipient over a deactivated one with the same email elsewhere",
        arguments: Backend.available)
    func signInPrefersActive(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let other = try await w.otherOrganization()
            // resident1@example.org exists in both organizations; the first one's is deactivated.
            _ = try await w.recipients.deactivate(try principal(w, .admin), id: w.manifest.recipients[0].id)
            let token = try await w.residentSignIn()
            let session = try #require(try await w.parts.residents.session(token: token))
            #expect(session.recipient.organizationId == other.organizationId)
            #expect(session.recipient.deactivatedAt == nil)
        }
    }

    @Test("a deactivated resident with no active twin can still sign in to see parcels left for them")
    func deactivatedResidentStillSignsIn() async throws {
        try await TestWorld.with(.sqlite) { w in
            _ = try await w.recipients.deactivate(try principal(w, .admin), id: w.manifest.recipients[0].id)
            let token = try await w.residentSignIn()
            let session = try #require(try await w.parts.residents.session(token: token))
            #expect(session.recipient.id == w.manifest.recipients[0].id)
        }
    }

    @Test("the desk finds by email, external id and apartment, as the CLI and SCIM call it")
    func deskFinders() async throws {
        try await TestWorld.with(.sqlite) { w in
            let p = try principal(w, .superAdmin)
            let r = try await w.recipients.create(
                p,
                RecipientDraft(
                    siteId: w.site, name: "Dee", email: "dee@example.org", apartment: "Suite 200", externalId: "E-9"))
            #expect(try await w.recipients.find(p, email: " DEE@example.org ")?.id == r.id)
            #expect(try await w.recipients.find(p, externalId: "E-9")?.id == r.id)
            #expect(try await w.recipients.find(p, externalId: "e-9") == nil, "external ids keep their case")
            #expect(try await w.recipients.find(p, apartment: "suite  200").map(\.id) == [r.id])
            let back = try await w.recipients.reactivate(p, id: try await w.recipients.deactivate(p, id: r.id).id)
            #expect(back.active)
            await #expect(throws: DomainError.self) { try await w.recipients.get(p, id: EntityID.make()) }
        }
    }

    @Test("bad input to every recipient route is a clear 4xx and changes nothing", arguments: Backend.available)
    func badInput(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = w.manifest.adminToken
            let site = w.site
            let existing = w.manifest.recipients[0].id
            let long = String(repeating: "x", count: 201)
            let creates: [(String, String, Int)] = [
                ("bad email", #"{"siteId":"\#(site)","name":"A","email":"not-an-email"}"#, 400),
                ("bad phone", #"{"siteId":"\#(site)","name":"A","phone":"555-0100"}"#, 400),
                ("phone with letters", #"{"siteId":"\#(site)","name":"A","phone":"+1555CALLNOW"}"#, 400),
                ("unknown site", #"{"siteId":"\#(EntityID.make())","name":"A"}"#, 404),
                ("site not a UUID", #"{"siteId":"riverside","name":"A"}"#, 400),
                ("wrong language", #"{"siteId":"\#(site)","name":"A","preferredLanguage":"fr"}"#, 400),
                ("unknown field", #"{"siteId":"\#(site)","name":"A","role":"admin"}"#, 400),
                ("name too long", #"{"siteId":"\#(site)","name":"\#(long)"}"#, 400),
                ("empty name", #"{"siteId":"\#(site)","name":"  "}"#, 400),
                ("missing name", #"{"siteId":"\#(site)"}"#, 400),
                ("apartment too long", #"{"siteId":"\#(site)","name":"A","apartment":"\#(long.prefix(33))"}"#, 400),
                ("external id too long", #"{"siteId":"\#(site)","name":"A","externalId":"\#(long.prefix(129))"}"#, 400),
                ("control character", #"{"siteId":"\#(site)","name":"A\u0007"}"#, 400),
                ("wrong type", #"{"siteId":"\#(site)","name":"A","needsAccessible":"yes"}"#, 400),
                ("not JSON", "name=A", 400),
                ("array", "[]", 400),
            ]
            let patches: [(String, String, String, Int)] = [
                ("bad email", existing, #"{"email":"a@b"}"#, 400),
                ("bad phone", existing, #"{"phone":"+0123"}"#, 400),
                ("wrong language", existing, #"{"preferredLanguage":"ES"}"#, 400),
                ("unknown field", existing, #"{"active":false}"#, 400),
                ("name too long", existing, #"{"name":"\#(long)"}"#, 400),
                ("name null", existing, #"{"name":null}"#, 400),
                ("language null", existing, #"{"preferredLanguage":null}"#, 400),
                ("unknown site", existing, #"{"siteId":"\#(EntityID.make())"}"#, 404),
                ("taken email", existing, #"{"email":"resident2@example.org"}"#, 409),
                ("unknown recipient", EntityID.make(), #"{"name":"B"}"#, 404),
                ("not a UUID", "resident-1", #"{"name":"B"}"#, 404),
                ("empty body", existing, "", 400),
            ]
            let searches: [(String, String, Int)] = [
                ("limit zero", "limit=0", 400),
                ("limit too big", "limit=201", 400),
                ("limit not a number", "limit=ten", 400),
                ("unknown parameter", "name=Ana", 400),
                ("bad cursor", "cursor=zzz", 400),
                ("email too long", "email=\(String(repeating: "e", count: 250))@x.org", 400),
                ("apartment too long", "apartment=\(long.prefix(33))", 400),
                ("site not a UUID", "siteId=riverside", 400),
                ("unknown site", "siteId=\(EntityID.make())", 404),
            ]
            let before = try await (w.recipientRows(), w.counts().audit)
            try await w.test { c in
                for (name, body, status) in creates {
                    let r = try await c.call(.post, "/api/v1/recipients", token: admin, json: body)
                    #expect(
                        r.status == status, "create, \(name): \(r.status) \(String(decoding: r.data, as: UTF8.self))")
                    #expect(r.body.str("error") != nil && r.body.str("message") != nil, "create, \(name)")
                }
                for (name, id, body, status) in patches {
                    let r = try await c.call(
                        .patch, "/api/v1/recipients/\(id)", token: admin, json: body.isEmpty ? nil : body)
                    #expect(
                        r.status == status, "patch, \(name): \(r.status) \(String(decoding: r.data, as: UTF8.self))")
                    #expect(r.body.str("error") != nil, "patch, \(name)")
                }
                for (name, query, status) in searches {
                    let r = try await c.call(.get, "/api/v1/recipients?\(query)", token: admin)
                    #expect(
                        r.status == status, "search, \(name): \(r.status) \(String(decoding: r.data, as: UTF8.self))")
                    #expect(r.body.str("error") != nil, "search, \(name)")
                }
                let impossible = try await c.call(.get, "/api/v1/recipients?email=nope", token: admin)
                #expect(impossible.status == 200, "a key no recipient can hold finds nothing")
                #expect((impossible.body["recipients"] as? [Any])?.isEmpty == true)
                let both = try await c.call(
                    .get, "/api/v1/recipients?email=resident1@example.org&apartment=1A", token: admin)
                #expect(both.status == 200 && (both.body["recipients"] as? [Any])?.isEmpty == true, "keys combine")
                for id in [EntityID.make(), "nope"] {
                    let get = try await c.call(.get, "/api/v1/recipients/\(id)", token: admin)
                    #expect(get.status == 404)
                    let off = try await c.call(.post, "/api/v1/recipients/\(id)/deactivate", token: admin)
                    #expect(off.status == 404)
                }
            }
            #expect(try await (w.recipientRows(), w.counts().audit) == before)
        }
    }
}
