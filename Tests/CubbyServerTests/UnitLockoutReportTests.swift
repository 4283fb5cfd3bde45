import CubbyCore
import CubbyDemo
import CubbyEdge
import CubbyKiosk
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// A unit's edge controller limits PIN entry by itself; the server shows that limit as the unit last reported it.
@Suite("the kiosk's own PIN lockout is visible on the server's unit state")
struct UnitLockoutReportTests {
    @Test("wrong PINs typed at the unit's kiosk show as locked_out on GET /units/{id}", arguments: Backend.available)
    func lockoutReported(_ backend: Backend) async throws {
        // A lockout long enough to outlast a slow run of the whole suite.
        let policy = PinEntryPolicy(freeFailures: 5, firstLockout: .seconds(3600))
        try await TestWorld.with(backend, policy: policy, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await EdgeLinkTests.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            try await eventually("the unit has its state") { await unit.controller.condition().unitId != nil }
            for _ in 0..<policy.freeFailures {
                #expect(await unit.controller.pickup(code: "0000000000", method: .pin) == .rejected)
            }
            let next = await unit.controller.pickup(code: "0000000000", method: .pin)
            #expect(next != .rejected, "the unit did not lock PIN entry after \(policy.freeFailures) wrong PINs")
            let m = world.manifest
            try await eventually("the server shows the unit's lockout") {
                let r = try await world.test { c in
                    try await c.call(.get, "/api/v1/units/\(world.unit)", token: m.adminToken)
                }
                return r.body.obj("pinEntry")?.str("state") == "locked_out"
            }
            let view = try await world.test { c in
                try await c.call(.get, "/api/v1/units/\(world.unit)", token: m.adminToken)
            }
            #expect(view.body.obj("pinEntry")?.str("lockedUntil") != nil)
            #expect((view.body.obj("pinEntry")?["failuresLast24h"] as? Int) == policy.freeFailures)
            let types = try await world.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
                .map(\.type)
            #expect(types.contains(AuditEventType.unitPinLockedOut.rawValue))
            await unit.stop()
            await listener.stop()
        }
    }

    @Test("staff resuming PIN entry on the server lifts the unit's own lockout too", arguments: Backend.available)
    func resumeReachesTheUnit(_ backend: Backend) async throws {
        let policy = PinEntryPolicy(freeFailures: 5, firstLockout: .seconds(3600))
        try await TestWorld.with(backend, policy: policy, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await EdgeLinkTests.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            try await eventually("the unit has its state") { await unit.controller.condition().unitId != nil }
            for _ in 0..<policy.freeFailures {
                #expect(await unit.controller.pickup(code: "0000000000", method: .pin) == .rejected)
            }
            #expect(await unit.controller.pickup(code: "0000000000", method: .pin) != .rejected)
            let m = world.manifest
            func pinState() async throws -> String? {
                let r = try await world.test { c in
                    try await c.call(.get, "/api/v1/units/\(world.unit)", token: m.adminToken)
                }
                return r.body.obj("pinEntry")?.str("state")
            }
            try await eventually("the server shows the unit's lockout") { try await pinState() == "locked_out" }
            let resumed = try await world.test { c in
                try await c.call(.post, "/api/v1/units/\(world.unit)/pin-entry/resume", token: m.adminToken)
            }
            #expect(resumed.status == 200)
            // The unit takes wrong codes one by one again (refused, not locked out) once the command has arrived.
            try await eventually("the unit lifted its own lockout") {
                await unit.controller.pinEntryState().lockedUntil == nil
            }
            #expect(await unit.controller.pickup(code: "0000000000", method: .pin) == .rejected)
            // Its acknowledgement, journaled after the refused codes, leaves the server showing the unit's state.
            try await eventually("the server shows the unit's state after the resume") {
                try await pinState() == "open"
            }
            let commands = try await world.parts.store.read { s in
                try await s.pendingUnitCommands(unit: world.unit, now: Date().millisecondsSince1970)
            }
            #expect(!commands.contains { $0.kind == EdgeCommand.Kind.resumePinEntry.rawValue })
            await unit.stop()
            await listener.stop()
        }
    }

    @Test("a report is read strictly: a malformed one changes nothing")
    func reportCodec() {
        let state = PinEntryState(
            consecutiveFailures: 5, lockedUntil: Date(millisecondsSince1970: 1_795_000_030_000), suspended: false)
        #expect(PinEntryState(report: state.report) == state)
        #expect(PinEntryState(report: PinEntryState().report) == PinEntryState())
        #expect(PinEntryState(report: [:]) == nil)
        #expect(PinEntryState(report: ["pinConsecutiveFailures": "-1", "pinSuspended": "false"]) == nil)
        #expect(PinEntryState(report: ["pinConsecutiveFailures": "2", "pinSuspended": "maybe"]) == nil)
        #expect(
            PinEntryState(report: ["pinConsecutiveFailures": "2", "pinSuspended": "false", "pinLockedUntil": "soon"])
                == nil)
    }
}
