import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Testing

@Suite("units that go silent raise an alert, once, and their return resolves it")
struct UnitWatchTests {
    static func types(_ w: TestWorld) async throws -> [String] {
        try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }.map(\.type)
    }

    @Test(
        "an enrolled unit not seen for the limit is reported once; its link coming back resolves the alert",
        arguments: Backend.available)
    func silentThenBack(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let watch = UnitWatch(edges: w.parts.edges, offlineAfter: .seconds(300), logger: TestWorld.logger)
            let enrolledAt = w.clock.now.millisecondsSince1970
            try await w.parts.store.write { s in try await s.markEdgeEnrolled(unit: w.unit, at: enrolledAt) }
            // Units without an edge controller (the simulated ones) are never reported.
            w.clock.advance(299)
            #expect(try await watch.check().isEmpty)
            w.clock.advance(2)
            #expect(try await watch.check() == [w.unit])
            #expect(try await watch.check().isEmpty)
            w.clock.advance(600)
            #expect(try await watch.check().isEmpty, "one alert until the unit is back")
            var alerts = try await w.parts.store.read { s in try await s.alerts(unit: w.unit) }
            #expect(alerts.filter { $0.kind == "unit_offline" && $0.resolvedAt == nil }.count == 1)
            #expect(try await Self.types(w).filter { $0 == "unit.offline" }.count == 1)

            try await w.parts.edges.unitLinked(unitId: w.unit)
            alerts = try await w.parts.store.read { s in try await s.alerts(unit: w.unit) }
            #expect(alerts.filter { $0.kind == "unit_offline" }.allSatisfy { $0.resolvedAt != nil })
            #expect(try await Self.types(w).contains("unit.back_online"))
            w.clock.advance(200)
            #expect(try await watch.check().isEmpty)
            // Silent again: a new alert.
            w.clock.advance(200)
            #expect(try await watch.check() == [w.unit])
        }
    }

    @Test("a decommissioned unit is never reported", arguments: Backend.available)
    func decommissioned(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let watch = UnitWatch(edges: w.parts.edges, offlineAfter: .seconds(60), logger: TestWorld.logger)
            let at = w.clock.now.millisecondsSince1970
            let other = w.manifest.units[1].id
            try await w.parts.store.write { s in
                try await s.markEdgeEnrolled(unit: other, at: at)
                try await s.markUnitDecommissioned(other, at: at)
            }
            w.clock.advance(120)
            #expect(try await watch.check().isEmpty)
        }
    }
}
