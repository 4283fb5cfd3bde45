import CubbyCore
import Foundation

/// What the recipient is told when a parcel is ready; sealed in the outbox until delivered.
public struct ParcelReadyNotification: Codable, Sendable, Equatable {
    public var notificationId: String
    public var kind: String
    public var recipientId: String
    public var parcelId: String
    public var trackingNumber: String
    public var unitId: String
    public var unitName: String
    public var compartmentLabel: String
    public var pin: String
    public var qr: String
    public var expiresAt: String
    /// The site's name, address and IANA time zone, for the email and SMS (absent in rows sealed before them).
    public var siteName: String? = nil
    public var siteAddress: String? = nil
    public var siteTimeZone: String? = nil
    /// Where the unit stands within the site, e.g. "Lobby, left of the mailboxes".
    public var unitLocation: String? = nil
    /// The recipient's language code (`en`, `es`); English when absent or unknown.
    public var language: String? = nil
}

/// A one-time sign-in code for a resident's own pages; sealed in the outbox until delivered.
public struct SignInCodeNotification: Codable, Sendable, Equatable {
    public var notificationId: String
    public var kind: String
    public var recipientId: String
    public var code: String
    public var expiresAt: String

    public static let kind = "resident.sign_in_code"
}

/// The notices about a parcel besides the parcel-ready message, as outbox kinds.
public enum ParcelNoticeKind: String, CaseIterable, Sendable, Codable {
    /// A reminder on the site's schedule while the parcel waits.
    case reminder = "parcel.reminder"
    /// The parcel's pickup deadline passed and it was taken out of service.
    case expiry = "parcel.expiry_notice"
    /// The parcel was picked up; "not you? report it".
    case receipt = "parcel.pickup_receipt"

    /// The preference kind that chooses its channels.
    public var messageKind: MessageKind {
        switch self {
        case .reminder: .reminder
        case .expiry: .expiry
        case .receipt: .pickupReceipt
        }
    }
}

/// A reminder, an expiry notice or a pickup receipt. It carries no code (the PIN is erased once the parcel-ready
/// message is delivered), but it names the parcel and where it is, so it is sealed in the outbox as well. Every field
/// is text; times are RFC 3339 in UTC, shown in the site's time zone.
public struct ParcelNoticeNotification: Codable, Sendable, Equatable {
    public var notificationId: String
    /// A ``ParcelNoticeKind`` raw value.
    public var kind: String
    public var recipientId: String
    public var parcelId: String
    public var trackingNumber: String
    public var unitId: String
    public var unitName: String
    public var compartmentLabel: String
    public var siteName: String? = nil
    public var siteAddress: String? = nil
    public var siteTimeZone: String? = nil
    /// The recipient's language code (`en`, `es`); English when absent or unknown.
    public var language: String? = nil
    public var depositedAt: String? = nil
    public var expiresAt: String? = nil
    /// When the parcel was picked up (receipts) or expired (expiry notices).
    public var happenedAt: String? = nil
    /// Reminders: the resident pages, where a lost code can be seen again.
    public var residentURL: String? = nil
    /// Receipts: "not you? report it".
    public var reportURL: String? = nil

    public init(
        notificationId: String, kind: String, recipientId: String, parcelId: String, trackingNumber: String,
        unitId: String, unitName: String, compartmentLabel: String
    ) {
        self.notificationId = notificationId
        self.kind = kind
        self.recipientId = recipientId
        self.parcelId = parcelId
        self.trackingNumber = trackingNumber
        self.unitId = unitId
        self.unitName = unitName
        self.compartmentLabel = compartmentLabel
    }

    public var noticeKind: ParcelNoticeKind? { ParcelNoticeKind(rawValue: kind) }
}
