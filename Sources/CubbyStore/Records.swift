import CubbyCore
import Foundation

/// A site as stored.
public struct SiteRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    public var name: String
    public var pickupLifetimeSeconds: Int64
    public var reservationSeconds: Int64
    public var createdAt: Int64
    /// The postal address people find the site at.
    public var address: String
    /// IANA time zone of the site, e.g. `Europe/Paris`.
    public var timeZone: String
    /// Comma-separated language codes the site's kiosks offer, e.g. `en,es`.
    public var languages: String
    /// Comma-separated hours after a deposit at which recipients are reminded, ascending.
    public var reminderHours: String
    /// When SMS reminders are held back, `HH:MM-HH:MM` in the site's time zone; empty for never.
    public var quietHours: String
    /// When the site's settings last changed (nil: never since it was created).
    public var updatedAt: Int64?
    public init(
        id: String, organizationId: String, name: String, pickupLifetimeSeconds: Int64 = 604_800,
        reservationSeconds: Int64 = 600, createdAt: Int64, address: String = "", timeZone: String = "UTC",
        languages: String = "en", reminderHours: String = "24,72", quietHours: String = "21:00-08:00"
    ) {
        self.id = id
        self.organizationId = organizationId
        self.name = name
        self.pickupLifetimeSeconds = pickupLifetimeSeconds
        self.reservationSeconds = reservationSeconds
        self.createdAt = createdAt
        self.address = address
        self.timeZone = timeZone
        self.languages = languages
        self.reminderHours = reminderHours
        self.quietHours = quietHours
        self.updatedAt = nil
    }
}

/// A locker unit as stored, with its PIN-entry limiter state.
public struct UnitRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    public var siteId: String
    public var name: String
    public var pinConsecutiveFailures: Int64
    public var pinLockedUntil: Int64?
    public var pinSuspended: Bool
    /// When the last failed PIN was entered: the failure window needs reading only within 24 hours of it.
    public var pinLastFailureAt: Int64?
    public var createdAt: Int64
    /// Since when a tamper signal holds the unit in lockdown (nil: not locked down).
    public var lockedDownAt: Int64?
    public var lockdownReason: String?
    /// When an edge controller enrolled for the unit (nil: the unit has none).
    public var edgeEnrolledAt: Int64?
    /// When the unit was decommissioned (nil: in service).
    public var decommissionedAt: Int64?
    /// When the unit was last renamed (nil: never).
    public var updatedAt: Int64?

    public init(id: String, organizationId: String, siteId: String, name: String, createdAt: Int64) {
        self.id = id
        self.organizationId = organizationId
        self.siteId = siteId
        self.name = name
        self.pinConsecutiveFailures = 0
        self.pinLockedUntil = nil
        self.pinSuspended = false
        self.pinLastFailureAt = nil
        self.createdAt = createdAt
    }

    /// The limiter state in domain terms.
    public var pinEntry: PinEntryState {
        get {
            PinEntryState(
                consecutiveFailures: Int(pinConsecutiveFailures),
                lockedUntil: pinLockedUntil.map { Date(millisecondsSince1970: $0) }, suspended: pinSuspended)
        }
        set {
            pinConsecutiveFailures = Int64(newValue.consecutiveFailures)
            pinLockedUntil = newValue.lockedUntil.map(\.millisecondsSince1970)
            pinSuspended = newValue.suspended
        }
    }
}

/// A compartment as stored.
public struct CompartmentRecord: Codable, Sendable, Hashable {
    public var id: String
    public var unitId: String
    public var label: String
    public var size: SizeClass
    public var widthMm: Int64
    public var heightMm: Int64
    public var depthMm: Int64
    public var accessible: Bool
    /// Decoded strictly: a stored value that is not a state fails the read.
    public var state: CompartmentState
    public var door: DoorState
    public var parcelId: String?
    /// Where the compartment is in its unit: the column from the left and the row from the top, both from 0, in
    /// cells of the unit's lowest compartment (nil: not known, for units built before positions were kept).
    public var gridColumn: Int64?
    public var gridRow: Int64?
    /// How many rows the compartment spans.
    public var gridRows: Int64

    public init(
        id: String, unitId: String, label: String, size: SizeClass, inner: Dimensions, accessible: Bool,
        position: (column: Int, row: Int, rows: Int)? = nil
    ) {
        self.gridColumn = position.map { Int64($0.column) }
        self.gridRow = position.map { Int64($0.row) }
        self.gridRows = Int64(position?.rows ?? 1)
        self.id = id
        self.unitId = unitId
        self.label = label
        self.size = size
        self.widthMm = Int64(inner.width)
        self.heightMm = Int64(inner.height)
        self.depthMm = Int64(inner.depth)
        self.accessible = accessible
        self.state = .available
        self.door = .closed
        self.parcelId = nil
    }
}

/// A carrier as stored.
public struct CarrierRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    public var name: String
    public var createdAt: Int64
    /// When the carrier was deactivated (nil: active).
    public var deactivatedAt: Int64?
    /// When its name or sites last changed (nil: never).
    public var updatedAt: Int64?
    public init(id: String, organizationId: String, name: String, createdAt: Int64) {
        self.id = id
        self.organizationId = organizationId
        self.name = name
        self.createdAt = createdAt
    }
}

