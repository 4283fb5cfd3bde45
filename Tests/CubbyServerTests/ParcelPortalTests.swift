import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

extension TestWorld {
    /// A courier's drop-off for demo recipient `recipient`, deposited by the simulated unit; returns the parcel's id.
    func deposit(_ tracking: String, recipient: Int = 0) async throws -> String {
        let id = try await test { c in
            let r = try await c.call(
                .post, "/api/v1/units/\(unit)/dropoffs", token: manifest.courierToken,
                json: ParcelFlowTests.dropoffBody(tracking, manifest.recipients[recipient].id, "S"))
            #expect(r.status == 201, "drop-off \(tracking)")
            return try #require(r.body.str("parcelId"))
        }
        try await settle()
        return id
    }

    /// The PIN of the newest parcel-ready message about a parcel, and the recipient it went to.
    func newestCode(_ parcel: String) throws -> (pin: String, recipient: String) {
        let note = try #require(
            try notifications().last { $0["kind"] == "parcel.deposited" && $0["parcelId"] == parcel })
        return (try #require(note["pin"]), try #require(note["recipientId"]))
    }

    /// A staff member of another organization, enrolled and signed in.
    func foreignStaff(_ other: DemoManifest) async throws -> StaffMember {
        let password = "violet tram under lantern"
        let (account, link) = try await staff.createAccount(
            organization: other.organizationId, email: "boss@other.example", role: .superAdmin, sites: nil,
            actor: .system)
        let (_, otp) = try await staff.choosePassword(token: link, password: password, confirmation: password)
        let (_, codes) = try await staff.confirmAuthenticator(token: link, code: otp.code(at: clock.now))
        var member = StaffMember(account: account, otp: otp, recoveryCodes: codes, session: "", password: password)
        member.session = try await signIn(member)
        return member
    }

    var finder: ParcelFinder { ParcelFinder(desk: parts.desk, recipients: parts.recipients, log: parts.auditLog) }
}

extension TestClientProtocol {
    func page(_ path: String, _ m: StaffMember) async throws -> (status: Int, html: String) {
        let r = try await call(.get, path, cookie: "cubby_session=\(m.session)")
        return (r.status, String(decoding: r.data, as: UTF8.self))
    }

    func form(_ path: String, _ m: StaffMember, keys: LockerKeys, _ fields: String) async throws -> HTTPResult {
        let csrf = keys.formToken("s:" + m.session)
        return try await call(
            .post, path, json: "csrf=\(csrf)" + (fields.isEmpty ? "" : "&" + fields),
            contentType: "application/x-www-form-urlencoded", cookie: "cubby_session=\(m.session)")
    }
}

