import AsyncHTTPClient
import CubbyCore
import CubbyStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Sends webhook events to subscriptions, signed as Standard Webhooks: `webhook-id` is the outbox message's id (the
/// same on every retry), `webhook-timestamp` the attempt's time, `webhook-signature` one `v1` signature per signing
/// secret. No redirect is followed, the connection and the answer have timeouts, at most `maxResponseBytes` of the
/// answer are read, and addresses that are not public are refused unless the deployment allows them.
public struct WebhookChannel: OutboxChannel {
    public let name = StoreSession.webhookChannel
    let desk: WebhookDesk
    let logger: Logger

    /// The largest body sent; the events are far smaller, so a larger one is a fault.
    public static let maxPayloadBytes = 64 * 1024
    /// How much of a receiver's answer is read before it is dropped.
    public static let maxResponseBytes = 4 * 1024
    /// The whole attempt, connect to last byte.
    public static let attemptTimeout: TimeAmount = .seconds(15)

    /// One client for every webhook of the process: it lives as long as the process, so it is never shut down.
    static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: HTTPClient.Configuration.Timeout(connect: .seconds(5), read: .seconds(10)),
            decompression: .disabled))

    public init(desk: WebhookDesk, logger: Logger) {
        self.desk = desk
        self.logger = logger
    }

    public func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        guard case .webhookEvent(let event) = notification else {
            return .permanentFailure("the webhook channel takes webhook events only")
        }
        let subscription: WebhookSubscriptionRecord?
        do {
            subscription = try await desk.ledger.store.read { s in try await s.webhookSubscription(target) }
        } catch {
            return .transientFailure("the subscription could not be read: \(error)")
        }
        guard let subscription else { return .permanentFailure("the subscription was deleted") }
        guard subscription.disabledAt == nil else { return .permanentFailure("the subscription is disabled") }
        let body: Data
        let keys: [[UInt8]]
        let now = desk.ledger.clock.now()
        do {
            body = try event.encoded()
            keys = try desk.signingKeys(subscription, now: now.millisecondsSince1970)
        } catch {
            return .permanentFailure("the event cannot be signed: \(error)")
        }
        guard body.count <= Self.maxPayloadBytes else {
            return .permanentFailure("the event is larger than \(Self.maxPayloadBytes) bytes")
        }
        guard let url = try? desk.rules.check(subscription.url), let host = url.host else {
            return .permanentFailure("the subscription's address is no longer allowed")
        }
        do {
            guard try await desk.rules.resolvedAddressesArePublic(host) else {
                return .permanentFailure("\(host) resolves to an address that is not public")
            }
        } catch {
            return .transientFailure(String(describing: error))
        }
        let timestamp = Int64(now.timeIntervalSince1970.rounded(.down))
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "cubby-webhooks/1")
        request.headers.add(name: "webhook-id", value: messageId)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature",
            value: WebhookSignature.header(id: messageId, timestamp: timestamp, body: body, keys: keys))
        request.body = .bytes(ByteBuffer(bytes: body))
        let status: HTTPResponseStatus
        do {
            let response = try await Self.client.execute(request, timeout: Self.attemptTimeout, logger: nil)
            status = response.status
            // Read a little of the answer and drop the rest with the connection.
            var read = 0
            for try await chunk in response.body {
                read += chunk.readableBytes
                if read >= Self.maxResponseBytes { break }
            }
        } catch {
            return .transientFailure("request failed: \(Self.describe(error))")
        }
        switch status.code {
        case 200..<300:
            try? await desk.ledger.store.write { s in
                try await s.noteWebhookSuccess(subscription.id, at: desk.ledger.clock.now().millisecondsSince1970)
            }
            return .delivered
        case 410:
            do { try await desk.disable(subscription.id, .gone) } catch {
                logger.error("webhook subscription not disabled", metadata: ["error": "\(error)"])
            }
            return .permanentFailure("HTTP 410: the endpoint is gone; the subscription was disabled")
        case 413:
            return .permanentFailure("HTTP 413: the endpoint refuses the event's size")
        case 300..<400:
            return .transientFailure("HTTP \(status.code): redirects are not followed")
        default:
            return .transientFailure("HTTP \(status.code)")
        }
    }

    /// Disables a subscription whose every attempt failed for the whole retry span (none succeeded since the event).
    public func gaveUp(messageId: String, target: String, since: Int64, reason: String) async {
        do {
            let sub = try await desk.ledger.store.read { s in try await s.webhookSubscription(target) }
            guard let sub, sub.disabledAt == nil, (sub.lastSuccessAt ?? 0) < since else { return }
            try await desk.disable(target, .failing)
        } catch {
            logger.error("webhook subscription not disabled", metadata: ["error": "\(error)"])
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError { return String(describing: e) }
        return String(describing: type(of: error)) + ": " + String(describing: error).prefix(200)
    }
}