/// A recipient: a pseudonymous id, an accessibility need, and contact data sealed under its own data key.
public struct RecipientRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    public var siteId: String
    public var needsAccessible: Bool
    public var dataKey: Data?
    public var contact: Data?
    public var createdAt: Int64
    public var erasedAt: Int64?
    /// Keyed hash of the lowercased email address, to find a resident signing in (nil: no email).
    public var emailHash: Data?
    /// The apartment or office, as entered (plain text: it is searched by staff and shown to couriers' desks).
    public var apartment: String?
    /// The apartment folded for exact search (`RecipientRules.apartmentKey`).
    public var apartmentKey: String?
    /// `en` or `es`: the language of the messages sent to the recipient.
    public var preferredLanguage: String
    /// Keyed hash of the property-management system's id for the recipient, bound to the organization.
    public var externalIdHash: Data?
    /// When the recipient was deactivated: nothing new is delivered to them, live pickups stay valid.
    public var deactivatedAt: Int64?
    public var updatedAt: Int64?
    public init(
        id: String, organizationId: String, siteId: String, needsAccessible: Bool, dataKey: Data?, contact: Data?,
        createdAt: Int64, emailHash: Data? = nil, apartment: String? = nil, preferredLanguage: String = "en",
        externalIdHash: Data? = nil
    ) {
        self.emailHash = emailHash
        self.apartment = apartment
        self.apartmentKey = apartment.map(RecipientRules.apartmentKey)
        self.preferredLanguage = preferredLanguage
        self.externalIdHash = externalIdHash
        self.deactivatedAt = nil
        self.updatedAt = createdAt
        self.id = id
        self.organizationId = organizationId
        self.siteId = siteId
        self.needsAccessible = needsAccessible
        self.dataKey = dataKey
        self.contact = contact
        self.createdAt = createdAt
        self.erasedAt = nil
    }
}

/// A bearer credential, stored as its keyed hash.
public struct CredentialRecord: Codable, Sendable, Hashable {
    public var id: String
    public var kind: String
    public var tokenHash: Data
    public var organizationId: String
    public var carrierId: String?
    public var courierId: String?
    public var unitId: String?
    /// Comma-separated site ids for an administrator; nil means every site of the organization.
    public var siteIds: String?
    public var label: String
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    /// A device credential an edge controller received by enrolling (superseded by the unit's next enrollment).
    public var enrolled: Bool

    public init(
        id: String, kind: String, tokenHash: Data, organizationId: String, carrierId: String? = nil,
        courierId: String? = nil, unitId: String? = nil, siteIds: String? = nil, label: String, createdAt: Int64,
        expiresAt: Int64? = nil, enrolled: Bool = false
    ) {
        self.enrolled = enrolled
        self.id = id
        self.kind = kind
        self.tokenHash = tokenHash
        self.organizationId = organizationId
        self.carrierId = carrierId
        self.courierId = courierId
        self.unitId = unitId
        self.siteIds = siteIds
        self.label = label
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = nil
    }
}

/// A parcel as stored.
public struct ParcelRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    public var siteId: String
    public var unitId: String
    public var carrierId: String
    public var recipientId: String
    public var trackingNumber: String
    public var size: SizeClass
    /// Decoded strictly: a stored value that is not a state fails the read.
    public var state: ParcelState
    public var compartmentId: String?
    public var createdAt: Int64
    public var reservedUntil: Int64?
    public var depositedAt: Int64?
    public var expiresAt: Int64?
    public var pickedUpAt: Int64?
    public var expiredAt: Int64?
    public var removedAt: Int64?
    public var cancelledAt: Int64?
    public var updatedAt: Int64

    public init(
        id: String, organizationId: String, siteId: String, unitId: String, carrierId: String, recipientId: String,
        trackingNumber: String, size: SizeClass, state: ParcelState, createdAt: Int64
    ) {
        self.id = id
        self.organizationId = organizationId
        self.siteId = siteId
        self.unitId = unitId
        self.carrierId = carrierId
        self.recipientId = recipientId
        self.trackingNumber = trackingNumber
        self.size = size
        self.state = state
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}

/// Where a pickup credential stands: live until its parcel is picked up (used) or leaves otherwise (revoked).
public enum PickupCredentialState: String, Codable, Sendable, CaseIterable {
    case live, used, revoked
}

/// A pickup credential: the keyed hash of a PIN and the nonce of the QR token issued with it.
public struct PickupCredentialRecord: Codable, Sendable, Hashable {
    public var id: String
    public var parcelId: String
    public var unitId: String
    public var compartmentId: String
    public var pinHash: Data
    public var qrNonce: String
    public var state: PickupCredentialState
    public var createdAt: Int64
    public var expiresAt: Int64
    public var endedAt: Int64?
    public init(
        id: String, parcelId: String, unitId: String, compartmentId: String, pinHash: Data, qrNonce: String,
        createdAt: Int64, expiresAt: Int64
    ) {
        self.id = id
        self.parcelId = parcelId
        self.unitId = unitId
        self.compartmentId = compartmentId
        self.pinHash = pinHash
        self.qrNonce = qrNonce
        self.state = .live
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.endedAt = nil
    }
}

/// An audit event as stored, with its position and canonical bytes.
public struct StoredAuditEvent: Codable, Sendable, Hashable {
    public var seq: Int64
    public var id: String
    public var occurredAt: Int64
    public var type: String
    public var outcome: String
    public var actorKind: String
    public var actorId: String?
    public var actorRole: String?
    public var organizationId: String?
    public var siteId: String?
    public var unitId: String?
    public var compartmentId: String?
    public var parcelId: String?
    public var trackingNumber: String?
    public var detail: String
    public var canonical: Data
    public var leafHash: Data
}
