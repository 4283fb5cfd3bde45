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
