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

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let n = try await desk.expireDue()
                if n > 0 { logger.info("expiry", metadata: ["changed": "\(n)"]) }
            } catch {
                logger.error("expiry failed", metadata: ["error": "\(error)"])
            }
            do {
                let n = try await desk.remindDue()
                if n > 0 { logger.info("reminders", metadata: ["sent": "\(n)"]) }
            } catch {
                logger.error("reminders failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
