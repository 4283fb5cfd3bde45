import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Synchronization
import Testing

/// A channel that records every attempt and answers as told: the fake of a channel that cannot run here.
final class RecordingChannel: OutboxChannel, Sendable {
    let name: String
    struct State {
        var attempts: [(message: String, target: String)] = []
        var inFlight: Set<String> = []
        /// Attempts that began while another attempt of the same delivery was still running.
        var overlaps = 0
        var answers: [DeliveryOutcome] = []
    }
    let state = Mutex(State())
    let hold: Duration

    /// `answers` are given in turn, then `delivered`; each attempt takes `hold`.
    init(name: String, answers: [DeliveryOutcome] = [], hold: Duration = .zero) {
        self.name = name
        self.hold = hold
        state.withLock { $0.answers = answers }
    }

    func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        let key = messageId + "/" + target
        let answer = state.withLock { s -> DeliveryOutcome in
            s.attempts.append((messageId, target))
            if !s.inFlight.insert(key).inserted { s.overlaps += 1 }
            return s.answers.isEmpty ? .delivered : s.answers.removeFirst()
        }
        if hold > .zero { try? await Task.sleep(for: hold) }
        state.withLock { _ = $0.inFlight.remove(key) }
        return answer
    }

    var attempts: [(message: String, target: String)] { state.withLock { $0.attempts } }
    var overlaps: Int { state.withLock { $0.overlaps } }
}

@Suite("Outbox deliveries: channels, leases, retries, dead letters")
struct OutboxDeliveryTests {
    /// A webhook-shaped message with one delivery per channel, its payload sealed or plain.
    static func enqueue(_ w: TestWorld, channels: [String], target: String = "t1", sealed: Bool = false) async throws
        -> String
    {
        let id = EntityID.make()
        let body = WebhookEventBody(
            type: .parcelDeposited, timestamp: "2026-12-01T10:00:00.000Z",
            data: WebhookEventData(occurredAt: "2026-12-01T10:00:00.000Z"))
        let now = w.clock.now.millisecondsSince1970
        try await w.parts.store.write { s in
            try await s.enqueue(
                OutboxMessage(
                    id: id, kind: StoreSession.webhookKind,
                    payload: sealed
                        ? try w.parts.keys.outbox.seal(try body.encoded(), context: "outbox:" + id)
                        : try body.encoded(),
                    sealed: sealed,
                    deliveries: channels.map { ($0, target) }), at: now)
        }
        return id
    }

    static func worker(_ w: TestWorld, _ channels: [any OutboxChannel], retry: RetryPolicy = .standard)
        -> OutboxDelivery
    {
        OutboxDelivery(
            store: w.parts.store, keys: w.parts.keys, channels: channels, interval: .milliseconds(10), retry: retry,
            clock: w.clock.serverClock, logger: TestWorld.logger, jitter: { 0.5 })
    }

    @Test("backoff doubles from the base with jitter in the upper half, up to the cap")
    func backoff() {
        let p = RetryPolicy(base: 1000, cap: 60_000, span: Milliseconds.day)
        #expect(p.delay(afterAttempt: 1, jitter: 0) == 500)
        #expect(p.delay(afterAttempt: 1, jitter: 1) == 1000)
        #expect(p.delay(afterAttempt: 2, jitter: 0) == 1000)
        #expect(p.delay(afterAttempt: 4, jitter: 1) == 8000)
        #expect(p.delay(afterAttempt: 7, jitter: 1) == 60_000, "capped")
        #expect(p.delay(afterAttempt: 500, jitter: 0) == 30_000, "no overflow")
        // The standard schedule keeps trying for three days.
        var total: Int64 = 0
        var attempt: Int64 = 1
        let s = RetryPolicy.standard
        while total + s.delay(afterAttempt: attempt, jitter: 1) <= s.span {
            total += s.delay(afterAttempt: attempt, jitter: 1)
            attempt += 1
        }
        #expect(attempt > 12 && attempt < 30)
    }

    @Test("a failing channel holds up neither another channel nor the flow; the payload stays until both are final")
    func channelsAreIndependent() async throws {
        try await TestWorld.with(.sqlite) { w in
            let good = RecordingChannel(name: "good")
            let bad = RecordingChannel(
                name: "bad", answers: [.transientFailure("down"), .permanentFailure("bad number")])
            let outbox = Self.worker(w, [good, bad])
            let id = try await Self.enqueue(w, channels: ["good", "bad"], sealed: true)
            #expect(try await outbox.deliverDue() == 1)
            var rows = try await w.parts.store.read { s in try await s.deliveries(message: id) }
            #expect(rows.map(\.state) == ["delivered", "failed"])
            #expect(rows[1].lastError == "down")
            #expect(try await w.parts.store.read { s in try await s.outboxPayload(id)?.payload } != nil)
            w.clock.advance(10)
            #expect(try await outbox.deliverDue() == 0)
            rows = try await w.parts.store.read { s in try await s.deliveries(message: id) }
            #expect(rows.map(\.state) == ["delivered", "dead"], "a permanent failure goes dead at once")
            #expect(rows[1].lastError == "bad number" && rows[1].attempts == 2)
            #expect(try await w.parts.store.read { s in try await s.outboxPayload(id)?.payload } == nil)
            #expect(good.attempts.count == 1 && bad.attempts.count == 2)
        }
    }

