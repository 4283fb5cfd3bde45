import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// Delivers the outbox: each channel's due deliveries are claimed with a lease in a short transaction, sent outside
/// any transaction, and their outcome recorded in another.
///
/// Delivery is at least once: a process that dies between sending and recording leaves a lease that runs out, and
/// the delivery is sent again with the same message id, so a receiver can drop the repeat. Several processes on one
/// PostgreSQL never hold the same delivery at once (`FOR UPDATE SKIP LOCKED`; SQLite has one writer). Each channel
/// runs on its own, so a slow or failing one never holds up another, nor the flow that wrote the message.
public struct OutboxDelivery: Service {
    let store: any SQLStore
    let keys: LockerKeys
    let channels: [String: any OutboxChannel]
    let interval: Duration
    let retry: RetryPolicy
    /// How long a claim holds a delivery; longer than any channel's attempt may take.
    let lease: Int64
    let clock: ServerClock
    let logger: Logger
    /// The random draw of the retry jitter (tests fix it).
    let jitter: @Sendable () -> Double

    /// The standard lease: well beyond a webhook's timeouts.
    public static let standardLease: Int64 = 2 * Milliseconds.minute
    /// How many deliveries of a channel one claim takes, and sends at once.
    public static let batch = 16

    public init(
        store: any SQLStore, keys: LockerKeys, channels: [any OutboxChannel], interval: Duration,
        retry: RetryPolicy = .standard, lease: Int64 = OutboxDelivery.standardLease, clock: ServerClock = .system,
        logger: Logger, jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.keys = keys
        self.channels = Dictionary(channels.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.interval = interval
        self.retry = retry
        self.lease = lease
        self.clock = clock
        self.logger = logger
        self.jitter = jitter
    }

    /// The names of the channels it delivers.
    public var channelNames: [String] { channels.keys.sorted() }

    /// Each channel delivers what is due, then waits for a commit that wrote to the outbox (this process's, or on
    /// PostgreSQL any process's) or, at the latest, `interval` (retries falling due are found by polling).
    public func run() async throws {
        let bells = Dictionary(uniqueKeysWithValues: channelNames.map { ($0, Doorbell()) })
        let all = OutboxWake()
        for bell in bells.values {
            store.outboxWake.add(bell)
            all.add(bell)
        }
        defer { for bell in bells.values { store.outboxWake.remove(bell) } }
        await withTaskGroup(of: Void.self) { group in
            if let postgres = store as? PostgresStore {
                group.addTask { try? await cancelWhenGracefulShutdown { await listen(postgres, ringing: all) } }
            }
            for (name, bell) in bells {
                group.addTask {
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        do { _ = try await deliverDue(channel: name) } catch {
                            logger.error(
                                "outbox delivery failed", metadata: ["channel": "\(name)", "error": "\(error)"])
                        }
                        // A shutdown rings the bell, and the loop ends after the batch in hand.
                        await withGracefulShutdownHandler {
                            await bell.wait(upTo: interval)
                        } onGracefulShutdown: {
                            bell.ring()
                        }
                    }
                }
            }
        }
    }

    /// How long the listener waits before listening again after its connection failed.
    static let listenRetryDelay: Duration = .seconds(1)