@Suite("Portal: parcel search, a parcel's timeline, and staff actions on it")
struct ParcelPortalTests {
    @Test(
        "search by each filter, keyset pages newest first, scoped to the staff member's sites and organization",
        arguments: Backend.available)
    func search(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let t1 = try await w.deposit("PS-1", recipient: 0)
            w.clock.advance(60)
            let t2 = try await w.deposit("PS-2", recipient: 1)
            w.clock.advance(60)
            let t3 = try await w.deposit("PS-3", recipient: 0)
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let p = try await w.session(boss).principal
            _ = try await w.parts.recipients.update(p, id: m.recipients[1].id, RecipientPatch(externalId: "EXT-7"))
            func ids(_ f: ParcelFilter) async throws -> [String] {
                try await w.finder.search(p, f, limit: 200).parcels.map(\.parcel.id)
            }
            #expect(try await ids(ParcelFilter()) == [t3, t2, t1], "newest first")
            #expect(try await ids(ParcelFilter(trackingNumber: "PS-2")) == [t2])
            #expect(try await ids(ParcelFilter(trackingNumber: "ps-2")).isEmpty, "tracking numbers are exact")
            #expect(try await ids(ParcelFilter(email: "resident1@example.org")) == [t3, t1])
            #expect(try await ids(ParcelFilter(email: " Resident1@Example.ORG ")) == [t3, t1])
            #expect(try await ids(ParcelFilter(email: "nobody@example.org")).isEmpty)
            #expect(try await ids(ParcelFilter(apartment: "101")) == [t3, t1])
            #expect(try await ids(ParcelFilter(externalId: "EXT-7")) == [t2])
            #expect(try await ids(ParcelFilter(email: "resident1@example.org", apartment: "102")).isEmpty)
            #expect(try await ids(ParcelFilter(unitId: w.unit)) == [t3, t2, t1])
            #expect(try await ids(ParcelFilter(unitId: m.units[1].id)).isEmpty)
            #expect(try await ids(ParcelFilter(state: .deposited)) == [t3, t2, t1])
            #expect(try await ids(ParcelFilter(state: .pickedUp)).isEmpty)
            let now = w.clock.now.millisecondsSince1970
            #expect(try await ids(ParcelFilter(from: now - 90_000)) == [t3, t2])
            #expect(try await ids(ParcelFilter(before: now - 90_000)) == [t1])

            // Keyset pages of one: each parcel once, in order, and the last page says so.
            var paged: [String] = []
            var cursor: String? = nil
            repeat {
                let page = try await w.finder.search(p, ParcelFilter(), cursor: cursor, limit: 1)
                paged += page.parcels.map(\.parcel.id)
                cursor = page.nextCursor
            } while cursor != nil && paged.count < 10
            #expect(paged == [t3, t2, t1])

            // Another site's administrator and another organization see none of them.
            let harbour = try await w.otherSite()
            let theirAdmin = try await w.staffMember("harbour@example.org", .admin, sites: [harbour.site])
            let other = try await w.otherOrganization()
            let foreign = try await w.foreignStaff(other)
            for member in [theirAdmin, foreign] {
                let q = try await w.session(member).principal
                #expect(try await w.finder.search(q, ParcelFilter(), limit: 200).parcels.isEmpty)
                #expect(try await w.finder.search(q, ParcelFilter(trackingNumber: "PS-1"), limit: 200).parcels.isEmpty)
            }

            try await w.test { c in
                let all = try await c.page("/admin/parcels", boss)
                #expect(all.status == 200 && all.html.contains("href=\"/admin/parcels\">Parcels</a>"))
                for t in [t1, t2, t3] { #expect(all.html.contains("href=\"/admin/parcels/\(t)\"")) }
                let one = try await c.page("/admin/parcels?tracking=PS-2&state=deposited&unit=\(w.unit)", boss)
                #expect(one.status == 200 && one.html.contains(">PS-2</a>") && !one.html.contains(">PS-1</a>"))
                let byMail = try await c.page("/admin/parcels?email=resident2%40example.org", boss)
                #expect(byMail.html.contains(">PS-2</a>") && !byMail.html.contains(">PS-3</a>"))
                #expect(!byMail.html.contains("resident2@example.org</td>"), "the table shows no email")
                // Days are the site's: the day the parcels came, from and to, holds all three; the day before none.
                let zone = try #require(try await w.parts.store.read { s in try await s.site(w.site) }?.timeZone)
                let days = DateFormatter()
                days.locale = Locale(identifier: "en_US_POSIX")
                days.timeZone = TimeZone(identifier: zone)
                days.dateFormat = "yyyy-MM-dd"
                let today = days.string(from: w.clock.now.addingTimeInterval(-60))
                let before = days.string(from: w.clock.now.addingTimeInterval(-86_400 * 2))
                let dated = try await c.page("/admin/parcels?from=\(today)&to=\(today)&apartment=101", boss)
                #expect(dated.html.contains(">PS-1</a>") && dated.html.contains(">PS-3</a>"))
                #expect(!dated.html.contains(">PS-2</a>"), "apartment 101 is the first resident's")
                let earlier = try await c.page("/admin/parcels?to=\(before)", boss)
                #expect(earlier.status == 200 && earlier.html.contains("No parcel matches."))
                let paged = try await c.page("/admin/parcels?tracking=PS-1", boss)
                #expect(!paged.html.contains("Older parcels"))

                // Bad input: the page again with the reason, 400.
                for (query, message) in [
                    ("state=lost", "Choose a state from the list."),
                    ("from=2026-13-01", "“From” must be a date"), ("to=yesterday", "“To” must be a date"),
                    ("from=2026-05-02&to=2026-05-01", "must not be after"),
                    ("unit=\(other.units[0].id)", "Choose a unit from the list."),
                    ("unit=lobby", "Choose a unit from the list."), ("email=bob", "whole email address"),
                    ("tracking=\(String(repeating: "A", count: 65))", "1 to 64"),
                    ("cursor=garbage", "start the search again"),
                ] {
                    let r = try await c.page("/admin/parcels?\(query)", boss)
                    #expect(r.status == 400, "\(query)")
                    #expect(r.html.contains(message), "\(query)")
                    #expect(r.html.contains("role=\"alert\""), "\(query)")
                }

                // Out of scope: nothing listed, and the parcel's pages do not exist.
                let theirs = try await c.page("/admin/parcels", theirAdmin)
                #expect(theirs.status == 200 && !theirs.html.contains("/admin/parcels/\(t1)"))
                for member in [theirAdmin, foreign] {
                    #expect(try await c.page("/admin/parcels/\(t1)", member).status == 404)
                    let events = try await w.parts.store.read { s in try await s.auditEvents(parcel: t1) }
                    #expect(try await c.page("/admin/parcels/\(t1)/events/\(events[0].id)/proof", member).status == 404)
                    let extend = try await c.form("/admin/parcels/\(t1)/extend", member, keys: w.parts.keys, "days=1")
                    #expect(extend.status == 404)
                }
                #expect(try await c.page("/admin/parcels/\(UUID().uuidString.lowercased())", boss).status == 404)
                #expect(try await c.page("/admin/parcels/not-an-id", boss).status == 404)
            }
        }
    }

