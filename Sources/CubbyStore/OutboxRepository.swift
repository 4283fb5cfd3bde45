import CubbyCore
import Foundation
import SQLKit

/// The states of one delivery of an outbox message.
public enum DeliveryState: String, Sendable, Codable, CaseIterable {
    /// Waiting for its first attempt.
    case pending
    /// Claimed by a worker whose lease has not run out.
    case delivering
    /// Delivered; final.
    case delivered
    /// The last attempt failed; another one is due at `nextAttemptAt`.
    case failed
    /// Given up: a permanent failure, or the retry span ran out; final.
    case dead

    public var isFinal: Bool { self == .delivered || self == .dead }
}

/// One delivery of a message to one channel and target, as a worker claimed it, with the message's payload.
public struct ClaimedDelivery: Codable, Sendable, Hashable {
    public var id: Int64
    public var messageId: String
    public var channel: String
    public var target: String
    public var attempts: Int64
    public var createdAt: Int64
    public var leaseToken: String?
    public var kind: String
    public var payload: Data?
    public var sealed: Bool
}

/// One delivery as the outbox keeps it.
public struct DeliveryRecord: Codable, Sendable, Hashable {
    public var id: Int64
    public var messageId: String
    public var channel: String
    public var target: String
    public var state: String
    public var attempts: Int64
    public var nextAttemptAt: Int64
    public var lastError: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var deliveredAt: Int64?
}

/// A message waiting in the outbox, to be delivered on each of `channels` (pairs of channel and target).
public struct OutboxMessage: Sendable {
    public var id: String
    public var kind: String
    public var organizationId: String?
    public var recipientId: String?
    public var parcelId: String?
    public var payload: Data
    /// Whether `payload` is sealed (it holds a PIN or a code); webhook events hold ids only and are not.
    public var sealed: Bool
    public var deliveries: [(channel: String, target: String)]
    /// When a channel's deliveries are due, if later than the message (an SMS reminder held through quiet hours).
    public var dueAt: [String: Int64]

    public init(
        id: String, kind: String, organizationId: String? = nil, recipientId: String? = nil, parcelId: String? = nil,
        payload: Data, sealed: Bool, deliveries: [(channel: String, target: String)], dueAt: [String: Int64] = [:]
    ) {
        self.id = id
        self.kind = kind
        self.organizationId = organizationId
        self.recipientId = recipientId
        self.parcelId = parcelId
        self.payload = payload
        self.sealed = sealed
        self.deliveries = deliveries
        self.dueAt = dueAt
    }
}

/// The outbox: messages written in the transaction of the change that causes them, each delivered once per channel
/// and target by workers that claim deliveries with a lease.
extension StoreSession {
    /// Writes a message and its deliveries, due at `at` unless the message's `dueAt` holds a channel's later.
    public func enqueue(_ m: OutboxMessage, at: Int64) async throws {
        try await sql.raw(
            """
            INSERT INTO outbox_messages (id, kind, organization_id, recipient_id, parcel_id, payload, sealed, created_at)
            VALUES (\(bind: m.id), \(bind: m.kind), \(bind: m.organizationId), \(bind: m.recipientId), \(bind: m.parcelId),
              \(bind: m.payload), \(bind: m.sealed), \(bind: at))
            """
        ).run()
        guard !m.deliveries.isEmpty else {
            try await sql.raw(
                "UPDATE outbox_messages SET payload = NULL, finished_at = \(bind: at) WHERE id = \(bind: m.id)"
            ).run()
            return
        }
        var query: SQLQueryString = """
            INSERT INTO outbox_deliveries (message_id, channel, target, state, attempts, next_attempt_at, created_at,
              updated_at) VALUES\u{20}
            """
        for (i, d) in m.deliveries.enumerated() {
            if i > 0 { query.appendLiteral(", ") }
            let due = max(at, m.dueAt[d.channel] ?? at)
            query +=
                "(\(bind: m.id), \(bind: d.channel), \(bind: d.target), 'pending', 0, \(bind: due), \(bind: at), \(bind: at))"
        }
        try await sql.raw(query).run()
        try await markOutboxWritten()
    }

    /// A recipient's notification with a sealed payload, to be delivered on each of `channels` (a channel named in
    /// `dueAt` not before its time there).
    public func enqueueNotification(
        id: String, kind: String, recipient: String, parcel: String?, payload: Data, channels: [String], at: Int64,
        dueAt: [String: Int64] = [:]
    ) async throws {
        try await enqueue(
            OutboxMessage(
                id: id, kind: kind, recipientId: recipient, parcelId: parcel, payload: payload, sealed: true,
                deliveries: channels.map { ($0, recipient) }, dueAt: dueAt), at: at)
    }

