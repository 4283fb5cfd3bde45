import CubbyCore
import CubbyDemo
import CubbySIEM
import CubbyServer
import CubbyStore
import Foundation
import Synchronization
import Testing

/// A syslog receiver that keeps what it is sent and can be told to fail.
final class RecordingSink: SyslogSink {
    let received = Mutex<[SyslogMessage]>([])
    let failing = Mutex(false)

    func send(_ messages: [SyslogMessage]) async throws {
        if failing.withLock({ $0 }) { throw SyslogError.connection("refused") }
        received.withLock { $0 += messages }
    }

    func close() async {}

    var texts: [String] { received.withLock { $0 }.map(\.message) }
}

@Suite("Security events reach the SIEM from the verifiable logs")
struct SIEMForwarderTests {
    static func forwarder(_ w: TestWorld, _ sink: RecordingSink, format: SyslogConfiguration.Format = .ocsf)
        -> SIEMForwarder
    {
        SIEMForwarder(
            store: w.parts.store, sink: sink, format: format, hostname: "lockers.example", clock: w.clock.serverClock,
            logger: TestWorld.logger)
    }

    /// Writes audit events as the flows do and gives them leaves.
    static func write(_ w: TestWorld, _ records: [AuditRecord]) async throws {
        try await w.parts.store.write { s in try await s.appendAudit(records) }
        try await w.parts.auditLog.sequence()
    }

    static func record(_ w: TestWorld, _ type: AuditEventType, actor: Actor = .system, unit: Bool = false)
        -> AuditRecord
    {
        AuditRecord(
            occurredAt: w.clock.now, event: type, actor: actor,
            organizationId: UUID(uuidString: w.manifest.organizationId),
            unitId: unit ? UUID(uuidString: w.unit) : nil, detail: unit ? ["signal": "pry"] : ["reason": "password"])
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test(
        "a new sink starts at the logs' ends; then only security events go, in leaf order, each naming its leaf",
        arguments: Backend.available)
    func forwardsInOrder(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let sink = RecordingSink()
            let forwarder = Self.forwarder(w, sink)
            try await w.parts.auditLog.sequence()
            #expect(try await forwarder.forward() == 0)
            #expect(sink.texts.isEmpty)

            let admin = Actor(kind: .admin, id: "acct-7", role: "admin")
            try await Self.write(
                w,
                [
                    Self.record(w, .unitTamper, unit: true), Self.record(w, .parcelDeposited),
                    Self.record(w, .staffSignInFailed, actor: admin),
                ])
            #expect(try await forwarder.forward() == 2)
            let records = try sink.texts.map(Self.json)
            #expect(records.map { $0["class_uid"] as? Int } == [2004, 3002])
            let leaves = records.compactMap { ($0["metadata"] as? [String: Any])?["sequence"] as? Int64 }
            #expect(leaves.count == 2)
            #expect(leaves[1] == leaves[0] + 2)
            let (origin, _) = try await w.parts.auditLog.identity(
                .organization(try #require(OrganizationID(uuidString: w.manifest.organizationId))))
            #expect((records[0]["metadata"] as? [String: Any])?["log_name"] as? String == origin)
            let tamper = try #require(records.first)
            #expect((tamper["resources"] as? [[String: Any]])?.first?["name"] as? String == w.manifest.units[0].name)
            let first = try #require(sink.received.withLock { $0.first })
            #expect(first.severity == .critical)
            #expect(first.msgID == "unit.tamper")
            #expect(first.hostname == "lockers.example")

            // Nothing new: nothing sent again.
            #expect(try await forwarder.forward() == 0)
            #expect(sink.texts.count == 2)
        }
    }

    @Test(
        "a receiver that fails keeps the cursor where it was; the records go once it takes them",
        arguments: Backend.available)
    func retriesAfterFailure(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let sink = RecordingSink()
            let forwarder = Self.forwarder(w, sink, format: .cef)
            try await w.parts.auditLog.sequence()
            _ = try await forwarder.forward()
            sink.failing.withLock { $0 = true }
            try await Self.write(w, [Self.record(w, .unitLockedDown, unit: true)])
            await #expect(throws: SyslogError.self) { try await forwarder.forward() }
            sink.failing.withLock { $0 = false }
            #expect(try await forwarder.forward() == 1)
            #expect(sink.texts.count == 1)
            #expect(
                sink.texts.first?.hasPrefix("CEF:0|Cubby|Cubby|1|unit.locked_down|Locker unit locked down|10|") == true)
        }
    }

    @Test(
        "while one process holds the sink's lease another sends nothing; after it runs out the other goes on from the cursor",
        arguments: Backend.available)
    func oneProcessAtATime(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let a = RecordingSink()
            let b = RecordingSink()
            let first = Self.forwarder(w, a)
            let second = Self.forwarder(w, b)
            try await w.parts.auditLog.sequence()
            _ = try await first.forward()
            try await Self.write(w, [Self.record(w, .staffLocked)])
            #expect(try await second.forward() == 0)
            #expect(try await first.forward() == 1)
            w.clock.advance(31)
            try await Self.write(w, [Self.record(w, .staffDeactivated)])
            #expect(try await second.forward() == 1)
            #expect(try Self.json(try #require(b.texts.first))["activity_id"] as? Int == 5)
            #expect(a.texts.count == 1)
            // The first process lost the lease: it sends nothing more.
            try await Self.write(w, [Self.record(w, .staffLocked)])
            #expect(try await first.forward() == 0)
        }
    }
}