    /// Rings `bells` for each outbox notification from any process on the database, and once each time the listener
    /// is in place (whatever was written while nobody listened is looked at then).
    func listen(_ store: PostgresStore, ringing bells: OutboxWake) async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let ring: @Sendable (String) async -> Void = { _ in bells.ring() }
                try await store.follow(channel: OutboxNotifyChannel.name, onListening: { bells.ring() }, ring)
            } catch {
                logger.warning("outbox listener failed; listening again", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: Self.listenRetryDelay)
        }
    }

    /// Delivers what is due now on every channel; returns how many deliveries were delivered.
    @discardableResult
    public func deliverDue() async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for name in channelNames { group.addTask { try await deliverDue(channel: name) } }
            return try await group.reduce(0, +)
        }
    }

    /// Delivers what is due now on one channel, batch after batch; returns how many were delivered.
    @discardableResult
    public func deliverDue(channel name: String) async throws -> Int {
        guard let channel = channels[name] else { return 0 }
        var delivered = 0
        // A process that is stopping sends no further batch: what is left stays due for the next one.
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let token = EntityID.make()
            let claimed = try await store.write { s in
                let now = clock.now().millisecondsSince1970
                return try await s.claimDeliveries(
                    channel: name, now: now, leaseUntil: now + lease, token: token, limit: Self.batch)
            }
            if claimed.isEmpty { break }
            let results = await withTaskGroup(of: (ClaimedDelivery, DeliveryOutcome).self) { group in
                for d in claimed { group.addTask { (d, await attempt(d, on: channel)) } }
                var all: [(ClaimedDelivery, DeliveryOutcome)] = []
                for await r in group { all.append(r) }
                return all
            }
            for (d, outcome) in results {
                if try await record(d, outcome, on: channel) { delivered += 1 }
            }
        }
        return delivered
    }

    /// One attempt: open and decode the payload, then hand it to the channel.
    func attempt(_ d: ClaimedDelivery, on channel: any OutboxChannel) async -> DeliveryOutcome {
        let notification: OutboxNotification
        do {
            notification = try decode(d)
        } catch {
            return .permanentFailure("the message cannot be read: \(error)")
        }
        return await channel.deliver(messageId: d.messageId, notification: notification, target: d.target)
    }

    func decode(_ d: ClaimedDelivery) throws -> OutboxNotification {
        guard let payload = d.payload else { throw NotificationError.noPayload(d.messageId) }
        let data = d.sealed ? try keys.outbox.open(payload, context: "outbox:" + d.messageId) : payload
        let decoder = JSONDecoder()
        switch d.kind {
        case SignInCodeNotification.kind:
            return .signInCode(try decoder.decode(SignInCodeNotification.self, from: data))
        case _ where ParcelNoticeKind(rawValue: d.kind) != nil:
            return .parcelNotice(try decoder.decode(ParcelNoticeNotification.self, from: data))
        case AlertPageNotification.kind: return .alertPage(try decoder.decode(AlertPageNotification.self, from: data))
        case StoreSession.webhookKind: return .webhookEvent(try decoder.decode(WebhookEventBody.self, from: data))
        default: return .parcelReady(try decoder.decode(ParcelReadyNotification.self, from: data))
        }
    }

    /// Records an attempt's outcome; returns whether it delivered. A failure is retried after the backoff unless
    /// that would pass the retry span, when the delivery goes dead and the channel is told.
    func record(_ d: ClaimedDelivery, _ outcome: DeliveryOutcome, on channel: any OutboxChannel) async throws -> Bool {
        let now = clock.now().millisecondsSince1970
        var gaveUp: String? = nil
        let state: DeliveryState
        var retryAt: Int64? = nil
        var error: String? = nil
        switch outcome {
        case .delivered:
            state = .delivered
        case .permanentFailure(let reason):
            state = .dead
            error = reason
        case .transientFailure(let reason):
            let next = now + retry.delay(afterAttempt: d.attempts, jitter: jitter())
            if next - d.createdAt > retry.span {
                state = .dead
                error = "gave up after \(d.attempts) attempts: \(reason)"
                gaveUp = error
            } else {
                state = .failed
                retryAt = next
                error = reason
            }
        }
        // The log, the channel and the outbox get the error with any quoted address or number masked.
        error = error.map(DeliveryErrorText.masked)
        gaveUp = gaveUp.map(DeliveryErrorText.masked)
        let (next, why) = (retryAt, error)
        let recorded = try await store.write { s in
            try await s.finishDelivery(d, state: state, retryAt: next, error: why, at: now)
        }
        if state != .delivered {
            logger.warning(
                "outbox delivery not delivered",
                metadata: [
                    "channel": "\(d.channel)", "message": "\(d.messageId)", "attempt": "\(d.attempts)",
                    "state": "\(state.rawValue)", "error": "\(error ?? "")",
                ])
        }
        if recorded, let gaveUp {
            await channel.gaveUp(messageId: d.messageId, target: d.target, since: d.createdAt, reason: gaveUp)
        }
        return recorded && state == .delivered
    }
}