    /// Claims up to `limit` deliveries of `channel` that are due at `now` (first tries, retries, and claims whose lease
    /// ran out): each becomes `delivering` under `token` until `leaseUntil`, with one more attempt counted. On
    /// PostgreSQL rows another transaction holds are skipped, so concurrent workers never claim the same delivery.
    public func claimDeliveries(channel: String, now: Int64, leaseUntil: Int64, token: String, limit: Int) async throws
        -> [ClaimedDelivery]
    {
        let skip: SQLQueryString = kind == .postgres ? " FOR UPDATE OF d SKIP LOCKED" : ""
        let rows = try await all(
            """
            SELECT d.id, d.message_id, d.channel, d.target, d.attempts, d.created_at, d.lease_token, m.kind, m.payload,
              m.sealed
            FROM outbox_deliveries d JOIN outbox_messages m ON m.id = d.message_id
            WHERE d.channel = \(bind: channel) AND d.state IN ('pending','delivering','failed')
              AND d.next_attempt_at <= \(bind: now)
            ORDER BY d.next_attempt_at, d.id LIMIT \(bind: limit)\(skip)
            """, as: ClaimedDelivery.self)
        guard !rows.isEmpty else { return [] }
        var ids = SQLQueryString("")
        for (i, r) in rows.enumerated() {
            if i > 0 { ids.appendLiteral(", ") }
            ids += "\(bind: r.id)"
        }
        try await sql.raw(
            """
            UPDATE outbox_deliveries SET state = 'delivering', attempts = attempts + 1,
              next_attempt_at = \(bind: leaseUntil), lease_token = \(bind: token), updated_at = \(bind: now)
            WHERE id IN (\(ids))
            """
        ).run()
        return rows.map {
            var r = $0
            r.attempts += 1
            r.leaseToken = token
            return r
        }
    }

    /// Records a delivery's outcome if the worker still holds its lease (another worker that took over a lapsed lease
    /// records its own); when every delivery of the message is final, the payload is erased. `error` is kept masked
    /// (`DeliveryErrorText`). Returns whether it recorded.
    @discardableResult
    public func finishDelivery(
        _ d: ClaimedDelivery, state: DeliveryState, retryAt: Int64?, error: String?, at now: Int64
    ) async throws -> Bool {
        let recorded = try await sql.raw(
            """
            UPDATE outbox_deliveries SET state = \(bind: state.rawValue),
              next_attempt_at = \(bind: retryAt ?? now), last_error = \(bind: error.map(DeliveryErrorText.masked)),
              lease_token = NULL, updated_at = \(bind: now),
              delivered_at = \(bind: state == .delivered ? now : nil)
            WHERE id = \(bind: d.id) AND lease_token = \(bind: d.leaseToken) AND state = 'delivering'
            RETURNING id
            """
        ).all()
        guard !recorded.isEmpty else { return false }
        if state.isFinal { try await finishMessageIfDone(d.messageId, at: now) }
        return true
    }

    /// Marks a message finished once none of its deliveries can run again, and erases its payload if it is sealed (it
    /// holds a PIN or a code). A plain payload (a webhook event: ids only) is kept, so that it can be sent again.
    func finishMessageIfDone(_ messageId: String, at now: Int64) async throws {
        try await sql.raw(
            """
            UPDATE outbox_messages SET payload = CASE WHEN sealed THEN NULL ELSE payload END, finished_at = \(bind: now)
            WHERE id = \(bind: messageId) AND finished_at IS NULL AND NOT EXISTS (
              SELECT 1 FROM outbox_deliveries WHERE message_id = \(bind: messageId)
                AND state NOT IN ('delivered','dead'))
            """
        ).run()
    }

    /// Gives up every delivery to a target that can no longer take them (a deleted or disabled webhook subscription).
    public func abandonDeliveries(channel: String, target: String, reason: String, at now: Int64) async throws {
        let messages = try await sql.raw(
            """
            UPDATE outbox_deliveries SET state = 'dead', last_error = \(bind: reason), lease_token = NULL,
              updated_at = \(bind: now)
            WHERE channel = \(bind: channel) AND target = \(bind: target) AND state IN ('pending','delivering','failed')
            RETURNING message_id
            """
        ).all().map { try $0.decode(column: "message_id", as: String.self) }
        for m in Set(messages) { try await finishMessageIfDone(m, at: now) }
    }

