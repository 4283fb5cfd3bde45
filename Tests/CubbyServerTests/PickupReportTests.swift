import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Not you? A recipient reports a pickup they did not make, and staff get an alert")
struct PickupReportTests {
    @Test("the report link raises one alert and one audit event per parcel; forged links and early reports do nothing")
    func report() async throws {
        try await TestWorld.with(.sqlite) { w in
            let parcel = try await LockdownTests.dropOff(w, "REP1")
            try await w.settle()
            let note = try #require(try w.notifications().last { $0["parcelId"] == parcel })
            let reports = w.parts.pickupReports
            let recipient = w.manifest.recipients[0].id
            let token = reports.token(parcel: parcel, recipient: recipient)
            try await w.test { c in
                // Not picked up yet: nothing to report.
                #expect(try await c.call(.post, "/report/\(token)").status == 409)
                let pickup = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(note["pin"]!)"}"#)
                #expect(pickup.status == 200)
                let page = try await c.call(.get, "/report/\(token)")
                #expect(page.status == 200)
                #expect(String(decoding: page.data, as: UTF8.self).contains("REP1"))
                let first = try await c.call(.post, "/report/\(token)")
                #expect(first.status == 200)
                #expect(String(decoding: first.data, as: UTF8.self).contains("alerted"))
                #expect(try await c.call(.post, "/report/\(token)").status == 200, "a second click is answered")
                // Another recipient's link, a changed one, a made-up one.
                let others = [
                    reports.token(parcel: parcel, recipient: w.manifest.recipients[1].id),
                    token.replacingOccurrences(of: parcel, with: UUID().uuidString.lowercased()), "x.y.z",
                ]
                var forged = Array(token)
                forged[forged.count - 3] = forged[forged.count - 3] == "A" ? "B" : "A"
                for bad in others + [String(forged)] {
                    #expect(try await c.call(.post, "/report/\(bad)").status == 404, "\(bad)")
                    #expect(try await c.call(.get, "/report/\(bad)").status == 404, "\(bad)")
                }
            }
            let alerts = try await w.parts.store.read { s in try await s.alerts(unit: w.unit) }.filter {
                $0.kind == PickupReports.alertKind
            }
            #expect(alerts.count == 1)
            #expect(alerts.first?.detail.contains("REP1") == true)
            let events = try await w.parts.store.read { s in try await s.auditEvents(parcel: parcel) }
            let reported = events.filter { $0.type == "pickup.reported" }
            #expect(reported.count == 1)
            #expect(reported.first?.actorKind == "recipient" && reported.first?.actorId == recipient)
        }
    }
}
