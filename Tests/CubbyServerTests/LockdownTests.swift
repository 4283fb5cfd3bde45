import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// While a unit is locked down (after a tamper signal), the server opens no door there: pickups, drop-offs and
/// removals answer `409 unit_locked_down` and change nothing; after the release they work again.
@Suite("a locked-down unit is locked down on the server too")
struct LockdownTests {
    /// Locks the unit down as the server does when a unit reports a tamper signal.
    static func lockDown(_ w: TestWorld) async throws {
        let nowMs = w.clock.now.millisecondsSince1970
        try await w.parts.store.write { s in
            try await s.setLockdown(unit: w.unit, at: nowMs, reason: "tamper:pry")
        }
    }

    /// What a refused request must leave as it was.
    struct Snapshot: Equatable {
        var parcels: [String: String]
        var liveCredentials: Int
        var compartments: [String: String]
        var pendingCommands: Int
    }

    /// A courier's drop-off at the world's first unit for its first recipient; returns the parcel's id.
    static func dropOff(_ w: TestWorld, _ tracking: String) async throws -> String {
        try await w.test { c in
            let r = try await c.call(
                .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                json: ParcelFlowTests.dropoffBody(tracking, w.manifest.recipients[0].id))
            #expect(r.status == 201)
            return try #require(r.body.str("parcelId"))
        }
    }

    static func snapshot(_ w: TestWorld) async throws -> Snapshot {
        let nowMs = w.clock.now.millisecondsSince1970
        return try await w.parts.store.read { s in
            let compartments = try await s.compartments(unit: w.unit)
            var parcels: [String: String] = [:]
            for c in compartments {
                if let id = c.parcelId, let p = try await s.parcel(id) { parcels[id] = p.state.rawValue }
            }
            return Snapshot(
                parcels: parcels,
                liveCredentials: try await s.livePickupCredentials(unit: w.unit, now: nowMs).count,
                compartments: Dictionary(uniqueKeysWithValues: compartments.map { ($0.id, $0.state.rawValue) }),
                pendingCommands: try await s.pendingUnitCommands(unit: w.unit, now: nowMs).count)
        }
    }

    @Test(
        "pickups by QR and PIN and drop-offs answer 409 unit_locked_down and change nothing",
        arguments: Backend.available)
    func pickupsAndDropoffsRefused(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let parcelId = try await Self.dropOff(w, "LOCK1")
            try await w.settle()
            let note = try #require(try w.notifications().first)
            let pin = try #require(note["pin"])
            let qr = try #require(note["qr"])

            try await Self.lockDown(w)
            let before = try await Self.snapshot(w)
            let parcelsBefore = try await w.counts().parcels
            #expect(before.liveCredentials == 1)
            try await w.test { c in
                for code in [qr, pin] {
                    let r = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(code)"}"#)
                    #expect(r.status == 409)
                    #expect(r.body.str("error") == "unit_locked_down")
                }
                let drop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: ParcelFlowTests.dropoffBody("LOCK2", m.recipients[1].id))
                #expect(drop.status == 409)
                #expect(drop.body.str("error") == "unit_locked_down")
                let p = try await c.call(.get, "/api/v1/parcels/\(parcelId)", token: m.courierToken)
                #expect(p.body.str("state") == "deposited")
            }
            #expect(try await Self.snapshot(w) == before)
            #expect(try await w.counts().parcels == parcelsBefore)
            // The refusals are on record, and the code was not counted as a wrong one.
            let events = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
            let refused = events.filter { $0.type == "pickup.refused" }
            #expect(refused.count == 2)
            #expect(refused.allSatisfy { String(decoding: $0.canonical, as: UTF8.self).contains("lockdown") })
            #expect(!events.contains { $0.type == "pickup.code_rejected" })

            // Released by an administrator: the same QR opens the door.
            _ = try await w.parts.edges.releaseLockdownFromConsole(unitId: w.unit)
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(qr)"}"#)
                #expect(r.status == 200)
                #expect(r.body.str("parcelId") == parcelId)
            }
        }
    }

    @Test("staff removal of an expired parcel waits for the release", arguments: Backend.available)
    func removalRefused(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let parcelId = try await Self.dropOff(w, "LOCK3")
            try await w.settle()
            w.clock.advance(8 * 86_400)
            #expect(try await w.desk.expireDue() == 1)
            try await Self.lockDown(w)
            let before = try await Self.snapshot(w)
            try await w.test { c in
                let rm = try await c.call(.post, "/api/v1/parcels/\(parcelId)/remove", token: m.adminToken)
                #expect(rm.status == 409)
                #expect(rm.body.str("error") == "unit_locked_down")
                let p = try await c.call(.get, "/api/v1/parcels/\(parcelId)", token: m.adminToken)
                #expect(p.body.str("state") == "expired")
            }
            #expect(try await Self.snapshot(w) == before)
            _ = try await w.parts.edges.releaseLockdownFromConsole(unitId: w.unit)
            try await w.test { c in
                let rm = try await c.call(.post, "/api/v1/parcels/\(parcelId)/remove", token: m.adminToken)
                #expect(rm.status == 200)
                #expect(rm.body.str("state") == "removed")
            }
        }
    }
}
