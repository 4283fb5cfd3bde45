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

@Suite("Staff actions on a parcel: reassign, extend the deadline, remove")
struct ParcelActionTests {
    static func parcel(_ w: TestWorld, _ id: String) async throws -> ParcelRecord {
        try #require(try await w.parts.store.read { s in try await s.parcel(id) })
    }

    static func types(_ w: TestWorld, _ id: String) async throws -> [String] {
        try await w.parts.store.read { s in try await s.auditEvents(parcel: id) }.map(\.type)
    }

    static func pickup(_ c: any TestClientProtocol, _ w: TestWorld, _ pin: String) async throws -> HTTPResult {
        try await c.call(.post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(pin)"}"#)
    }

    @Test(
        "reassign in the portal: new codes to the new recipient, the old PIN refused, audited; bad input changes nothing",
        arguments: Backend.available)
    func reassign(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let id = try await w.deposit("RA-1", recipient: 0)
            let old = try w.newestCode(id)
            #expect(old.recipient == m.recipients[0].id)
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let keys = w.parts.keys
            try await w.test { c in
                // Refused input: the parcel's page again with the reason; nothing changes.
                let before = try await Self.parcel(w, id)
                let eventsBefore = try await Self.types(w, id)
                for (fields, status, message) in [
                    ("", 400, "one of the two"),
                    ("email=nobody%40example.org", 400, "No recipient at this parcel&#39;s site"),
                    ("email=a%40b.c&externalId=X", 400, "one of the two"),
                    ("email=resident1%40example.org", 400, "already this recipient"),
                    ("externalId=\(String(repeating: "x", count: 200))", 400, "too long"),
                ] {
                    let r = try await c.form("/admin/parcels/\(id)/reassign", boss, keys: keys, fields)
                    let html = String(decoding: r.data, as: UTF8.self)
                    #expect(r.status == status, "\(fields): \(r.status)")
                    #expect(
                        html.contains(message) || html.contains(message.replacingOccurrences(of: "&#39;", with: "'")),
                        "\(fields)")
                    #expect(html.contains("<h2 id=\"timeline-heading\">"), "the parcel's page again")
                }
                #expect(try await Self.parcel(w, id) == before)
                #expect(try await Self.types(w, id) == eventsBefore)

                let done = try await c.form(
                    "/admin/parcels/\(id)/reassign", boss, keys: keys, "email=Resident2%40example.org")
                #expect(done.status == 303 && done.headers[.location] == "/admin/parcels/\(id)?done=reassigned")
                try await w.settle()
                let after = try await Self.parcel(w, id)
                #expect(after.recipientId == m.recipients[1].id && after.state == .deposited)
                let new = try w.newestCode(id)
                #expect(new.recipient == m.recipients[1].id && new.pin != old.pin)
                let types = try await Self.types(w, id)
                let tail = Array(types.suffix(2))
                #expect(tail == ["parcel.reassigned", "credential.issued"])
                let event = try #require(
                    try await w.parts.store.read { s in try await s.auditEvents(parcel: id) }.last {
                        $0.type == "parcel.reassigned"
                    })
                #expect(event.detailMap["fromRecipientId"] == m.recipients[0].id)
                #expect(event.detailMap["toRecipientId"] == m.recipients[1].id)
                #expect(event.detailMap["codesReissued"] == "true" && event.actorKind == "admin")
                let page = try await c.page("/admin/parcels/\(id)?done=reassigned", boss)
                #expect(page.html.contains("resident2@example.org") && page.html.contains("given to the new recipient"))

                // The old PIN is dead; the new one opens the door; then no reassigning.
                let refused = try await Self.pickup(c, w, old.pin)
                #expect(refused.status == 403 && refused.body.str("error") == "invalid_code")
                let opened = try await Self.pickup(c, w, new.pin)
                #expect(opened.status == 200 && opened.body.str("parcelId") == id)
                let late = try await c.form(
                    "/admin/parcels/\(id)/reassign", boss, keys: keys, "email=resident3%40example.org")
                #expect(late.status == 409)
                #expect(
                    String(decoding: late.data, as: UTF8.self).contains("Cannot reassign a parcel that is picked_up"))
                #expect(try await Self.parcel(w, id).recipientId == m.recipients[1].id)
            }
        }
    }

    @Test(
        "reassign needs a fresh code in the portal, and works through the API for an announced parcel",
        arguments: Backend.available)
    func reassignStepUpAndAPI(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let id = try await w.deposit("RA-2", recipient: 0)
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            w.clock.advance(6 * 60)
            try await w.test { c in
                let stale = try await c.form(
                    "/admin/parcels/\(id)/reassign", boss, keys: w.parts.keys, "email=resident2%40example.org")
                #expect(stale.status == 403 && String(decoding: stale.data, as: UTF8.self).contains("Code needed"))
                let page = try await c.page("/admin/parcels/\(id)", boss)
                #expect(page.html.contains("id=\"code-reassign\""))
                #expect(try await Self.parcel(w, id).recipientId == m.recipients[0].id)
                let code = boss.otp.code(at: w.clock.now)
                let fresh = try await c.form(
                    "/admin/parcels/\(id)/reassign", boss, keys: w.parts.keys,
                    "email=resident2%40example.org&code=\(code)")
                #expect(fresh.status == 303)
                #expect(try await Self.parcel(w, id).recipientId == m.recipients[1].id)

                // The API: an announced parcel changes hands without codes; bad bodies are refused.
                let announced = try await c.call(
                    .post, "/api/v1/parcels", token: m.carrierToken,
                    json:
                        #"{"trackingNumber":"RA-3","recipientId":"\#(m.recipients[0].id)","unitId":"\#(w.unit)","size":"S"}"#
                )
                #expect(announced.status == 201)
                let aid = try #require(announced.body.str("id"))
                let moved = try await c.call(
                    .post, "/api/v1/parcels/\(aid)/reassign", token: m.adminToken,
                    json: #"{"recipientId":"\#(m.recipients[2].id)"}"#)
                #expect(moved.status == 200 && moved.body.str("recipientId") == m.recipients[2].id)
                let same = try await c.call(
                    .post, "/api/v1/parcels/\(aid)/reassign", token: m.adminToken,
                    json: #"{"recipientId":"\#(m.recipients[2].id)"}"#)
                #expect(same.status == 400 && same.body.str("error") == "invalid_request")
                let unknown = try await c.call(
                    .post, "/api/v1/parcels/\(aid)/reassign", token: m.adminToken,
                    json: #"{"recipientId":"\#(UUID().uuidString)"}"#)
                #expect(unknown.status == 404)
                let courier = try await c.call(
                    .post, "/api/v1/parcels/\(aid)/reassign", token: m.courierToken,
                    json: #"{"recipientId":"\#(m.recipients[1].id)"}"#)
                #expect(courier.status == 403)
                let types = try await Self.types(w, aid)
                #expect(types.filter { $0 == "parcel.reassigned" }.count == 1 && !types.contains("credential.issued"))
            }
        }
    }

    @Test(
        "extend within the site's limit moves the deadline and the PIN's; beyond it nothing changes; remove an expired parcel",
        arguments: Backend.available)
    func extendAndRemove(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let id = try await w.deposit("EX-1")
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let keys = w.parts.keys
            let deadline = try #require(try await Self.parcel(w, id).expiresAt)
            @Sendable func credentialDeadlines() async throws -> [Int64] {
                try await w.parts.store.read { s in try await s.livePickupCredentials(parcel: id) }.map(\.expiresAt)
            }
            try await w.test { c in
                let page = try await c.page("/admin/parcels/\(id)", boss)
                #expect(page.html.contains("action=\"/admin/parcels/\(id)/extend\""))
                #expect(!page.html.contains("action=\"/admin/parcels/\(id)/remove\""), "only an expired parcel")

                let done = try await c.form("/admin/parcels/\(id)/extend", boss, keys: keys, "days=2")
                #expect(done.status == 303 && done.headers[.location] == "/admin/parcels/\(id)?done=extended")
                let extended = deadline + 2 * Milliseconds.day
                #expect(try await Self.parcel(w, id).expiresAt == extended)
                #expect(try await credentialDeadlines() == [extended])
                let event = try #require(
                    try await w.parts.store.read { s in try await s.auditEvents(parcel: id) }.last {
                        $0.type == "parcel.deadline_extended"
                    })
                #expect(event.detailMap["to"] != nil && event.detailMap["from"] != event.detailMap["to"])

                // Beyond the site's limit (seven days from now at most), or not a number of days: nothing changes.
                let before = try await Self.parcel(w, id)
                let count = try await Self.types(w, id).count
                for (fields, status, message) in [
                    ("days=6", 409, "later than the site allows"), ("days=abc", 400, "whole number"),
                    ("days=0", 400, "whole number"), ("days=31", 400, "whole number"), ("", 400, "whole number"),
                ] {
                    let r = try await c.form("/admin/parcels/\(id)/extend", boss, keys: keys, fields)
                    #expect(r.status == status, "\(fields): \(r.status)")
                    #expect(String(decoding: r.data, as: UTF8.self).contains(message), "\(fields)")
                }
                #expect(try await Self.parcel(w, id) == before)
                #expect(try await Self.types(w, id).count == count)
                #expect(try await credentialDeadlines() == [extended])

                // The API answers the same way.
                let beyond = try await c.call(
                    .post, "/api/v1/parcels/\(id)/extend", token: m.adminToken, json: #"{"days":6}"#)
                #expect(beyond.status == 409 && beyond.body.str("error") == "beyond_site_limit")
                let api = try await c.call(
                    .post, "/api/v1/parcels/\(id)/extend", token: m.adminToken, json: #"{"days":1}"#)
                #expect(api.status == 200 && api.body.str("state") == "deposited")
                #expect(try await Self.parcel(w, id).expiresAt == extended + Milliseconds.day)

                // Past the deadline the parcel expires; then only removal is offered, and it opens the door.
                w.clock.advance(11 * 86_400)
                try await w.desk.expireDue()
                #expect(try await Self.parcel(w, id).state == .expired)
                // The session ended long ago: sign in again.
                var boss = boss
                boss.session = try await w.signIn(boss)
                let late = try await c.form("/admin/parcels/\(id)/extend", boss, keys: keys, "days=1")
                #expect(late.status == 409)
                let expiredPage = try await c.page("/admin/parcels/\(id)", boss)
                #expect(expiredPage.html.contains("action=\"/admin/parcels/\(id)/remove\""))
                #expect(!expiredPage.html.contains("action=\"/admin/parcels/\(id)/extend\""))
                let removed = try await c.form("/admin/parcels/\(id)/remove", boss, keys: keys, "")
                #expect(removed.status == 303 && removed.headers[.location] == "/admin/parcels/\(id)?done=removed")
                #expect(try await Self.parcel(w, id).state == .removed)
                #expect(try await Self.types(w, id).contains("parcel.removed"))
                let again = try await c.form("/admin/parcels/\(id)/remove", boss, keys: keys, "")
                #expect(again.status == 409)
            }
        }
    }
}
