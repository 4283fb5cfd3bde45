import CubbyCore
import CubbyDemo
import CubbyEdge
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// A unit enrolled again (a replaced controller, a wiped disk) keeps one enrolled credential: the newest, once it has
/// connected. Enrollment codes are single-use, and a new code for a unit supersedes the unit's unused ones.
@Suite("enrolling a unit again supersedes its earlier codes and credentials")
struct ReenrollmentTests {
    static func enroll(_ world: TestWorld, _ listener: EdgeListener, code: String) async throws -> String {
        try await EdgeEnrollment.enroll(
            server: listener.url, tls: try PinnedTLS(pin: listener.pin), code: code, label: nil
        ).deviceToken
    }

    static func status(_ world: TestWorld, token: String) async throws -> Int {
        try await world.test { c in try await c.call(.get, "/api/v1/units/\(world.unit)", token: token).status }
    }

    @Test(
        "a newer code supersedes an unused one; the new credential's first connection revokes the earlier enrolled ones",
        arguments: Backend.available)
    func newerEnrollmentWins(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let edges = world.parts.edges
            let (superseded, _) = try await edges.issueEnrollmentCodeFromConsole(unitId: world.unit)
            let (firstCode, _) = try await edges.issueEnrollmentCodeFromConsole(unitId: world.unit)
            await #expect(throws: EdgeLinkError.self) { _ = try await Self.enroll(world, listener, code: superseded) }
            let first = try await Self.enroll(world, listener, code: firstCode)
            await #expect(throws: EdgeLinkError.self) { _ = try await Self.enroll(world, listener, code: firstCode) }
            let (secondCode, _) = try await edges.issueEnrollmentCodeFromConsole(unitId: world.unit)
            let second = try await Self.enroll(world, listener, code: secondCode)

            // Until the new controller has connected, the earlier one keeps working.
            #expect(try await Self.status(world, token: first) == 200)
            #expect(try await Self.status(world, token: second) == 200)

            let unit = try await TestUnit.start(world, listener: listener, token: second)
            try await eventually("the earlier enrolled credential is revoked") {
                try await Self.status(world, token: first) == 401
            }
            #expect(try await Self.status(world, token: second) == 200)
            // The unit's credential that did not come from an enrollment is not touched.
            #expect(try await Self.status(world, token: world.device) == 200)
            let live = try await world.parts.store.read { s in
                try await s.credentials(organization: world.manifest.organizationId)
            }.filter { $0.unitId == world.unit && $0.kind == "device" && $0.revokedAt == nil }
            #expect(live.count == 2)
            #expect(live.filter(\.enrolled).count == 1)

            let events = try await world.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
            let revoked = events.filter { $0.type == AuditEventType.credentialRevoked.rawValue }
            #expect(revoked.count == 1)
            #expect(revoked.first?.detail.contains("enrolled_again") == true)
            let issued = events.filter { $0.type == AuditEventType.unitEnrollmentCodeIssued.rawValue }.map(\.detail)
            #expect(issued.count == 3)
            #expect(issued.filter { $0.contains(#""superseded":"1""#) }.count == 1)

            // Connecting again with the same credential revokes nothing more.
            #expect(
                try await edges.linkConnected(unitId: world.unit, credentialId: live.first { $0.enrolled }!.id) == [])
            await unit.stop()
            await listener.stop()
        }
    }
}
