import CubbyAudit
import CubbyCore
import Foundation
import SQLKit

/// A webhook subscription as stored: its signing secrets are sealed by the server.
public struct WebhookSubscriptionRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    /// A carrier's subscription (its own parcels only); nil for a staff subscription.
    public var carrierId: String?
    /// A staff subscription's sites, comma-separated; nil for the whole organization.
    public var siteIds: String?
    public var url: String
    /// The event types, comma-separated.
    public var events: String
    public var secret: Data
    /// The secret before the last rotation, still used to sign until `previousSecretUntil`.
    public var previousSecret: Data?
    public var previousSecretUntil: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64
    public var disabledAt: Int64?
    public var disabledReason: String?
    public var lastSuccessAt: Int64?

    public init(
        id: String, organizationId: String, carrierId: String?, siteIds: Set<String>?, url: String,
        events: [WebhookEventType], secret: Data, at: Int64
    ) {
        self.id = id
        self.organizationId = organizationId
        self.carrierId = carrierId
        self.siteIds = siteIds.map { $0.sorted().joined(separator: ",") }
        self.url = url
        self.events = Self.join(events)
        self.secret = secret
        self.createdAt = at
        self.updatedAt = at
    }

    static func join(_ events: [WebhookEventType]) -> String {
        Set(events).map(\.rawValue).sorted().joined(separator: ",")
    }

    /// The event types it asks for, sorted.
    public var eventTypes: [WebhookEventType] {
        events.split(separator: ",").compactMap { WebhookEventType(rawValue: String($0)) }
    }

    public mutating func setEvents(_ types: [WebhookEventType]) { events = Self.join(types) }

    /// A staff subscription's sites; nil for the whole organization (or for a carrier's subscription).
    public var sites: Set<String>? { siteIds.map { Set($0.split(separator: ",").map(String.init)) } }

    /// Whether the subscription receives `type` about something at `site` handled by `carrier`.
    func wants(_ type: WebhookEventType, site: String?, carrier: String?) -> Bool {
        guard disabledAt == nil, eventTypes.contains(type) else { return false }
        if let carrierId {
            return !type.staffOnly && carrier == carrierId
        }
        guard let sites else { return true }
        return site.map(sites.contains) ?? false
    }
}

/// Webhook subscriptions and the events they are sent, written in the transaction of the change that causes them.
extension StoreSession {
    /// The outbox channel of webhook deliveries; the target is the subscription's id.
    public static let webhookChannel = "webhook"
    /// The outbox message kind of webhook events.
    public static let webhookKind = "webhook.event"

    public func insertWebhookSubscription(_ r: WebhookSubscriptionRecord) async throws {
        try await insert("webhook_subscriptions", r)
    }

    /// One subscription, locked until the transaction ends (PostgreSQL).
    public func webhookSubscription(_ id: String, lock: Bool = false) async throws -> WebhookSubscriptionRecord? {
        try await one(
            "SELECT * FROM webhook_subscriptions WHERE id = \(bind: id)\(lock ? forUpdate : "")",
            as: WebhookSubscriptionRecord.self)
    }

    /// The subscriptions of an organization, oldest first.
    public func webhookSubscriptions(organization: String) async throws -> [WebhookSubscriptionRecord] {
        try await all(
            "SELECT * FROM webhook_subscriptions WHERE organization_id = \(bind: organization) ORDER BY created_at, id",
            as: WebhookSubscriptionRecord.self)
    }

    public func saveWebhookSubscription(_ r: WebhookSubscriptionRecord) async throws {
        try await sql.raw(
            """
            UPDATE webhook_subscriptions SET url = \(bind: r.url), events = \(bind: r.events), secret = \(bind: r.secret),
              previous_secret = \(bind: r.previousSecret), previous_secret_until = \(bind: r.previousSecretUntil),
              updated_at = \(bind: r.updatedAt), disabled_at = \(bind: r.disabledAt),
              disabled_reason = \(bind: r.disabledReason)
            WHERE id = \(bind: r.id)
            """
        ).run()
    }

    /// Disables an enabled subscription; false when it was already disabled or is gone.
    public func disableWebhookSubscription(_ id: String, reason: String, at: Int64) async throws -> Bool {
        !(try await sql.raw(
            """
            UPDATE webhook_subscriptions SET disabled_at = \(bind: at), disabled_reason = \(bind: reason),
              updated_at = \(bind: at)
            WHERE id = \(bind: id) AND disabled_at IS NULL RETURNING id
            """
        ).all()).isEmpty
    }

    /// Notes a successful delivery to a subscription.
    public func noteWebhookSuccess(_ id: String, at: Int64) async throws {
        try await sql.raw(
            "UPDATE webhook_subscriptions SET last_success_at = \(bind: at) WHERE id = \(bind: id)"
        ).run()
    }

    public func deleteWebhookSubscription(_ id: String) async throws {
        try await sql.raw("DELETE FROM webhook_subscriptions WHERE id = \(bind: id)").run()
    }

