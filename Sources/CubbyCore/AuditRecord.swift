#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Who caused an audited event.
public struct Actor: Codable, Sendable, Hashable {
    /// The kind of principal.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case courier, device, admin, carrier, auditor, system, recipient, scim
    }
    public var kind: Kind
    /// The principal's pseudonymous id (never a name, email or phone number).
    public var id: String?
    /// The role it acted in.
    public var role: String?

    public init(kind: Kind, id: String?, role: String?) {
        self.kind = kind
        self.id = id
        self.role = role
    }

    /// The server itself: background services such as expiry.
    public static let system = Actor(kind: .system, id: nil, role: "system")

    /// Someone at the server's console, through the `cubby` command line.
    public static let console = Actor(kind: .system, id: nil, role: "console")
}

/// How an audited action ended.
public enum AuditOutcome: String, Codable, Sendable {
    case success, failure, denied
}

/// One audited event, as the domain produces it; the audit module gives it canonical bytes.
///
/// It holds ids, a tracking number and a short detail map: never a PIN, a QR token or contact data.
public struct AuditRecord: Codable, Sendable, Hashable {
    public var id: UUID
    public var occurredAt: Date
    /// Dotted event type, e.g. `parcel.deposited`.
    public var type: String
    public var outcome: AuditOutcome
    public var actor: Actor
    public var organizationId: UUID?
    public var siteId: UUID?
    public var unitId: UUID?
    public var compartmentId: UUID?
    public var parcelId: UUID?
    public var trackingNumber: String?
    /// Small, non-secret facts (e.g. `reason`, `from`, `to`).
    public var detail: [String: String]

    public init(
        id: UUID = UUID(), occurredAt: Date, type: String, outcome: AuditOutcome = .success, actor: Actor,
        organizationId: UUID? = nil, siteId: UUID? = nil, unitId: UUID? = nil, compartmentId: UUID? = nil,
        parcelId: UUID? = nil, trackingNumber: String? = nil, detail: [String: String] = [:]
    ) {
        self.id = id
        self.occurredAt = occurredAt
        self.type = type
        self.outcome = outcome
        self.actor = actor
        self.organizationId = organizationId
        self.siteId = siteId
        self.unitId = unitId
        self.compartmentId = compartmentId
        self.parcelId = parcelId
        self.trackingNumber = trackingNumber
        self.detail = detail
    }

    /// An event of one of the types the server writes.
    public init(
        id: UUID = UUID(), occurredAt: Date, event: AuditEventType, outcome: AuditOutcome = .success, actor: Actor,
        organizationId: UUID? = nil, siteId: UUID? = nil, unitId: UUID? = nil, compartmentId: UUID? = nil,
        parcelId: UUID? = nil, trackingNumber: String? = nil, detail: [String: String] = [:]
    ) {
        self.init(
            id: id, occurredAt: occurredAt, type: event.rawValue, outcome: outcome, actor: actor,
            organizationId: organizationId,
            siteId: siteId, unitId: unitId, compartmentId: compartmentId, parcelId: parcelId,
            trackingNumber: trackingNumber,
            detail: detail)
    }
}
