import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import Hummingbird

/// The staff's view of the outbox's deliveries: thin handlers that check input and call the `DeliveryDesk`.
struct DeliveryRoutes {
    let desk: DeliveryDesk

    static let listParameters: Set<String> = ["channel", "state", "parcelId", "kind", "limit", "cursor"]

    func register(on routes: inout GuardedRouter) {
        routes.api(.get, "/api/v1/deliveries", .readDeliveries) { req, _, p in
            let query = req.uri.queryParameters
            for (key, _) in query where !Self.listParameters.contains(String(key)) {
                throw APIError.invalidRequest(
                    "unknown query parameter \(key); use channel, state, parcelId, kind, limit, cursor")
            }
            let filter = DeliveryFilter(
                channel: query.get("channel"), state: try Self.state(query.get("state")),
                parcelId: query.get("parcelId"), kind: query.get("kind"),
                limit: try RequestValidation.query(req, "limit", 50, 1...DeliveryDesk.maxPageSize))
            let page = try await desk.list(p, filter: filter, cursor: query.get("cursor"))
            return JSONResponse.make(
                ListBody(deliveries: page.deliveries.map(Body.init), nextCursor: page.nextCursor))
        }
        routes.api(.get, "/api/v1/deliveries/summary", .readDeliveries) { req, _, p in
            if let key = req.uri.queryParameters.first?.key {
                throw APIError.invalidRequest("unknown query parameter \(key)")
            }
            return JSONResponse.make(SummaryBody(try await desk.summary(p)))
        }
        routes.api(.post, "/api/v1/deliveries/:deliveryId/retry", .retryDelivery) { _, ctx, p in
            JSONResponse.make(Body(try await desk.retry(p, id: try Self.deliveryID(ctx))))
        }
        routes.api(.post, "/api/v1/deliveries/:deliveryId/redeliver", .retryDelivery) { _, ctx, p in
            JSONResponse.make(Body(try await desk.redeliver(p, id: try Self.deliveryID(ctx))))
        }
    }

    /// A delivery id in a path: anything but a positive integer cannot exist.
    static func deliveryID(_ ctx: CubbyRequestContext) throws -> Int64 {
        guard let text = ctx.parameters.get("deliveryId"), text.utf8.count <= 19,
            text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = Int64(text), id > 0
        else { throw DomainError.notFound("delivery not found") }
        return id
    }

    static func state(_ text: String?) throws -> DeliveryState? {
        guard let text else { return nil }
        guard let state = DeliveryState(rawValue: text) else {
            throw APIError.invalidRequest(
                "state must be one of " + DeliveryState.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return state
    }

    // MARK: bodies

    /// One delivery: never its payload, its target's contact data or a PIN.
    struct Body: Encodable {
        var id: Int64
        var messageId, kind, channel, state: String
        var attempts: Int64
        var nextAttemptAt, lastError: String?
        var createdAt, updatedAt: String
        var deliveredAt, parcelId, recipientId, subscriptionId: String?

        init(_ d: StaffDeliveryRecord) {
            func time(_ ms: Int64) -> String { AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: ms)) }
            id = d.id
            messageId = d.messageId
            kind = d.kind
            channel = d.channel
            state = d.state
            attempts = d.attempts
            // A final delivery has no next attempt; one being delivered is retried at the end of its lease.
            nextAttemptAt = DeliveryState(rawValue: d.state)?.isFinal == true ? nil : time(d.nextAttemptAt)
            lastError = d.lastError
            createdAt = time(d.createdAt)
            updatedAt = time(d.updatedAt)
            deliveredAt = d.deliveredAt.map(time)
            parcelId = d.parcelId
            recipientId = d.subscriptionId == nil ? d.recipientId : nil
            subscriptionId = d.subscriptionId
        }

        enum CodingKeys: String, CodingKey {
            case id, messageId, kind, channel, state, attempts, nextAttemptAt, lastError, createdAt, updatedAt
            case deliveredAt, parcelId, recipientId, subscriptionId
        }

        /// Empty fields are sent as null, never left out.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(messageId, forKey: .messageId)
            try c.encode(kind, forKey: .kind)
            try c.encode(channel, forKey: .channel)
            try c.encode(state, forKey: .state)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(nextAttemptAt, forKey: .nextAttemptAt)
            try c.encode(lastError, forKey: .lastError)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(updatedAt, forKey: .updatedAt)
            try c.encode(deliveredAt, forKey: .deliveredAt)
            try c.encode(parcelId, forKey: .parcelId)
            try c.encode(recipientId, forKey: .recipientId)
            try c.encode(subscriptionId, forKey: .subscriptionId)
        }
    }

    struct ListBody: Encodable {
        var deliveries: [Body]
        var nextCursor: String?

        enum CodingKeys: String, CodingKey { case deliveries, nextCursor }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(deliveries, forKey: .deliveries)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
    }

    /// Counts per channel, one field per state (zero included), and the total per state.
    struct SummaryBody: Encodable {
        struct Row: Encodable {
            var channel: String
            var pending = 0, delivering = 0, delivered = 0, failed = 0, dead = 0
        }
        var channels: [Row]
        var total: Row

        init(_ counts: [DeliveryCount]) {
            var rows: [String: Row] = [:]
            var total = Row(channel: "all")
            for c in counts {
                var row = rows[c.channel] ?? Row(channel: c.channel)
                Self.add(c.count, c.state, to: &row)
                Self.add(c.count, c.state, to: &total)
                rows[c.channel] = row
            }
            channels = rows.keys.sorted().compactMap { rows[$0] }
            self.total = total
        }

        static func add(_ n: Int, _ state: String, to row: inout Row) {
            switch DeliveryState(rawValue: state) {
            case .pending: row.pending += n
            case .delivering: row.delivering += n
            case .delivered: row.delivered += n
            case .failed: row.failed += n
            case .dead: row.dead += n
            case nil: break
            }
        }
    }
}