    @Test("after the retry span a delivery goes dead, and the channel is told", arguments: Backend.available)
    func deadLetter(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let failing = RecordingChannel(
                name: "failing", answers: Array(repeating: .transientFailure("503"), count: 100))
            let outbox = Self.worker(w, [failing], retry: RetryPolicy(base: 1000, cap: 4000, span: 20_000))
            let id = try await Self.enqueue(w, channels: ["failing"])
            var rounds = 0
            while rounds < 50 {
                try await outbox.deliverDue()
                let row = try await w.parts.store.read { s in try await s.deliveries(message: id) }[0]
                if row.state == "dead" { break }
                #expect(row.state == "failed")
                w.clock.advance(1)
                rounds += 1
            }
            let row = try await w.parts.store.read { s in try await s.deliveries(message: id) }[0]
            #expect(row.state == "dead")
            #expect(row.lastError?.hasPrefix("gave up after") == true)
            // 20 s of retries at 0.75, 1.5, 3, 3, 3… seconds apart (jitter fixed at the middle).
            #expect((7...9).contains(row.attempts), "attempts: \(row.attempts)")
            #expect(failing.attempts.count == Int(row.attempts))
            #expect(try await w.parts.store.read { s in try await s.pendingNotificationCount() } == 0)
        }
    }

    @Test(
        "a delivery claimed by a worker that died is delivered after its lease, with the same message id",
        arguments: Backend.available)
    func lapsedLease(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let channel = RecordingChannel(name: "recording")
            let outbox = Self.worker(w, [channel])
            let id = try await Self.enqueue(w, channels: ["recording"])
            // A worker claims it and dies before sending or recording anything.
            let now = w.clock.now.millisecondsSince1970
            let claimed = try await w.parts.store.write { s in
                try await s.claimDeliveries(
                    channel: "recording", now: now, leaseUntil: now + OutboxDelivery.standardLease,
                    token: "dead-worker",
                    limit: 10)
            }
            #expect(claimed.map(\.messageId) == [id])
            #expect(try await outbox.deliverDue() == 0, "the lease holds it")
            #expect(channel.attempts.isEmpty)
            w.clock.advance(TimeInterval(OutboxDelivery.standardLease / 1000) + 1)
            #expect(try await outbox.deliverDue() == 1)
            #expect(channel.attempts.map(\.message) == [id])
            // The dead worker's late report is ignored: the lease is no longer its own.
            let late = try await w.parts.store.write { s in
                try await s.finishDelivery(
                    claimed[0], state: .failed, retryAt: now, error: "late", at: w.clock.now.millisecondsSince1970)
            }
            #expect(!late)
            let row = try await w.parts.store.read { s in try await s.deliveries(message: id) }[0]
            #expect(row.state == "delivered" && row.attempts == 2)
        }
    }

    @Test("two workers on one PostgreSQL database never deliver the same delivery twice, nor at the same time")
    func twoWorkersOnePostgres() async throws {
        guard Backend.available.contains(.postgres) else { return }
        try await TestWorld.with(.postgres) { w in
            var ids: [String] = []
            for _ in 0..<120 { ids.append(try await Self.enqueue(w, channels: ["recording"])) }
            let channel = RecordingChannel(name: "recording", hold: .milliseconds(5))
            // A second process: its own connection pool on the same database.
            let other = try await StoreFactory.open(w.settings.database, logger: TestWorld.logger)
            // Both pools hold a live connection before the race starts.
            #expect(try await other.read { s in try await s.pendingNotificationCount() } == ids.count)
            #expect(try await w.parts.store.read { s in try await s.pendingNotificationCount() } == ids.count)
            let a = Self.worker(w, [channel])
            let b = OutboxDelivery(
                store: other, keys: w.parts.keys, channels: [channel], interval: .milliseconds(10),
                clock: w.clock.serverClock, logger: TestWorld.logger)
            async let first = a.deliverDue()
            async let second = b.deliverDue()
            let (x, y) = try await (first, second)
            await other.close()
            #expect(x + y == ids.count)
            #expect(x > 0 && y > 0, "both workers took part: \(x) and \(y)")
            #expect(channel.overlaps == 0)
            #expect(channel.attempts.count == ids.count)
            #expect(Set(channel.attempts.map(\.message)) == Set(ids))
        }
    }
}
