import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation

/// One page of deliveries, newest first, and the cursor of the next page (nil: this was the last).
public struct DeliveryPage: Sendable {
    public var deliveries: [StaffDeliveryRecord]
    public var nextCursor: String?
}

/// The staff's view of the outbox: every delivery of the recipients' messages about their sites and of the webhook
/// subscriptions they see, with state, attempts and last error; "retry now" for a waiting one and "redeliver" for a
/// final one, each audited in its own transaction. Never a payload, a PIN or contact data.
public struct DeliveryDesk: Sendable {
    let ledger: Ledger

    /// The largest page of a list.
    public static let maxPageSize = 200
    /// The longest `kind` or `channel` a filter names.
    static let maxNameLength = 64

    public init(ledger: Ledger) {
        self.ledger = ledger
    }

    /// What `p` sees: its organization's recipients' messages at its sites (a super-administrator's: all of them) and
    /// the deliveries of the staff webhook subscriptions it sees.
    func scope(_ s: StoreSession, _ p: Principal) async throws -> DeliveryScope {
        let org = p.organizationId.idString
        let subscriptions = try await s.webhookSubscriptions(organization: org).filter { WebhookDesk.covers(p, $0) }
        return DeliveryScope(
            organizationId: org, siteIds: p.role == .superAdmin ? nil : p.siteIds.map(\.idString).sorted(),
            subscriptionIds: subscriptions.map(\.id))
    }

    /// The deliveries in reach that pass `filter` (its `before` and `limit` are set from `cursor` and `limit`).
    public func list(_ p: Principal, filter: DeliveryFilter, cursor: String? = nil) async throws -> DeliveryPage {
        try AccessPolicy.require(p, .readDeliveries)
        guard (1...Self.maxPageSize).contains(filter.limit) else {
            throw DomainError.invalidRequest("limit must be an integer in 1...\(Self.maxPageSize)")
        }
        var query = filter
        if let cursor {
            guard cursor.utf8.count <= 19, let id = Int64(cursor), id > 0 else {
                throw DomainError.invalidRequest("cursor is not one this server gave")
            }
            query.before = id
        }
        try Self.checkName(query.channel, "channel")
        try Self.checkName(query.kind, "kind")
        if let parcel = query.parcelId, EntityID.parse(parcel) == nil {
            throw DomainError.invalidRequest("parcelId must be a UUID")
        }
        query.parcelId = query.parcelId.flatMap(EntityID.parse)
        query.limit += 1
        let probe = query
        let rows = try await ledger.store.read { s in try await s.staffDeliveries(try await scope(s, p), probe) }
        let page = Array(rows.prefix(filter.limit))
        return DeliveryPage(
            deliveries: page,
            nextCursor: rows.count > filter.limit ? page.last.map { String($0.id) } : nil
        )
    }

