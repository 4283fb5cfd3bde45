#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The kinds of event a webhook subscription can ask for; the raw value is the `type` of the delivered body.
public enum WebhookEventType: String, CaseIterable, Sendable, Codable, Hashable {
    case parcelReserved = "parcel.reserved"
    case parcelDeposited = "parcel.deposited"
    case parcelPickedUp = "parcel.picked_up"
    case parcelExpired = "parcel.expired"
    case parcelRemoved = "parcel.removed"
    case parcelCancelled = "parcel.cancelled"
    /// Staff subscriptions only.
    case alertRaised = "alert.raised"
    /// Staff subscriptions only.
    case alertAcknowledged = "alert.acknowledged"
    /// Nobody acknowledged an alert in time and the next on-call contact was paged. Staff subscriptions only.
    case alertEscalated = "alert.escalated"
    /// Staff subscriptions only.
    case alertResolved = "alert.resolved"
    /// A staff sign-in failed (staff subscriptions of the whole organization only, as every `security.*` event
    /// about accounts and credentials).
    case securitySignInFailed = "security.sign_in_failed"
    /// A staff account was locked after too many failures.
    case securityAccountLocked = "security.account_locked"
    /// An API credential was issued.
    case securityCredentialIssued = "security.credential_issued"
    /// An API or device credential was revoked.
    case securityCredentialRevoked = "security.credential_revoked"
    /// PIN entry at a unit was suspended after too many failures.
    case securityPinEntrySuspended = "security.pin_entry_suspended"
    /// A unit was locked down (tamper signal or staff).
    case securityLockdown = "security.lockdown"
    /// A unit's lockdown was lifted on the server.
    case securityLockdownReleased = "security.lockdown_released"

    /// The event a successful audit event of `type` causes, if any (`alert.raised` comes from a new alert instead).
    public init?(audit type: AuditEventType) {
        switch type {
        case .parcelReserved: self = .parcelReserved
        case .parcelDeposited: self = .parcelDeposited
        case .pickupSucceeded: self = .parcelPickedUp
        case .parcelExpired: self = .parcelExpired
        case .parcelRemoved: self = .parcelRemoved
        case .parcelCancelled: self = .parcelCancelled
        case .alertAcknowledged: self = .alertAcknowledged
        case .alertEscalated: self = .alertEscalated
        case .alertResolved: self = .alertResolved
        case .staffSignInFailed: self = .securitySignInFailed
        case .staffLocked: self = .securityAccountLocked
        case .credentialIssued: self = .securityCredentialIssued
        case .credentialRevoked: self = .securityCredentialRevoked
        case .unitPinEntrySuspended: self = .securityPinEntrySuspended
        case .unitLockedDown: self = .securityLockdown
        case .unitLockdownReleased: self = .securityLockdownReleased
        default: return nil
        }
    }

    /// Whether only staff subscriptions may receive it (alerts concern the buildings, not a carrier's parcels).
    public var staffOnly: Bool { parcelState == nil }

    /// Whether it is one of the `security.*` events.
    public var isSecurity: Bool { rawValue.hasPrefix("security.") }

    /// The parcel's state after the event, for parcel events.
    public var parcelState: String? {
        switch self {
        case .parcelReserved: "reserved"
        case .parcelDeposited: "deposited"
        case .parcelPickedUp: "picked_up"
        case .parcelExpired: "expired"
        case .parcelRemoved: "removed"
        case .parcelCancelled: "cancelled"
        default: nil
        }
    }
}

/// The `data` of a webhook body: ids, states, times, labels and a tracking number; never a PIN, a QR token, a name or
/// contact data. Fields that do not apply to the event are left out.
public struct WebhookEventData: Codable, Sendable, Equatable {
    public var parcelId: String?
    public var trackingNumber: String?
    public var carrierId: String?
    public var state: String?
    public var alertId: String?
    public var alertKind: String?
    /// For `security.*` events: the staff account and the credential concerned, and the reason given.
    public var accountId: String?
    public var credentialId: String?
    public var reason: String?
    public var siteId: String?
    public var unitId: String?
    public var unitName: String?
    public var compartmentId: String?
    public var compartmentLabel: String?
    /// When the change happened (RFC 3339).
    public var occurredAt: String
    /// Until when a deposited parcel waits for its recipient (RFC 3339).
    public var expiresAt: String?

    public init(occurredAt: String) { self.occurredAt = occurredAt }
}

/// A webhook body as the Standard Webhooks specification recommends: `type`, `timestamp`, `data`.
public struct WebhookEventBody: Codable, Sendable, Equatable {
    public var type: String
    public var timestamp: String
    public var data: WebhookEventData

    public init(type: WebhookEventType, timestamp: String, data: WebhookEventData) {
        self.type = type.rawValue
        self.timestamp = timestamp
        self.data = data
    }

    /// The body's bytes as sent and signed: sorted keys, no escaped slashes.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