    @Test(
        "a parcel's page: every event in the site's time zone with actor and door, its stills, and proofs that verify",
        arguments: Backend.available)
    func timeline(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            try await w.parts.store.write { s in
                try await s.execute("UPDATE sites SET time_zone = 'Asia/Tokyo' WHERE id = '\(w.site)'")
            }
            let id = try await w.deposit("TL-1")
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            // A still from the unit, named by an event of this parcel, and one that no event of it names.
            let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: 7, count: 60) + [0xFF, 0xD9])
            let sha = Hex.sha256(jpeg)
            let stray = Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 0xFF, 0xD9])
            let straySha = Hex.sha256(stray)
            try await w.parts.store.write { s in
                let unit = try #require(try await s.unit(w.unit))
                let parcel = try #require(try await s.parcel(id))
                try await s.insertEvidence(sha256: sha, unit: unit.id, contentType: "image/jpeg", bytes: jpeg, at: 1)
                try await s.insertEvidence(
                    sha256: straySha, unit: unit.id, contentType: "image/jpeg", bytes: stray, at: 1)
                try await w.desk.ledger.audit(
                    s, .doorOpened, actor: Actor(kind: .device, id: unit.id, role: "device"), unit: unit,
                    parcel: parcel,
                    detail: [EvidenceBundle.evidenceKey: sha, "deviceSeq": "1"])
            }
            let events = try await w.parts.store.read { s in try await s.auditEvents(parcel: id) }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "Asia/Tokyo")
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss zzz"
            let harbour = try await w.otherSite()
            let theirAdmin = try await w.staffMember("harbour@example.org", .admin, sites: [harbour.site])
            try await w.test { c in
                let page = try await c.page("/admin/parcels/\(id)", boss)
                #expect(page.status == 200)
                let html = page.html
                #expect(html.contains("Asia/Tokyo"))
                for e in events {
                    #expect(html.contains("<strong>\(e.type)</strong>"), "\(e.type)")
                    #expect(html.contains("/admin/parcels/\(id)/events/\(e.id)/proof"), "proof of \(e.type)")
                    #expect(html.contains(formatter.string(from: Date(millisecondsSince1970: e.occurredAt))))
                }
                #expect(html.contains("By courier ") && html.contains("By unit "))
                let compartmentId = try #require(try await ParcelActionTests.parcel(w, id).compartmentId)
                let label = try #require(
                    try await w.parts.store.read { s in try await s.compartment(compartmentId) }?.label)
                #expect(html.contains("door \(label)"))
                #expect(html.contains("resident1@example.org"), "staff see the recipient")
                #expect(html.contains("<img src=\"/admin/parcels/\(id)/stills/\(sha)\""))
                #expect(!html.contains("evidenceSha256"))

                let still = try await c.call(
                    .get, "/admin/parcels/\(id)/stills/\(sha)", cookie: "cubby_session=\(boss.session)")
                #expect(still.status == 200 && still.data == jpeg)
                #expect(still.headers[.contentType] == "image/jpeg")
                for path in [
                    "/admin/parcels/\(id)/stills/\(straySha)", "/admin/parcels/\(id)/stills/\(sha.uppercased())",
                    "/admin/parcels/\(id)/stills/../../dashboard",
                ] {
                    #expect(try await c.page(path, boss).status == 404, "\(path)")
                }
                #expect(try await c.page("/admin/parcels/\(id)/stills/\(sha)", theirAdmin).status == 404)

                // Each proof verifies against the signed checkpoint it names.
                for e in events {
                    let r = try await c.call(
                        .get, "/admin/parcels/\(id)/events/\(e.id)/proof", cookie: "cubby_session=\(boss.session)")
                    #expect(r.status == 200)
                    let body = r.body
                    let note = try #require(body.str("checkpoint"))
                    let lines = note.split(separator: "\n")
                    let size = try #require(UInt64(lines[1]))
                    let root = try #require(TreeHash(base64: String(lines[2])))
                    #expect(body["treeSize"] as? Int == Int(size))
                    let canonicalText = try #require(body.str("canonical"))
                    let canonical = try #require(Data(base64Encoded: canonicalText))
                    #expect(canonical == e.canonical)
                    let hashes = (body["proof"] as? [String] ?? []).compactMap { TreeHash(base64: $0) }
                    #expect(hashes.count == (body["proof"] as? [String])?.count)
                    let index = try #require(body["leafIndex"] as? Int)
                    let proof = InclusionProof(leafIndex: UInt64(index), treeSize: size, hashes: hashes)
                    #expect(throws: Never.self) { try proof.verify(leafHash: TreeHash.leaf(canonical), rootHash: root) }
                }
                let another = try await w.deposit("TL-2")
                let foreignEvent = try await w.parts.store.read { s in try await s.auditEvents(parcel: another) }[0]
                #expect(try await c.page("/admin/parcels/\(id)/events/\(foreignEvent.id)/proof", boss).status == 404)
                #expect(try await c.page("/admin/parcels/\(id)/events/nope/proof", boss).status == 404)
            }
        }
    }
}
