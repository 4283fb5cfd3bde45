import CubbyCore
import Foundation
import SQLKit

/// One delivery as staff see it: its state and its message's kind, parcel and recipient, never the payload.
public struct StaffDeliveryRecord: Codable, Sendable, Hashable {
    public var id: Int64
    public var messageId: String
    public var kind: String
    public var channel: String
    /// The recipient's id for a recipient's channel, the subscription's id for a webhook.
    public var target: String
    public var state: String
    public var attempts: Int64
    public var nextAttemptAt: Int64
    public var lastError: String?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var deliveredAt: Int64?
    public var parcelId: String?
    public var recipientId: String?
    /// The site of the message's parcel, or of its recipient; nil for a webhook event about no parcel.
    public var siteId: String?
    /// Whether the message's payload is still kept (a sealed one is erased once every delivery of it is final).
    public var payloadKept: Bool

    /// The subscription a webhook delivery goes to.
    public var subscriptionId: String? { channel == StoreSession.webhookChannel ? target : nil }

    /// The delivery as the outbox keeps it.
    public var delivery: DeliveryRecord {
        DeliveryRecord(
            id: id, messageId: messageId, channel: channel, target: target, state: state, attempts: attempts,
            nextAttemptAt: nextAttemptAt, lastError: lastError, createdAt: createdAt, updatedAt: updatedAt,
            deliveredAt: deliveredAt)
    }
}

/// Which deliveries a staff member sees: recipients' messages about parcels (or, for a sign-in code, recipients) at
/// its sites, and the deliveries of the webhook subscriptions it may see.
public struct DeliveryScope: Sendable {
    public var organizationId: String
    /// nil: every site of the organization.
    public var siteIds: [String]?
    public var subscriptionIds: [String]

    public init(organizationId: String, siteIds: [String]?, subscriptionIds: [String]) {
        self.organizationId = organizationId
        self.siteIds = siteIds
        self.subscriptionIds = subscriptionIds
    }
}

/// What a list of deliveries is narrowed to; `before` is a delivery id (newest first, keyset paging).
public struct DeliveryFilter: Sendable {
    public var channel: String?
    public var state: DeliveryState?
    public var parcelId: String?
    public var kind: String?
    public var before: Int64?
    public var limit: Int

    public init(
        channel: String? = nil, state: DeliveryState? = nil, parcelId: String? = nil, kind: String? = nil,
        before: Int64? = nil, limit: Int
    ) {
        self.channel = channel
        self.state = state
        self.parcelId = parcelId
        self.kind = kind
        self.before = before
        self.limit = limit
    }
}

/// How many deliveries of one channel are in one state.
public struct DeliveryCount: Codable, Sendable, Hashable {
    public var channel: String
    public var state: String
    public var count: Int
}

/// The staff's view of the outbox: deliveries in scope, their counts, and making one due now.
extension StoreSession {
    static let staffDeliveryColumns: SQLQueryString = """
        SELECT d.id, d.message_id, m.kind, d.channel, d.target, d.state, d.attempts, d.next_attempt_at, d.last_error,
          d.created_at, d.updated_at, d.delivered_at, m.parcel_id, m.recipient_id,
          COALESCE(p.site_id, r.site_id) AS site_id, (m.payload IS NOT NULL) AS payload_kept
        """

    /// The joins and the condition that keep a query within `scope`.
    func scoped(_ scope: DeliveryScope) -> SQLQueryString {
        var q: SQLQueryString = """
             FROM outbox_deliveries d JOIN outbox_messages m ON m.id = d.message_id
            LEFT JOIN parcels p ON p.id = m.parcel_id LEFT JOIN recipients r ON r.id = m.recipient_id
            WHERE ((d.channel <> \(bind: Self.webhookChannel)
              AND COALESCE(p.organization_id, r.organization_id) = \(bind: scope.organizationId)
            """
        if let sites = scope.siteIds {
            q += " AND COALESCE(p.site_id, r.site_id) IN (\(list(sites)))"
        }
        q.appendLiteral(")")
        if !scope.subscriptionIds.isEmpty {
            q += " OR (d.channel = \(bind: Self.webhookChannel) AND d.target IN (\(list(scope.subscriptionIds))))"
        }
        q.appendLiteral(")")
        return q
    }

    /// A list of bound values; an empty one matches nothing.
    func list(_ values: [String]) -> SQLQueryString {
        guard !values.isEmpty else { return "NULL" }
        var q = SQLQueryString("")
        for (i, v) in values.enumerated() {
            if i > 0 { q.appendLiteral(", ") }
            q += "\(bind: v)"
        }
        return q
    }

    /// The deliveries in scope that pass `filter`, newest first, at most `filter.limit`.
    public func staffDeliveries(_ scope: DeliveryScope, _ filter: DeliveryFilter) async throws
        -> [StaffDeliveryRecord]
    {
        var q = Self.staffDeliveryColumns + scoped(scope)
        if let channel = filter.channel { q += " AND d.channel = \(bind: channel)" }
        if let state = filter.state { q += " AND d.state = \(bind: state.rawValue)" }
        if let parcel = filter.parcelId { q += " AND m.parcel_id = \(bind: parcel)" }
        if let kind = filter.kind { q += " AND m.kind = \(bind: kind)" }
        if let before = filter.before { q += " AND d.id < \(bind: before)" }
        q += " ORDER BY d.id DESC LIMIT \(bind: filter.limit)"
        return try await all(q, as: StaffDeliveryRecord.self)
    }

    /// One delivery in scope; with `lock`, its row stays locked until the transaction ends (PostgreSQL).
    public func staffDelivery(_ id: Int64, scope: DeliveryScope, lock: Bool = false) async throws
        -> StaffDeliveryRecord?
    {
        let locking: SQLQueryString = lock && kind == .postgres ? " FOR UPDATE OF d" : ""
        return try await one(
            Self.staffDeliveryColumns + scoped(scope) + " AND d.id = \(bind: id)" + locking,
            as: StaffDeliveryRecord.self)
    }

    /// How many deliveries in scope each channel has in each state.
    public func deliveryCounts(_ scope: DeliveryScope) async throws -> [DeliveryCount] {
        try await all(
            "SELECT d.channel, d.state, COUNT(*) AS count" + scoped(scope)
                + " GROUP BY d.channel, d.state ORDER BY d.channel, d.state",
            as: DeliveryCount.self)
    }

    /// Makes a waiting delivery (pending or failed) due at `now`, keeping its attempts and retry span. False when it
    /// is no longer waiting.
    public func makeDeliveryDue(_ id: Int64, at now: Int64) async throws -> Bool {
        !(try await sql.raw(
            """
            UPDATE outbox_deliveries SET next_attempt_at = \(bind: now), updated_at = \(bind: now)
            WHERE id = \(bind: id) AND state IN ('pending','failed') RETURNING id
            """
        ).all()).isEmpty
    }
}
