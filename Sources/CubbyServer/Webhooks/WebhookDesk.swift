import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// Webhook subscriptions: administrators subscribe for their sites (a super-administrator for the organization),
/// carriers for their own parcels. Each change is audited in its own transaction; the signing secret is shown once
/// and sealed at rest.
public struct WebhookDesk: Sendable {
    let ledger: Ledger
    let keys: LockerKeys
    public let rules: WebhookAddressRules
    /// How long the previous secret keeps signing after a rotation.
    public let rotationOverlap: Int64
    let logger: Logger

    /// The standard overlap of a rotation: receivers have a day to switch to the new secret.
    public static let standardOverlap = Milliseconds.day
    /// The most event types one subscription names.
    static let maxEvents = WebhookEventType.allCases.count
    /// The most subscriptions one owner (the staff of an organization, or one carrier) keeps.
    public static let maxPerOwner = 50

    public init(
        ledger: Ledger, keys: LockerKeys, rules: WebhookAddressRules, rotationOverlap: Int64 = standardOverlap,
        logger: Logger
    ) {
        self.ledger = ledger
        self.keys = keys
        self.rules = rules
        self.rotationOverlap = rotationOverlap
        self.logger = logger
    }

    /// A subscription as its owner sees it, with the secret when it was just made.
    public struct Subscription: Sendable {
        public var record: WebhookSubscriptionRecord
        public var secret: String?
    }

    // MARK: scope

    /// Whether `p` sees and manages the subscription: a carrier its own, a super-administrator every staff one of
    /// the organization, an administrator the staff ones limited to its sites (an auditor sees those, and manages
    /// none: the policy table keeps it from every change).
    static func covers(_ p: Principal, _ r: WebhookSubscriptionRecord) -> Bool {
        guard r.organizationId == p.organizationId.idString else { return false }
        switch p.role {
        case .carrier: return r.carrierId != nil && r.carrierId == p.carrierId?.idString
        case .superAdmin: return r.carrierId == nil
        case .admin, .auditor:
            guard r.carrierId == nil, let sites = r.sites else { return false }
            return sites.isSubset(of: Set(p.siteIds.map(\.idString)))
        default: return false
        }
    }

    func inScope(_ s: StoreSession, _ p: Principal, _ id: String, lock: Bool) async throws -> WebhookSubscriptionRecord
    {
        guard let r = try await s.webhookSubscription(id, lock: lock), Self.covers(p, r) else {
            throw DomainError.notFound("webhook subscription \(id) not found")
        }
        return r
    }

    static func owner(_ r: WebhookSubscriptionRecord) -> String { r.carrierId == nil ? "staff" : "carrier" }

    /// The event types of a request: known, at least one, none twice over, alerts for staff only.
    func events(_ names: [String], for p: Principal) throws -> [WebhookEventType] {
        guard !names.isEmpty, names.count <= Self.maxEvents else {
            throw DomainError.invalidRequest("events must name 1 to \(Self.maxEvents) event types")
        }
        var types: [WebhookEventType] = []
        for name in names {
            guard let t = WebhookEventType(rawValue: name) else {
                throw DomainError.invalidRequest(
                    "events: unknown type \(String(name.prefix(64))); use "
                        + WebhookEventType.allCases.map(\.rawValue).joined(separator: ", "))
            }
            if t.staffOnly && p.role == .carrier {
                throw DomainError.invalidRequest("events: \(t.rawValue) is for staff subscriptions only")
            }
            guard !types.contains(t) else { throw DomainError.invalidRequest("events: \(t.rawValue) is named twice") }
            types.append(t)
        }
        return types
    }

    func audit(
        _ s: StoreSession, _ type: AuditEventType, _ r: WebhookSubscriptionRecord, actor: Actor,
        detail: [String: String] = [:]
    ) async throws {
        try await s.appendAudit(
            AuditRecord(
                occurredAt: ledger.clock.now(), event: type, actor: actor,
                organizationId: UUID(uuidString: r.organizationId),
                siteId: r.sites.flatMap { $0.count == 1 ? UUID(uuidString: $0.first!) : nil },
                detail: detail.merging(["subscriptionId": r.id, "owner": Self.owner(r)]) { a, _ in a }))
    }

    func seal(_ secret: String, _ id: String) throws -> Data {
        try keys.webhookSecrets.seal(Data(secret.utf8), context: "webhook-secret:" + id)
    }

