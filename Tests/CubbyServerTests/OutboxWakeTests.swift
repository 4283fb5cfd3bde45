import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Testing

/// A message written in a transaction wakes the outbox worker when the transaction commits: the polling interval here is
/// a minute, far beyond the waits, so a delivery that arrives was woken, not polled.
@Suite("the outbox wakes at commit")
struct OutboxWakeTests {
    static let slowPoll: Duration = .seconds(60)

    static func deposit(_ w: TestWorld, _ tracking: String) async throws {
        let m = w.manifest
        try await w.test { c in
            let r = try await c.call(
                .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                json: #"{"trackingNumber":"\#(tracking)","recipientId":"\#(m.recipients[0].id)","size":"S"}"#)
            #expect(r.status == 201)
        }
        await w.parts.simulator?.settle()
    }

    /// Deposits one parcel and sees it delivered (by the worker's first pass or a wake), then a second one, which only
    /// a wake can deliver within the wait.
    static func depositTwiceAndSeeBothDelivered(_ w: TestWorld) async throws {
        try await deposit(w, "WAKE1")
        try await eventually("the first notification is delivered", seconds: 20) { try w.notifications().count == 1 }
        try await deposit(w, "WAKE2")
        try await eventually("the second notification is delivered without a poll", seconds: 20) {
            try w.notifications().count == 2
        }
        // Each delivery is recorded once sent, right after the file line is written.
        try await eventually("both deliveries are recorded as delivered", seconds: 20) {
            try await w.parts.store.read { s in try await s.deliveries(channel: "file") }.map(\.state)
                == ["delivered", "delivered"]
        }
        let deliveries = try await w.parts.store.read { s in try await s.deliveries(channel: "file") }
        #expect(deliveries.map(\.attempts) == [1, 1], "each delivered by its first attempt")
    }

    @Test(
        "a deposit's notification is delivered at commit, not at the next poll (SQLite and PostgreSQL)",
        arguments: Backend.available)
    func wakesInProcess(_ backend: Backend) async throws {
        try await TestWorld.with(backend, start: Date()) { w in
            let worker = OutboxDelivery(
                store: w.parts.store, keys: w.parts.keys, channels: [FileNotificationChannel(path: w.notifyFile)],
                interval: Self.slowPoll, clock: w.clock.serverClock, logger: TestWorld.logger)
            let running = Task { try await worker.run() }
            defer { running.cancel() }
            try await Self.depositTwiceAndSeeBothDelivered(w)
            running.cancel()
            _ = try? await running.value
        }
    }

    @Test(
        "on PostgreSQL a message written by one server process wakes another's outbox worker",
        .enabled(if: Backend.available.contains(.postgres)))
    func wakesAcrossProcesses() async throws {
        try await TestWorld.with(.postgres, start: Date()) { w in
            // The second process: its own pool and worker on the same database and key file, polling once a minute.
            var settings = w.settings
            settings.outboxInterval = Self.slowPoll
            let second = try await buildParts(
                settings: settings, clock: w.clock.serverClock, passwordHasher: .forTesting(iterations: 1000),
                logger: TestWorld.logger)
            let running = Task { try await second.outbox.run() }
            do {
                try await Self.depositTwiceAndSeeBothDelivered(w)
            } catch {
                running.cancel()
                await second.store.close()
                throw error
            }
            running.cancel()
            _ = try? await running.value
            await second.store.close()
        }
    }
}
