import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// Delivers the notification outbox: claim due rows, open their sealed payload, deliver, erase.
///
/// Delivery is at least once: a crash between delivering and marking may send a notification twice,
/// each carrying the same `notificationId` so a receiver can drop the repeat.
public struct OutboxDelivery: Service {
    let store: any SQLStore
    let keys: LockerKeys
    let channel: any NotificationChannel
    let interval: Duration
    let clock: ServerClock
    let logger: Logger

    public init(
        store: any SQLStore, keys: LockerKeys, channel: any NotificationChannel, interval: Duration,
        clock: ServerClock = .system, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.channel = channel
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { _ = try await deliverDue() } catch {
                logger.error("outbox delivery failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Delivers what is due now; returns how many were delivered.
    @discardableResult
    public func deliverDue(batch: Int = 50) async throws -> Int {
        var delivered = 0
        while true {
            let count = try await store.write { s -> Int in
                let now = clock.now().millisecondsSince1970
                let rows = try await s.claimNotifications(now: now, limit: batch)
                var done = 0
                for row in rows {
                    do {
                        guard let payload = row.payload else {
                            throw NotificationError.shortWrite("outbox row \(row.id) has no payload")
                        }
                        let data = try keys.outbox.open(payload, context: "outbox:" + row.notificationId)
                        if row.kind == SignInCodeNotification.kind {
                            try await channel.deliver(try JSONDecoder().decode(SignInCodeNotification.self, from: data))
                        } else {
                            try await channel.deliver(
                                try JSONDecoder().decode(ParcelReadyNotification.self, from: data))
                        }
                        try await s.markDelivered(row.id, at: now)
                        done += 1
                    } catch {
                        let backoff = Milliseconds.of(seconds: Int64(min(3600, 1 << min(Int(row.attempts) + 1, 12))))
                        try await s.markDeliveryFailed(row.id, retryAt: now + backoff, error: String(describing: error))
                        logger.warning(
                            "notification not delivered", metadata: ["outbox": "\(row.id)", "error": "\(error)"])
                    }
                }
                return rows.isEmpty ? -1 : done
            }
            if count < 0 { break }
            delivered += count
            if count == 0 { break }
        }
        return delivered
    }
}