    static func checkName(_ text: String?, _ field: String) throws {
        guard let text else { return }
        let ok =
            (1...maxNameLength).contains(text.utf8.count)
            && text.utf8.allSatisfy {
                RequestValidation.isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: "-")
            }
        guard ok else {
            throw DomainError.invalidRequest(
                "\(field) must be 1–\(maxNameLength) characters: letters, digits, '.', '_' or '-'")
        }
    }

    /// How many deliveries in reach each channel has in each state.
    public func summary(_ p: Principal) async throws -> [DeliveryCount] {
        try AccessPolicy.require(p, .readDeliveries)
        return try await ledger.store.read { s in try await s.deliveryCounts(try await scope(s, p)) }
    }

    /// One delivery in reach.
    public func get(_ p: Principal, id: Int64) async throws -> StaffDeliveryRecord {
        try AccessPolicy.require(p, .readDeliveries)
        return try await ledger.store.read { s in
            guard let d = try await s.staffDelivery(id, scope: try await scope(s, p)) else {
                throw DomainError.notFound("delivery \(id) not found")
            }
            return d
        }
    }

    /// A webhook subscription as the portal shows it: its newest deliveries and how many of all its deliveries
    /// failed (waiting for another attempt, or dead).
    public struct SubscriptionView: Sendable {
        public var subscription: WebhookSubscriptionRecord
        public var deliveries: [StaffDeliveryRecord]
        public var failures: Int
    }

    /// The staff webhook subscriptions in reach, oldest first, each with its newest deliveries.
    public func subscriptions(_ p: Principal, deliveries: Int = 10) async throws -> [SubscriptionView] {
        try AccessPolicy.require(p, .readDeliveries)
        return try await ledger.store.read { s in
            let org = p.organizationId.idString
            let subscriptions = try await s.webhookSubscriptions(organization: org).filter {
                WebhookDesk.covers(p, $0)
            }
            var out: [SubscriptionView] = []
            for r in subscriptions {
                let one = DeliveryScope(organizationId: org, siteIds: [], subscriptionIds: [r.id])
                let rows = try await s.staffDeliveries(
                    one, DeliveryFilter(channel: StoreSession.webhookChannel, limit: deliveries))
                let failures = try await s.deliveryCounts(one).filter { $0.state == "failed" || $0.state == "dead" }
                out.append(
                    SubscriptionView(
                        subscription: r, deliveries: rows,
                        failures: failures.reduce(0) { $0 + $1.count }))
            }
            return out
        }
    }

    /// Makes a failed delivery, or one waiting for its next attempt, due now; it keeps its attempts and retry span.
    public func retry(_ p: Principal, id: Int64) async throws -> StaffDeliveryRecord {
        try AccessPolicy.require(p, .retryDelivery)
        let now = ledger.clock.now().millisecondsSince1970
        return try await ledger.write { s in
            let before = try await inScope(s, p, id)
            switch DeliveryState(rawValue: before.state) {
            case .delivering: throw DeliveryError.inProgress
            case .delivered, .dead, nil: throw DeliveryError.alreadyFinal(before.state)
            case .pending, .failed: break
            }
            guard try await s.makeDeliveryDue(id, at: now) else { throw DeliveryError.inProgress }
            try await audit(s, .deliveryRetried, before, p)
            return try await after(s, p, id)
        }
    }

    /// Sends a final delivery (delivered or dead) again now with the same message id and a new retry span: a webhook
    /// event while its subscription is enabled, a recipient's message only while its sealed payload is kept.
    public func redeliver(_ p: Principal, id: Int64) async throws -> StaffDeliveryRecord {
        try AccessPolicy.require(p, .retryDelivery)
        let now = ledger.clock.now().millisecondsSince1970
        return try await ledger.write { s in
            let before = try await inScope(s, p, id)
            switch DeliveryState(rawValue: before.state) {
            case .delivering: throw DeliveryError.inProgress
            case .pending, .failed: throw DeliveryError.notFinal(before.state)
            case .delivered, .dead, nil: break
            }
            if let subscription = before.subscriptionId {
                guard let r = try await s.webhookSubscription(subscription, lock: true), WebhookDesk.covers(p, r) else {
                    throw DomainError.notFound("delivery \(id) not found")
                }
                guard r.disabledAt == nil else { throw DeliveryError.subscriptionDisabled }
            }
            _ = try await Self.sendAgain(s, before.delivery, at: now)
            try await audit(s, .deliveryRedelivered, before, p)
            return try await after(s, p, id)
        }
    }

    /// Sends one delivery again now with the same message id: a waiting one keeps its attempts and retry span, a final
    /// one starts a new span. Shared by the webhook subscriptions' API and the staff's view of every channel.
    static func sendAgain(_ s: StoreSession, _ d: DeliveryRecord, at now: Int64) async throws -> DeliveryRecord {
        guard d.state != DeliveryState.delivering.rawValue else { throw DeliveryError.inProgress }
        guard let payload = try await s.outboxPayload(d.messageId), payload.payload != nil,
            let after = try await s.redeliver(d.id, channel: d.channel, target: d.target, at: now)
        else { throw DeliveryError.messageErased }
        return after
    }

    func inScope(_ s: StoreSession, _ p: Principal, _ id: Int64) async throws -> StaffDeliveryRecord {
        guard let d = try await s.staffDelivery(id, scope: try await scope(s, p), lock: true) else {
            throw DomainError.notFound("delivery \(id) not found")
        }
        return d
    }

    func after(_ s: StoreSession, _ p: Principal, _ id: Int64) async throws -> StaffDeliveryRecord {
        guard let d = try await s.staffDelivery(id, scope: try await scope(s, p)) else {
            throw DomainError.notFound("delivery \(id) not found")
        }
        return d
    }

    func audit(_ s: StoreSession, _ type: AuditEventType, _ d: StaffDeliveryRecord, _ p: Principal) async throws {
        var detail = [
            "deliveryId": String(d.id), "messageId": d.messageId, "channel": d.channel, "kind": d.kind, "was": d.state,
        ]
        if let subscription = d.subscriptionId { detail["subscriptionId"] = subscription }
        try await s.appendAudit(
            AuditRecord(
                occurredAt: ledger.clock.now(), event: type, actor: p.actor, organizationId: p.organizationId.uuid,
                siteId: EntityID.uuid(d.siteId), parcelId: EntityID.uuid(d.parcelId), detail: detail))
    }
}
