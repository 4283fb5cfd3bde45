import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The webhook subscriptions' routes: thin handlers that check input and call the `WebhookDesk`.
struct WebhookRoutes {
    let desk: WebhookDesk

    func register(on routes: inout GuardedRouter) {
        routes.api(.post, "/api/v1/webhooks", .manageWebhooks) { req, ctx, p in
            let body = try await JSONBody.decode(
                CreateRequest.self, from: req, context: ctx, allowed: CreateRequest.fields)
            let made = try await desk.create(p, url: body.url, events: body.events)
            return JSONResponse.make(
                Body(made.record, secret: made.secret), status: .created,
                headers: [.location: "/api/v1/webhooks/\(made.record.id)"])
        }
        routes.api(.get, "/api/v1/webhooks", .readWebhooks) { req, _, p in
            if let key = req.uri.queryParameters.first?.key {
                throw APIError.invalidRequest("unknown query parameter \(key)")
            }
            return JSONResponse.make(ListBody(webhooks: try await desk.list(p).map { Body($0) }))
        }
        routes.api(.get, "/api/v1/webhooks/:webhookId", .readWebhooks) { _, ctx, p in
            JSONResponse.make(Body(try await desk.get(p, id: try RequestValidation.pathID(ctx, "webhookId"))))
        }
        routes.api(.patch, "/api/v1/webhooks/:webhookId", .manageWebhooks) { req, ctx, p in
            let id = try RequestValidation.pathID(ctx, "webhookId")
            let body = try await JSONBody.decode(
                PatchRequest.self, from: req, context: ctx, allowed: PatchRequest.fields)
            guard body.url != nil || body.events != nil || body.enabled != nil else {
                throw APIError.invalidRequest("send at least one of url, events, enabled")
            }
            return JSONResponse.make(
                Body(try await desk.update(p, id: id, url: body.url, events: body.events, enabled: body.enabled)))
        }
        routes.api(.delete, "/api/v1/webhooks/:webhookId", .manageWebhooks) { _, ctx, p in
            try await desk.delete(p, id: try RequestValidation.pathID(ctx, "webhookId"))
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
        routes.api(.post, "/api/v1/webhooks/:webhookId/rotate-secret", .manageWebhooks) { _, ctx, p in
            let made = try await desk.rotateSecret(p, id: try RequestValidation.pathID(ctx, "webhookId"))
            return JSONResponse.make(Body(made.record, secret: made.secret))
        }
        routes.api(.get, "/api/v1/webhooks/:webhookId/deliveries", .readWebhooks) { _, ctx, p in
            let rows = try await desk.deliveries(p, id: try RequestValidation.pathID(ctx, "webhookId"))
            return JSONResponse.make(DeliveryListBody(deliveries: rows.map(DeliveryBody.init)))
        }
        routes.api(.post, "/api/v1/webhooks/:webhookId/deliveries/:deliveryId/redeliver", .manageWebhooks) {
            _, ctx, p in
            let id = try RequestValidation.pathID(ctx, "webhookId")
            guard let text = ctx.parameters.get("deliveryId"), let delivery = Int64(text), delivery > 0 else {
                throw DomainError.notFound("delivery not found")
            }
            return JSONResponse.make(DeliveryBody(try await desk.redeliver(p, id: id, delivery: delivery)))
        }
    }

    // MARK: bodies

    /// One delivery of a subscription: its event's `webhook-id` (`messageId`), state, attempts and last error.
    struct DeliveryBody: Encodable {
        var id: Int64
        var messageId, state: String
        var attempts: Int64
        var nextAttemptAt: String?
        var lastError: String?
        var createdAt, updatedAt: String
        var deliveredAt: String?

        init(_ d: DeliveryRecord) {
            func time(_ ms: Int64) -> String { AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: ms)) }
            id = d.id
            messageId = d.messageId
            state = d.state
            attempts = d.attempts
            // A final delivery has no next attempt; one being delivered is retried at the end of its lease.
            nextAttemptAt = DeliveryState(rawValue: d.state)?.isFinal == true ? nil : time(d.nextAttemptAt)
            lastError = d.lastError
            createdAt = time(d.createdAt)
            updatedAt = time(d.updatedAt)
            deliveredAt = d.deliveredAt.map(time)
        }