    /// The key bytes that sign for a subscription now: the current secret's, and the previous one's during the
    /// overlap of a rotation.
    func signingKeys(_ r: WebhookSubscriptionRecord, now: Int64) throws -> [[UInt8]] {
        var sealed = [(r.secret, "webhook-secret:" + r.id)]
        if let previous = r.previousSecret, let until = r.previousSecretUntil, until > now {
            sealed.append((previous, "webhook-secret-previous:" + r.id))
        }
        return try sealed.map { secret, context in
            let text = String(decoding: try keys.webhookSecrets.open(secret, context: context), as: UTF8.self)
            guard let key = WebhookSignature.key(of: text) else {
                throw DomainError.invalidState("a stored webhook secret is not a whsec_ secret")
            }
            return key
        }
    }

    // MARK: operations

    public func create(_ p: Principal, url text: String, events names: [String]) async throws -> Subscription {
        try AccessPolicy.require(p, .manageWebhooks)
        let url = try rules.check(text)
        let types = try events(names, for: p)
        let id = EntityID.make()
        let secret = WebhookSignature.newSecret()
        let sealed = try seal(secret, id)
        let now = ledger.clock.now().millisecondsSince1970
        let record = WebhookSubscriptionRecord(
            id: id, organizationId: p.organizationId.idString,
            carrierId: p.role == .carrier ? p.carrierId?.idString : nil,
            siteIds: p.role == .admin ? Set(p.siteIds.map(\.idString)) : nil, url: url.absoluteString, events: types,
            secret: sealed, at: now)
        if p.role == .carrier && record.carrierId == nil {
            throw DomainError.forbidden("a carrier credential without a carrier cannot subscribe")
        }
        try await ledger.write { s in
            let mine = try await s.webhookSubscriptions(organization: p.organizationId.idString).filter {
                Self.covers(p, $0)
            }
            guard mine.count < Self.maxPerOwner else {
                throw DomainError.invalidState("at most \(Self.maxPerOwner) webhook subscriptions; delete one first")
            }
            try await s.insertWebhookSubscription(record)
            try await audit(
                s, .webhookCreated, record, actor: p.actor,
                detail: ["events": types.map(\.rawValue).sorted().joined(separator: ",")])
        }
        return Subscription(record: record, secret: secret)
    }

    public func list(_ p: Principal) async throws -> [WebhookSubscriptionRecord] {
        try AccessPolicy.require(p, .readWebhooks)
        return try await ledger.store.read { s in
            try await s.webhookSubscriptions(organization: p.organizationId.idString).filter { Self.covers(p, $0) }
        }
    }

    public func get(_ p: Principal, id: String) async throws -> WebhookSubscriptionRecord {
        try AccessPolicy.require(p, .readWebhooks)
        return try await ledger.store.read { s in try await inScope(s, p, id, lock: false) }
    }

    /// Changes the address or events, or enables a disabled subscription (`enabled: true`) or disables one.
    public func update(_ p: Principal, id: String, url text: String?, events names: [String]?, enabled: Bool?)
        async throws -> WebhookSubscriptionRecord
    {
        try AccessPolicy.require(p, .manageWebhooks)
        let url = try text.map { try rules.check($0).absoluteString }
        let types = try names.map { try events($0, for: p) }
        let now = ledger.clock.now().millisecondsSince1970
        return try await ledger.write { s in
            var r = try await inScope(s, p, id, lock: true)
            var fields: [String] = []
            if let url, url != r.url {
                r.url = url
                fields.append("url")
            }
            if let types, Set(types) != Set(r.eventTypes) {
                r.setEvents(types)
                fields.append("events")
            }
            if let enabled, enabled != (r.disabledAt == nil) {
                r.disabledAt = enabled ? nil : now
                r.disabledReason = enabled ? nil : "disabled by its owner"
                fields.append("enabled")
            }
            guard !fields.isEmpty else { return r }
            r.updatedAt = now
            try await s.saveWebhookSubscription(r)
            if r.disabledAt != nil {
                try await s.abandonDeliveries(
                    channel: StoreSession.webhookChannel, target: r.id, reason: "the subscription was disabled", at: now
                )
            }
            try await audit(s, .webhookUpdated, r, actor: p.actor, detail: ["fields": fields.joined(separator: ",")])
            return r
        }
    }

    public func delete(_ p: Principal, id: String) async throws {
        try AccessPolicy.require(p, .manageWebhooks)
        let now = ledger.clock.now().millisecondsSince1970
        try await ledger.write { s in
            let r = try await inScope(s, p, id, lock: true)
            try await s.abandonDeliveries(
                channel: StoreSession.webhookChannel, target: r.id, reason: "the subscription was deleted", at: now)
            try await s.deleteWebhookSubscription(r.id)
            try await audit(s, .webhookDeleted, r, actor: p.actor)
        }
    }

