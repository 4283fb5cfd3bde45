import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("PIN guessing limits at a unit")
struct PinLimiterTests {
    /// A small budget so the suspension is reached quickly; lockouts as in the standard policy.
    static let policy = PinEntryPolicy(
        pinLength: 10, freeFailures: 5, firstLockout: .seconds(30), maxLockout: .seconds(3600), dailyFailureBudget: 12)

    func deposit(_ w: TestWorld, _ tracking: String) async throws -> [String: String] {
        try await w.test { c in
            let r = try await c.call(
                .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                json: #"{"trackingNumber":"\#(tracking)","recipientId":"\#(w.manifest.recipients[0].id)","size":"S"}"#)
            #expect(r.status == 201)
        }
        try await w.settle()
        return try #require(try w.notifications().last)
    }

    @Test(
        "escalating lockouts, a daily budget that suspends PIN entry, QR still works, admin resume",
        arguments: Backend.available)
    func lockoutsAndSuspension(_ backend: Backend) async throws {
        try await TestWorld.with(backend, policy: Self.policy) { w in
            let note = try await deposit(w, "LIM1")
            let wrong = note["pin"]! == "0000000000" ? "1111111111" : "0000000000"
            try await w.test { c in
                func pin(_ code: String) async throws -> (Int, String?, String?) {
                    let r = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(code)"}"#)
                    return (r.status, r.body.str("error"), r.headers[.retryAfter])
                }
                // Four free failures, the fifth starts a 30 s lockout.
                for _ in 0..<5 { #expect(try await pin(wrong).0 == 403) }
                let locked = try await pin(note["pin"]!)
                #expect(locked.0 == 429)
                #expect(locked.1 == "locked_out")
                #expect(locked.2 == "30")
                w.clock.advance(29)
                #expect(try await pin(wrong).0 == 429, "still locked after 29 s")
                w.clock.advance(2)
                // The sixth consecutive failure doubles the lockout.
                #expect(try await pin(wrong).0 == 403)
                let doubled = try await pin(wrong)
                #expect(doubled.0 == 429)
                #expect(doubled.2 == "60")
                // Keep failing until the 12-failure budget is spent.
                var failures = 6
                while failures < 12 {
                    w.clock.advance(3601)
                    #expect(try await pin(wrong).0 == 403)
                    failures += 1
                }
                w.clock.advance(3601)
                let suspended = try await pin(note["pin"]!)
                #expect(suspended.0 == 429, "suspended: even the right PIN is not evaluated")
                let unit = try await c.call(.get, "/api/v1/units/\(w.unit)", token: w.manifest.adminToken)
                #expect(unit.body.obj("pinEntry")?.str("state") == "suspended")
                #expect(unit.body.obj("pinEntry")?["failuresLast24h"] as? Int == 12)
                // QR still opens the door while PIN entry is suspended.
                let qr = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(note["qr"]!)"}"#)
                #expect(qr.status == 200)
                // A device may not resume; an administrator may, but the 24 h budget still holds.
                #expect(
                    try await c.call(.post, "/api/v1/units/\(w.unit)/pin-entry/resume", token: w.device).status == 403)
                let resumed = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pin-entry/resume", token: w.manifest.adminToken)
                #expect(resumed.status == 200)
                #expect(try await pin(wrong).0 == 429, "resume grants no failures beyond the budget")
                w.clock.advance(86_400)
                #expect(try await pin(wrong).0 == 403, "after the window the PIN is evaluated again")
            }
            let types = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000).map(\.type)
            }
            #expect(types.contains("unit.pin_locked_out"))
            #expect(types.contains("unit.pin_entry_suspended"))
            #expect(types.contains("unit.pin_entry_resumed"))
            #expect(types.filter { $0 == "pickup.code_rejected" }.count == 13)
        }
    }

    @Test("wrong, used, expired and malformed codes all get the same answer", arguments: Backend.available)
    func sameAnswer(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let used = try await deposit(w, "SAME1")
            let live = try await deposit(w, "SAME2")
            try await w.test { c in
                #expect(
                    try await c.call(
                        .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(used["pin"]!)"}"#
                    ).status == 200)
                var bodies: [String] = []
                for code in [used["pin"]!, "12345", "abcdefghij", "cby1.forged.token", String(live["pin"]!.reversed())]
                {
                    let r = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(code)"}"#)
                    #expect(r.status == 403)
                    bodies.append("\(r.body.str("error") ?? "")|\(r.body.str("message") ?? "")")
                }
                #expect(Set(bodies).count == 1)
                // A PIN from another unit's parcel does not open this unit.
                let other = try await c.call(
                    .post, "/api/v1/units/\(w.manifest.units[1].id)/pickups", token: w.manifest.units[1].deviceToken,
                    json: #"{"code":"\#(live["pin"]!)"}"#)
                #expect(other.status == 403)
                // Spaces and dashes typed with the PIN are ignored.
                let p = live["pin"]!
                let spaced = "\(p.prefix(3)) \(p.dropFirst(3).prefix(3))-\(p.dropFirst(6))"
                #expect(
                    try await c.call(
                        .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(spaced)"}"#
                    ).status == 200)
            }
        }
    }
}
