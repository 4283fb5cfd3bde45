import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Staff answering alerts and taking compartments out of service and back, over the API and the portal.
@Suite("Alerts and compartment service")
struct UnitServiceTests {
    static func alert(_ w: TestWorld, kind: String = "tamper") async throws -> String {
        let id = UUID().uuidString.lowercased()
        let unit = try #require(try await w.parts.store.read { s in try await s.unit(w.unit) })
        try await w.parts.store.write { s in
            try await s.insertAlert(
                AlertRecord(
                    id: id, organizationId: w.manifest.organizationId, siteId: unit.siteId, unitId: unit.id,
                    compartmentId: nil, kind: kind, detail: "tamper signal (pry) at \(unit.name)",
                    createdAt: w.clock.now.millisecondsSince1970))
        }
        return id
    }

    static func auditTypes(_ w: TestWorld) async throws -> [StoredAuditEvent] {
        try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
    }

    @Test(
        "an administrator acknowledges an alert once: it stays open, the list says who and when, staff webhooks hear of it",
        arguments: Backend.available)
    func acknowledgeAlerts(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let id = try await Self.alert(w)
            let admin = w.manifest.adminToken
            try await w.test { c in
                let sub = try await WebhookTests.subscribe(
                    c, admin, url: "http://127.0.0.1:9/hook", events: ["alert.acknowledged"])
                #expect(sub.status == 201)
                let subscription = try #require(sub.body.str("id"))
                #expect(
                    try await c.call(
                        .post, "/api/v1/alerts/\(id)/acknowledge", token: w.manifest.auditorToken, json: "{}"
                    ).status == 403)
                #expect(
                    try await c.call(
                        .post, "/api/v1/alerts/\(id)/acknowledge", token: admin, json: #"{"note":"a\u0007b"}"#
                    ).status == 400)
                let ack = try await c.call(
                    .post, "/api/v1/alerts/\(id)/acknowledge", token: admin, json: #"{"note":"on my way"}"#)
                #expect(ack.status == 200)
                #expect(ack.body.str("id") == id && ack.body.str("acknowledgedAt") != nil)
                let again = try await c.call(.post, "/api/v1/alerts/\(id)/acknowledge", token: admin, json: "{}")
                #expect(again.status == 409)
                let list = try await c.call(.get, "/api/v1/alerts", token: admin)
                let listed = try #require(
                    (list.body["alerts"] as? [[String: Any]])?.first { $0["id"] as? String == id })
                #expect(listed["acknowledgedAt"] is String)
                #expect(listed["acknowledgedBy"] is String)
                // Still open: it can be resolved, and a resolved alert cannot be acknowledged.
                #expect(try await c.call(.post, "/api/v1/alerts/\(id)/resolve", token: admin, json: "{}").status == 200)
                let late = try await Self.alert(w)
                _ = try await c.call(.post, "/api/v1/alerts/\(late)/resolve", token: admin, json: "{}")
                #expect(
                    try await c.call(.post, "/api/v1/alerts/\(late)/acknowledge", token: admin, json: "{}").status
                        == 409)
                let deliveries = try await w.parts.store.read { s in
                    try await s.deliveries(channel: "webhook", target: subscription)
                }
                #expect(deliveries.count == 1)
            }
            let acks = try await Self.auditTypes(w).filter { $0.type == "alert.acknowledged" }
            #expect(acks.count == 1)
            #expect(String(decoding: acks[0].canonical, as: UTF8.self).contains("on my way"))
        }
    }

    @Test(
        "an administrator resolves an alert once, with a note in the audit log; bad notes, auditors and strangers change nothing",
        arguments: Backend.available)
    func resolveAlerts(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let first = try await Self.alert(w)
            let second = try await Self.alert(w, kind: "mains_power")
            let admin = w.manifest.adminToken
            let auditor = w.manifest.auditorToken
            try await w.test { c in
                let open = try await c.call(.get, "/api/v1/alerts", token: admin)
                #expect(
                    Set((open.body["alerts"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }) == [
                        first, second,
                    ])

                // Refusals first: none of them resolves anything.
                #expect(
                    try await c.call(.post, "/api/v1/alerts/\(first)/resolve", token: auditor, json: "{}").status == 403
                )
                #expect(
                    try await c.call(.post, "/api/v1/alerts/\(UUID().uuidString)/resolve", token: admin, json: "{}")
                        .status == 404)
                let badNote = try await c.call(
                    .post, "/api/v1/alerts/\(first)/resolve", token: admin, json: #"{"note":"line one\nline two"}"#)
                #expect(badNote.status == 400)
                #expect(
                    try await c.call(.post, "/api/v1/alerts/\(first)/resolve", token: admin, json: #"{"note":5}"#)
                        .status == 400)
                #expect(
                    try await c.call(.post, "/api/v1/alerts/\(first)/resolve", token: admin, json: #"{"reason":"x"}"#)
                        .status == 400)
                let stillOpen = try await w.parts.store.read { s in
                    try await s.openAlerts(organization: w.manifest.organizationId)
                }
                #expect(stillOpen.count == 2)

                let done = try await c.call(
                    .post, "/api/v1/alerts/\(first)/resolve", token: admin,
                    json: #"{"note":"door checked, sensor reseated"}"#)
                #expect(done.status == 200)
                #expect(
                    done.body.str("id") == first && done.body.str("kind") == "tamper"
                        && done.body.str("resolvedAt") != nil)
                let again = try await c.call(.post, "/api/v1/alerts/\(first)/resolve", token: admin, json: "{}")
                #expect(again.status == 409)
                #expect(again.body.str("error") == "invalid_state")

                let after = try await c.call(.get, "/api/v1/alerts", token: admin)
                #expect((after.body["alerts"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } == [second])
            }
            let resolved = try await Self.auditTypes(w).filter { $0.type == "alert.resolved" }
            #expect(resolved.count == 1)
            let detail = try JSONDecoder().decode(
                [String: String].self, from: Data(try #require(resolved.first).detail.utf8))
            #expect(detail["alertId"] == first)
            #expect(detail["note"] == "door checked, sensor reseated")
            #expect(resolved.first?.unitId == w.unit)
            let stored = try await w.parts.store.read { s in try await s.alert(first) }
            #expect(stored?.resolvedAt != nil && stored?.resolvedBy != nil)
        }
    }

    @Test(
        "a compartment goes out of service only when available and back only when out of service; drop-offs skip it",
        arguments: Backend.available)
    func compartmentService(_ backend: Backend) async throws {
        try await TestWorld.with(backend, layout: [(.small, false), (.small, false), (.large, false)]) { w in
            let admin = w.manifest.adminToken
            let compartments = try await w.parts.store.read { s in try await s.compartments(unit: w.unit) }
            let small = compartments.filter { $0.size.rawValue == "S" }
            try await w.test { c in
                let out = try await c.call(
                    .post, "/api/v1/compartments/\(small[0].id)/service", token: admin,
                    json: #"{"inService":false,"note":"hinge loose"}"#)
                #expect(out.status == 200)
                #expect(out.body.str("state") == "out_of_service" && out.body.str("label") == small[0].label)
                let twice = try await c.call(
                    .post, "/api/v1/compartments/\(small[0].id)/service", token: admin, json: #"{"inService":false}"#)
                #expect(twice.status == 409)

                // Refused without changing anything.
                #expect(
                    try await c.call(.post, "/api/v1/compartments/\(small[1].id)/service", token: admin, json: "{}")
                        .status == 400)
                #expect(
                    try await c.call(
                        .post, "/api/v1/compartments/\(small[1].id)/service", token: admin, json: #"{"inService":"no"}"#
                    ).status == 400)
                #expect(
                    try await c.call(
                        .post, "/api/v1/compartments/\(small[1].id)/service", token: w.manifest.auditorToken,
                        json: #"{"inService":false}"#
                    ).status == 403)
                #expect(
                    try await c.call(
                        .post, "/api/v1/compartments/\(small[1].id)/service", token: w.device,
                        json: #"{"inService":false}"#
                    ).status == 403)
                #expect(
                    try await c.call(
                        .post, "/api/v1/compartments/\(UUID().uuidString)/service", token: admin,
                        json: #"{"inService":false}"#
                    ).status == 404)
                #expect(
                    try await w.parts.store.read { s in try await s.compartment(small[1].id)?.state.rawValue }
                        == "available")

                // The drop-off takes the other small compartment, not the one out of service.
                let drop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                    json: #"{"trackingNumber":"SVC1","recipientId":"\#(w.manifest.recipients[0].id)","size":"S"}"#)
                #expect(drop.status == 201)
                #expect((drop.body["compartment"] as? [String: Any])?["id"] as? String == small[1].id)
                // An occupied (or reserved) compartment cannot be taken out of service.
                let busy = try await c.call(
                    .post, "/api/v1/compartments/\(small[1].id)/service", token: admin, json: #"{"inService":false}"#)
                #expect(busy.status == 409)

                let back = try await c.call(
                    .post, "/api/v1/compartments/\(small[0].id)/service", token: admin, json: #"{"inService":true}"#)
                #expect(back.status == 200 && back.body.str("state") == "available")
                #expect(
                    try await c.call(
                        .post, "/api/v1/compartments/\(small[0].id)/service", token: admin,
                        json: #"{"inService":true}"#
                    ).status == 409)
            }
            let types = try await Self.auditTypes(w).map(\.type)
            #expect(types.filter { $0 == "compartment.out_of_service" }.count == 1)
            #expect(types.filter { $0 == "compartment.back_in_service" }.count == 1)
        }
    }

    @Test(
        "the dashboard lists open alerts and out-of-service compartments, and its forms answer them",
        arguments: Backend.available)
    func portalForms(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let alertId = try await Self.alert(w)
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let auditor = try await w.staffMember("audit@example.org", .auditor, sites: [w.site])
            let compartment = try #require(
                try await w.parts.store.read { s in try await s.compartments(unit: w.unit) }.first)
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            let cookie = "cubby_session=\(boss.session)"
            let form = "application/x-www-form-urlencoded"
            try await w.test { c in
                let page = String(
                    decoding: try await c.call(.get, "/admin/dashboard", cookie: cookie).data, as: UTF8.self)
                #expect(page.contains("Open alerts") && page.contains("/admin/alerts/\(alertId)/resolve"))
                #expect(page.contains("Take out of service"))
                let auditorPage = String(
                    decoding: try await c.call(.get, "/admin/dashboard", cookie: "cubby_session=\(auditor.session)")
                        .data, as: UTF8.self)
                #expect(
                    auditorPage.contains("Open alerts") && !auditorPage.contains("/resolve")
                        && !auditorPage.contains("Take out of service"))

                let out = try await c.call(
                    .post, "/admin/compartments/service",
                    json: "csrf=\(csrf)&compartment=\(compartment.id)&inService=false&note=cleaning",
                    contentType: form, cookie: cookie)
                #expect(out.status == 303)
                #expect(
                    try await w.parts.store.read { s in try await s.compartment(compartment.id)?.state.rawValue }
                        == "out_of_service")
                let listed = String(
                    decoding: try await c.call(.get, "/admin/dashboard?done=out-of-service", cookie: cookie).data,
                    as: UTF8.self)
                #expect(listed.contains("Return \(compartment.label) to service"))
                let missing = try await c.call(
                    .post, "/admin/compartments/service", json: "csrf=\(csrf)&compartment=\(compartment.id)",
                    contentType: form, cookie: cookie)
                #expect(missing.status == 400)
                let back = try await c.call(
                    .post, "/admin/compartments/service",
                    json: "csrf=\(csrf)&compartment=\(compartment.id)&inService=true",
                    contentType: form, cookie: cookie)
                #expect(back.status == 303)
                #expect(
                    try await w.parts.store.read { s in try await s.compartment(compartment.id)?.state.rawValue }
                        == "available")

                let resolve = try await c.call(
                    .post, "/admin/alerts/\(alertId)/resolve", json: "csrf=\(csrf)&note=checked", contentType: form,
                    cookie: cookie)
                #expect(resolve.status == 303)
                let again = try await c.call(
                    .post, "/admin/alerts/\(alertId)/resolve", json: "csrf=\(csrf)", contentType: form, cookie: cookie)
                #expect(again.status == 409)
                let clear = String(
                    decoding: try await c.call(.get, "/admin/dashboard?done=resolved", cookie: cookie).data,
                    as: UTF8.self)
                #expect(clear.contains("No open alerts.") && clear.contains("The alert is resolved."))
            }
        }
    }
}
