#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the kiosk screen shows about the unit right now.
public struct KioskStatus: Sendable, Equatable {
    public var unitName: String
    /// A tamper signal locked the unit down; nothing opens until an administrator releases it.
    public var lockedDown: Bool
    /// The link to the server is up (drop-offs need it; pickups do not).
    public var online: Bool
    /// Digits in a pickup PIN.
    public var pinLength: Int

    public init(unitName: String, lockedDown: Bool, online: Bool, pinLength: Int) {
        self.unitName = unitName
        self.lockedDown = lockedDown
        self.online = online
        self.pinLength = pinLength
    }
}

/// How a recipient presented a code.
public enum KioskCodeMethod: String, Sendable, CaseIterable {
    /// Typed on the keypad.
    case pin
    /// Read by the QR scanner (keyboard-wedge input).
    case qr
    /// An RFID card's number from the reader.
    case rfid
}

/// The answer to a pickup attempt.
public enum KioskPickupResult: Sendable, Equatable {
    /// The door of this compartment is open.
    case opened(compartmentLabel: String)
    /// Wrong, used, expired or unknown: one answer whatever the reason.
    case rejected
    /// Too many wrong codes; try again after this many seconds.
    case lockedOut(retryAfterSeconds: Int)
    /// The unit is locked down.
    case lockedDown
}

/// A courier signed in at the kiosk.
public struct KioskCourier: Sendable, Equatable {
    /// The opaque handle the backend knows this sign-in by.
    public var handle: String
    /// Who signed in, for the screen (the carrier's name).
    public var displayName: String

    public init(handle: String, displayName: String) {
        self.handle = handle
        self.displayName = displayName
    }
}

/// The answer to one drop-off.
public enum KioskDropoffResult: Sendable, Equatable {
    /// Put the parcel in this compartment; its door is open.
    case opened(compartmentLabel: String)
    /// No free compartment fits the parcel.
    case unitFull
    /// The server cannot be reached; drop-offs wait until it can.
    case offline
    /// The input was refused; the message says why, for the courier.
    case invalid(message: String)
    /// The courier's sign-in is no longer valid.
    case signedOut
    /// The unit is locked down.
    case lockedDown
}

/// The locker controller as the kiosk page sees it.
public protocol KioskBackend: Sendable {
    func status() async -> KioskStatus
    /// A recipient presents a code.
    func pickup(code: String, method: KioskCodeMethod) async -> KioskPickupResult
    /// A courier presents its credential; nil when it is not valid here (or the server cannot be reached).
    func courierSignIn(credential: String) async -> KioskCourier?
    /// A signed-in courier drops off one parcel.
    func dropoff(courier: KioskCourier, trackingNumber: String, recipientId: String, size: String) async
        -> KioskDropoffResult
    /// The courier is done.
    func courierSignOut(_ courier: KioskCourier) async
}