    // MARK: events

    /// Writes the webhook events that `records` cause (successful parcel changes, resolved alerts) for the
    /// subscriptions that want them.
    func enqueueWebhookEvents(for records: [AuditRecord]) async throws {
        var subscriptions: [String: [WebhookSubscriptionRecord]] = [:]
        for r in records {
            guard let audit = AuditEventType(rawValue: r.type), let type = WebhookEventType(audit: audit),
                let org = r.organizationId?.idString
            else { continue }
            // Parcel and alert events are about what happened; security events also about what was refused.
            guard r.outcome == .success || type.isSecurity else { continue }
            // A parcel's pickup codes are parcel traffic, not a credential of an account.
            if type == .securityCredentialIssued && r.parcelId != nil { continue }
            if subscriptions[org] == nil {
                subscriptions[org] = try await webhookSubscriptions(organization: org).filter { $0.disabledAt == nil }
            }
            guard let candidates = subscriptions[org], !candidates.isEmpty else { continue }
            var data = WebhookEventData(occurredAt: AuditCanonicalEncoding.timestamp(r.occurredAt))
            var carrier: String? = nil
            var site = r.siteId?.idString
            var compartment = r.compartmentId?.idString
            var unitId = r.unitId?.idString
            if let parcelId = r.parcelId?.idString {
                guard let parcel = try await parcel(parcelId) else { continue }
                carrier = parcel.carrierId
                site = parcel.siteId
                unitId = parcel.unitId
                compartment = compartment ?? parcel.compartmentId
                data.parcelId = parcel.id
                data.trackingNumber = parcel.trackingNumber
                data.carrierId = parcel.carrierId
                data.state = type.parcelState
                if type == .parcelDeposited || type == .parcelExpired, let expires = parcel.expiresAt {
                    data.expiresAt = AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: expires))
                }
            }
            if type.isSecurity {
                data.accountId = r.detail["account"] ?? (r.actor.kind == .admin ? r.actor.id : nil)
                data.credentialId = r.detail["credential"]
                data.reason = r.detail["reason"]
            }
            switch type {
            case .alertResolved, .alertAcknowledged, .alertEscalated:
                data.alertId = r.detail["alertId"]
                data.alertKind = r.detail["kind"]
                data.state = type == .alertResolved ? "resolved" : type == .alertAcknowledged ? "acknowledged" : "open"
                // The contact paged: a staff account id, never contact data.
                if type == .alertEscalated { data.accountId = r.detail["account"] }
            default: break
            }
            let wanting = candidates.filter { $0.wants(type, site: site, carrier: carrier) }
            guard !wanting.isEmpty else { continue }
            data.siteId = site
            try await label(&data, unit: unitId, compartment: compartment)
            try await enqueueWebhookEvent(
                type, data: data, at: r.occurredAt, organization: org, parcel: data.parcelId, to: wanting)
        }
    }

    /// Writes the `alert.raised` event of a new alert for the staff subscriptions that want it.
    func enqueueAlertRaised(_ alert: AlertRecord) async throws {
        let wanting = try await webhookSubscriptions(organization: alert.organizationId).filter {
            $0.wants(.alertRaised, site: alert.siteId, carrier: nil)
        }
        guard !wanting.isEmpty else { return }
        let at = Date(millisecondsSince1970: alert.createdAt)
        var data = WebhookEventData(occurredAt: AuditCanonicalEncoding.timestamp(at))
        data.alertId = alert.id
        data.alertKind = alert.kind
        data.state = "open"
        data.siteId = alert.siteId
        try await label(&data, unit: alert.unitId, compartment: alert.compartmentId)
        try await enqueueWebhookEvent(
            .alertRaised, data: data, at: at, organization: alert.organizationId, parcel: nil, to: wanting)
    }

    func label(_ data: inout WebhookEventData, unit: String?, compartment: String?) async throws {
        if let unit {
            data.unitId = unit
            data.unitName = try await sql.raw("SELECT name FROM units WHERE id = \(bind: unit)").first()?.decode(
                column: "name", as: String.self)
        }
        if let compartment {
            data.compartmentId = compartment
            data.compartmentLabel = try await sql.raw(
                "SELECT label FROM compartments WHERE id = \(bind: compartment)"
            ).first()?.decode(column: "label", as: String.self)
        }
    }

    func enqueueWebhookEvent(
        _ type: WebhookEventType, data: WebhookEventData, at: Date, organization: String, parcel: String?,
        to subscriptions: [WebhookSubscriptionRecord]
    ) async throws {
        let body = WebhookEventBody(type: type, timestamp: AuditCanonicalEncoding.timestamp(at), data: data)
        try await enqueue(
            OutboxMessage(
                id: EntityID.make(), kind: Self.webhookKind, organizationId: organization, parcelId: parcel,
                payload: try body.encoded(), sealed: false,
                deliveries: subscriptions.map { (Self.webhookChannel, $0.id) }),
            at: at.millisecondsSince1970)
    }
}