    /// Masks the errors kept before the outbox masked them (`DeliveryErrorText`); returns how many changed.
    @discardableResult
    public func maskDeliveryErrors() async throws -> Int {
        struct Row: Decodable {
            var id: Int64
            var lastError: String
        }
        var after: Int64 = 0
        var changed = 0
        while true {
            let rows = try await all(
                """
                SELECT id, last_error FROM outbox_deliveries WHERE last_error IS NOT NULL AND id > \(bind: after)
                ORDER BY id LIMIT 1000
                """, as: Row.self)
            guard let last = rows.last else { return changed }
            after = last.id
            for row in rows {
                let masked = DeliveryErrorText.masked(row.lastError)
                guard masked != row.lastError else { continue }
                try await sql.raw(
                    "UPDATE outbox_deliveries SET last_error = \(bind: masked) WHERE id = \(bind: row.id)"
                ).run()
                changed += 1
            }
        }
    }

    /// Messages with deliveries not yet final.
    public func pendingNotificationCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM outbox_messages WHERE finished_at IS NULL").first()?.decode(
            column: "n", as: Int.self) ?? 0
    }

    /// A message's payload while it is kept (nil once every delivery is final), and whether it is sealed.
    public func outboxPayload(_ messageId: String) async throws -> (payload: Data?, sealed: Bool)? {
        guard
            let row = try await sql.raw(
                "SELECT payload, sealed FROM outbox_messages WHERE id = \(bind: messageId)"
            ).first()
        else { return nil }
        return (try row.decode(column: "payload", as: Data?.self), try row.decode(column: "sealed", as: Bool.self))
    }

    /// The ids of messages of `kind` about a parcel, oldest first.
    public func outboxMessageIds(parcel: String, kind: String? = nil) async throws -> [String] {
        var k = SQLQueryString("")
        if let kind { k += " AND kind = \(bind: kind)" }
        return try await sql.raw(
            "SELECT id FROM outbox_messages WHERE parcel_id = \(bind: parcel)\(k) ORDER BY created_at, id"
        ).all().map { try $0.decode(column: "id", as: String.self) }
    }

    /// One delivery.
    public func delivery(_ id: Int64) async throws -> DeliveryRecord? {
        try await one(
            """
            SELECT id, message_id, channel, target, state, attempts, next_attempt_at, last_error, created_at, updated_at,
              delivered_at FROM outbox_deliveries WHERE id = \(bind: id)
            """, as: DeliveryRecord.self)
    }

    /// The newest deliveries to a channel's target, newest first.
    public func recentDeliveries(channel: String, target: String, limit: Int) async throws -> [DeliveryRecord] {
        try await all(
            """
            SELECT id, message_id, channel, target, state, attempts, next_attempt_at, last_error, created_at, updated_at,
              delivered_at FROM outbox_deliveries WHERE channel = \(bind: channel) AND target = \(bind: target)
            ORDER BY id DESC LIMIT \(bind: limit)
            """, as: DeliveryRecord.self)
    }

    /// Makes a delivery to a channel's target due now: a pending or failed one keeps its attempts and retry span, a
    /// dead or delivered one starts a new span. Nil when there is no such delivery, it is being delivered, or its
    /// message's payload is gone (a sealed one is erased once final).
    public func redeliver(_ id: Int64, channel: String, target: String, at now: Int64) async throws -> DeliveryRecord? {
        let messages = try await sql.raw(
            """
            UPDATE outbox_deliveries SET state = 'pending', next_attempt_at = \(bind: now), lease_token = NULL,
              created_at = CASE WHEN state IN ('dead','delivered') THEN \(bind: now) ELSE created_at END,
              updated_at = \(bind: now), delivered_at = NULL
            WHERE id = \(bind: id) AND channel = \(bind: channel) AND target = \(bind: target) AND state <> 'delivering'
              AND EXISTS (SELECT 1 FROM outbox_messages m WHERE m.id = outbox_deliveries.message_id AND m.payload IS NOT NULL)
            RETURNING message_id
            """
        ).all().map { try $0.decode(column: "message_id", as: String.self) }
        guard let message = messages.first else { return nil }
        try await sql.raw("UPDATE outbox_messages SET finished_at = NULL WHERE id = \(bind: message)").run()
        try await markOutboxWritten()
        return try await deliveries(message: message, channel: channel, target: target).first
    }

    /// The deliveries of a message, or of every message when nil, oldest first.
    public func deliveries(message: String? = nil, channel: String? = nil, target: String? = nil) async throws
        -> [DeliveryRecord]
    {
        var query: SQLQueryString = """
            SELECT id, message_id, channel, target, state, attempts, next_attempt_at, last_error, created_at, updated_at,
              delivered_at FROM outbox_deliveries WHERE 1 = 1
            """
        if let message { query += " AND message_id = \(bind: message)" }
        if let channel { query += " AND channel = \(bind: channel)" }
        if let target { query += " AND target = \(bind: target)" }
        query += " ORDER BY id"
        return try await all(query, as: DeliveryRecord.self)
    }
}