    /// A new signing secret; the current one keeps signing beside it for `rotationOverlap`.
    public func rotateSecret(_ p: Principal, id: String) async throws -> Subscription {
        try AccessPolicy.require(p, .manageWebhooks)
        let now = ledger.clock.now().millisecondsSince1970
        let secret = WebhookSignature.newSecret()
        let record = try await ledger.write { s in
            var r = try await inScope(s, p, id, lock: true)
            let current = try keys.webhookSecrets.open(r.secret, context: "webhook-secret:" + r.id)
            r.previousSecret = try keys.webhookSecrets.seal(current, context: "webhook-secret-previous:" + r.id)
            r.previousSecretUntil = now + rotationOverlap
            r.secret = try seal(secret, r.id)
            r.updatedAt = now
            try await s.saveWebhookSubscription(r)
            try await audit(
                s, .webhookSecretRotated, r, actor: p.actor,
                detail: [
                    "previousUntil": AuditCanonicalEncoding.timestamp(
                        Date(millisecondsSince1970: now + rotationOverlap))
                ])
            return r
        }
        return Subscription(record: record, secret: secret)
    }

    /// How many of a subscription's deliveries the list shows.
    public static let deliveriesShown = 100

    /// A subscription's newest deliveries: state, attempts, next attempt and last error of each.
    public func deliveries(_ p: Principal, id: String) async throws -> [DeliveryRecord] {
        try AccessPolicy.require(p, .readWebhooks)
        return try await ledger.store.read { s in
            let r = try await inScope(s, p, id, lock: false)
            return try await s.recentDeliveries(
                channel: StoreSession.webhookChannel, target: r.id, limit: Self.deliveriesShown)
        }
    }

    /// Sends one delivery again now, with the same `webhook-id`: a failed one keeps its attempts, a dead or delivered
    /// one starts a new retry span. The subscription must be enabled.
    public func redeliver(_ p: Principal, id: String, delivery: Int64) async throws -> DeliveryRecord {
        try AccessPolicy.require(p, .manageWebhooks)
        let now = ledger.clock.now().millisecondsSince1970
        return try await ledger.write { s in
            let r = try await inScope(s, p, id, lock: true)
            guard let before = try await s.delivery(delivery),
                before.channel == StoreSession.webhookChannel && before.target == r.id
            else { throw DomainError.notFound("delivery \(delivery) not found") }
            guard r.disabledAt == nil else {
                throw DomainError.invalidState("the subscription is disabled; enable it first")
            }
            let after = try await DeliveryDesk.sendAgain(s, before, at: now)
            try await audit(
                s, .webhookDeliveryRetried, r, actor: p.actor,
                detail: ["deliveryId": String(delivery), "messageId": before.messageId, "was": before.state])
            return after
        }
    }

    /// Why the server disables a subscription by itself.
    public enum DisableReason: String, Sendable {
        /// The endpoint answered 410 Gone.
        case gone
        /// Every attempt failed for the whole retry span.
        case failing

        var text: String {
            switch self {
            case .gone: "the endpoint answered 410 Gone"
            case .failing: "every attempt failed for the whole retry span"
            }
        }
    }

    /// Disables a subscription, gives up its pending deliveries and tells its owner: the `webhook.disabled` audit event,
    /// and for a staff subscription an alert. Returns whether it was enabled before.
    @discardableResult
    public func disable(_ id: String, _ reason: DisableReason) async throws -> Bool {
        let now = ledger.clock.now().millisecondsSince1970
        return try await ledger.write { s in
            guard let r = try await s.webhookSubscription(id, lock: true),
                try await s.disableWebhookSubscription(id, reason: reason.text, at: now)
            else { return false }
            try await s.abandonDeliveries(
                channel: StoreSession.webhookChannel, target: id,
                reason: "the subscription was disabled: " + reason.text,
                at: now)
            try await audit(s, .webhookDisabled, r, actor: .system, detail: ["reason": reason.rawValue])
            if r.carrierId == nil {
                try await s.insertAlert(
                    AlertRecord(
                        id: EntityID.make(), organizationId: r.organizationId,
                        siteId: r.sites.flatMap { $0.count == 1 ? $0.first : nil }, unitId: nil, compartmentId: nil,
                        kind: "webhook.disabled",
                        detail: "webhook subscription \(r.id) was disabled: \(reason.text)", createdAt: now))
            }
            return true
        }
    }
}
