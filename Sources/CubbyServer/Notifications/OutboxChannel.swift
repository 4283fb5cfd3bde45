import CubbyCore
import Foundation

/// What an outbox message carries, decoded (and opened, when sealed) from its payload.
public enum OutboxNotification: Sendable, Equatable {
    case parcelReady(ParcelReadyNotification)
    case signInCode(SignInCodeNotification)
    /// A reminder, an expiry notice or a pickup receipt.
    case parcelNotice(ParcelNoticeNotification)
    case webhookEvent(WebhookEventBody)
    /// A page of an alert to a staff member on call.
    case alertPage(AlertPageNotification)
}

/// How one attempt of one delivery ended.
public enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    /// Worth another try later (a timeout, a refused connection, a 5xx).
    case transientFailure(String)
    /// No retry can succeed (an invalid address, a receiver that said so): the delivery goes dead at once.
    case permanentFailure(String)
}

/// A way out of the server: the file, the log, email, SMS, webhooks. The outbox calls it outside any database
/// transaction, once per attempt, with the message's stable id (the same on every retry, so receivers can drop
/// repeats), the decoded notification and the delivery's target (a recipient id, a webhook subscription id).
public protocol OutboxChannel: Sendable {
    /// The channel's name in the outbox's `channel` column.
    var name: String { get }
    /// Delivers one message to one target.
    func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome
    /// Told after the outbox gave up a delivery whose every attempt failed for the whole retry span (first written
    /// at `since`).
    func gaveUp(messageId: String, target: String, since: Int64, reason: String) async
}

extension OutboxChannel {
    public func gaveUp(messageId: String, target: String, since: Int64, reason: String) async {}
}

/// Another name for a channel: deliveries written under `name` go to `channel`.
public struct OutboxChannelAlias: OutboxChannel {
    public let name: String
    public let channel: any OutboxChannel

    public init(name: String, for channel: any OutboxChannel) {
        self.name = name
        self.channel = channel
    }

    public func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        await channel.deliver(messageId: messageId, notification: notification, target: target)
    }
}

/// When a failed delivery is tried again: exponential backoff with jitter, given up after `span` since the delivery
/// was written.
public struct RetryPolicy: Sendable, Equatable {
    /// The delay after the first failed attempt (before jitter).
    public var base: Int64
    /// The longest delay between two attempts.
    public var cap: Int64
    /// How long after it was written a delivery is still tried.
    public var span: Int64

    public init(base: Int64, cap: Int64, span: Int64) {
        self.base = base
        self.cap = cap
        self.span = span
    }

    /// About three days of retries, as receivers of webhooks expect; the same for every channel.
    public static let standard = RetryPolicy(
        base: 5 * Milliseconds.second, cap: 8 * Milliseconds.hour, span: 3 * Milliseconds.day)

    /// The delay after attempt `attempt` (1 for the first) failed: `base·2^(attempt−1)`, at most `cap`, then a
    /// random point in its upper half (`jitter` in 0..<1), so that many failed deliveries do not come back at once.
    public func delay(afterAttempt attempt: Int64, jitter: Double) -> Int64 {
        let shift = Int64(min(max(attempt - 1, 0), 40))
        let full = base > (cap >> shift) ? cap : min(cap, base << shift)
        let half = full / 2
        return half + Int64(Double(full - half) * min(max(jitter, 0), 1))
    }
}