        enum CodingKeys: String, CodingKey {
            case id, messageId, state, attempts, nextAttemptAt, lastError, createdAt, updatedAt, deliveredAt
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(messageId, forKey: .messageId)
            try c.encode(state, forKey: .state)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(nextAttemptAt, forKey: .nextAttemptAt)
            try c.encode(lastError, forKey: .lastError)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(updatedAt, forKey: .updatedAt)
            try c.encode(deliveredAt, forKey: .deliveredAt)
        }
    }

    struct DeliveryListBody: Encodable {
        var deliveries: [DeliveryBody]
    }

    struct CreateRequest: Decodable {
        var url: String
        var events: [String]
        static let fields: Set<String> = ["url", "events"]
    }

    /// A change: an absent field stays; none of them can be null.
    struct PatchRequest: Decodable {
        var url: String?
        var events: [String]?
        var enabled: Bool?
        static let fields: Set<String> = ["url", "events", "enabled"]

        enum CodingKeys: String, CodingKey { case url, events, enabled }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func value<T: Decodable>(_ type: T.Type, _ key: CodingKeys) throws -> T? {
                c.contains(key) ? try c.decode(type, forKey: key) : nil
            }
            url = try value(String.self, .url)
            events = try value([String].self, .events)
            enabled = try value(Bool.self, .enabled)
        }
    }

    /// A subscription as its owner sees it; `secret` only in the answer that made it.
    struct Body: Encodable {
        var id, url: String
        var events: [String]
        var owner: String
        var carrierId: String?
        var siteIds: [String]?
        var enabled: Bool
        var disabledAt, disabledReason: String?
        var previousSecretExpiresAt: String?
        var lastSuccessAt: String?
        var createdAt, updatedAt: String
        var secret: String?

        init(_ r: WebhookSubscriptionRecord, secret: String? = nil) {
            func time(_ ms: Int64) -> String { AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: ms)) }
            id = r.id
            url = r.url
            events = r.eventTypes.map(\.rawValue)
            owner = WebhookDesk.owner(r)
            carrierId = r.carrierId
            siteIds = r.sites.map { $0.sorted() }
            enabled = r.disabledAt == nil
            disabledAt = r.disabledAt.map(time)
            disabledReason = r.disabledReason
            previousSecretExpiresAt = r.previousSecretUntil.map(time)
            lastSuccessAt = r.lastSuccessAt.map(time)
            createdAt = time(r.createdAt)
            updatedAt = time(r.updatedAt)
            self.secret = secret
        }

        enum CodingKeys: String, CodingKey {
            case id, url, events, owner, carrierId, siteIds, enabled, disabledAt, disabledReason
            case previousSecretExpiresAt, lastSuccessAt, createdAt, updatedAt, secret
        }

        /// Empty fields are sent as null, never left out; `secret` appears only when there is one to show.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(url, forKey: .url)
            try c.encode(events, forKey: .events)
            try c.encode(owner, forKey: .owner)
            try c.encode(carrierId, forKey: .carrierId)
            try c.encode(siteIds, forKey: .siteIds)
            try c.encode(enabled, forKey: .enabled)
            try c.encode(disabledAt, forKey: .disabledAt)
            try c.encode(disabledReason, forKey: .disabledReason)
            try c.encode(previousSecretExpiresAt, forKey: .previousSecretExpiresAt)
            try c.encode(lastSuccessAt, forKey: .lastSuccessAt)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(updatedAt, forKey: .updatedAt)
            try c.encodeIfPresent(secret, forKey: .secret)
        }
    }

    struct ListBody: Encodable {
        var webhooks: [Body]
    }
}
