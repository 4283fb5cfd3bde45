import Logging
import ServiceLifecycle

/// Moves overdue parcels to `expired` (each with its expiry notice), cancels stale reservations and sends the
/// reminders that fell due, on a timer.
public struct ExpiryService: Service {
    let desk: ParcelDesk
    let interval: Duration
    let logger: Logger

    public init(desk: ParcelDesk, interval: Duration, logger: Logger) {
        self.desk = desk
        self.interval = interval
        self.logger = logger
    }

    /// How often the reminder sweep runs (reminders are due by the hour, so every tick would be waste).
    static let reminderEvery: Duration = .seconds(60)

    public func run() async throws {
        var lastReminders: ContinuousClock.Instant? = nil
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let n = try await desk.expireDue()
                if n > 0 { logger.info("expiry", metadata: ["changed": "\(n)"]) }
            } catch {
                logger.error("expiry failed", metadata: ["error": "\(error)"])
            }
            if lastReminders.map({ $0.duration(to: .now) >= Self.reminderEvery }) ?? true {
                lastReminders = .now
                do {
                    let n = try await desk.remindDue()
                    if n > 0 { logger.info("reminders", metadata: ["sent": "\(n)"]) }
                } catch {
                    logger.error("reminders failed", metadata: ["error": "\(error)"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }
}
