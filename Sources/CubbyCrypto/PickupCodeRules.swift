import CubbyCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a person typed or scanned at a kiosk, read the same way by the server and by the unit.
public enum PresentedCode: Sendable, Equatable {
    /// A PIN: what was typed, without surrounding whitespace and without the spaces and dashes people type between groups.
    case pin(String)
    /// A signed QR token (`cby1.…`).
    case qr(String)

    /// Reads a typed or scanned code: surrounding whitespace is dropped; the QR prefix makes it a QR token.
    public init(_ raw: String) {
        let trimmed = raw.trimmingWhitespace()
        if trimmed.hasPrefix(QRTokenSigner.prefix) {
            self = .qr(trimmed)
        } else {
            self = .pin(trimmed.filter { $0 != " " && $0 != "-" })
        }
    }

    /// `pin` or `qr`, as audit events and journal entries name the method.
    public var method: String {
        switch self {
        case .pin: "pin"
        case .qr: "qr"
        }
    }
}

/// One live pickup code as either side holds it.
public struct LivePickupCode: Sendable, Equatable {
    public var parcelId: String
    public var compartmentId: String
    /// The keyed hash of the PIN under the unit's PIN key.
    public var pinHash: [UInt8]
    /// The nonce of the QR token issued with the PIN.
    public var qrNonce: String
    /// Unix milliseconds.
    public var expiresAt: Int64

    public init(parcelId: String, compartmentId: String, pinHash: [UInt8], qrNonce: String, expiresAt: Int64) {
        self.parcelId = parcelId
        self.compartmentId = compartmentId
        self.pinHash = pinHash
        self.qrNonce = qrNonce
        self.expiresAt = expiresAt
    }
}

/// The rules by which a presented code opens a compartment: the one copy that the server's pickup route and the
/// unit's offline check both apply.
///
/// A PIN matches a live code when it is exactly `pinLength` ASCII digits, its keyed hash equals the code's (compared
/// in constant time with every candidate, whatever the input, so a malformed code costs what a wrong one does) and
/// the code has not expired. A QR token matches when its Ed25519 signature holds, it names this unit, it has not
/// expired, and a live code carries its nonce, parcel and compartment.
public struct PickupCodeRules: Sendable {
    public var pinLength: Int

    public init(pinLength: Int) { self.pinLength = pinLength }

    /// The rolling window in which failed PINs count against the unit's daily budget.
    public static let failureWindow: Int64 = PinEntryLimiter.failureWindow

    /// Whether typed digits can be a PIN at all: exactly `pinLength` ASCII digits.
    public func isWellFormedPIN(_ digits: String) -> Bool {
        digits.utf8.count == pinLength && digits.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// The live code that `digits` (whose keyed hash is `hash`) opens at `now`, or nil.
    /// `usable` lets the unit leave out codes it already spent offline.
    public func matchPIN(
        _ digits: String, hash: [UInt8], among codes: [LivePickupCode], now: Int64,
        usable: (LivePickupCode) -> Bool = { _ in true }
    ) -> LivePickupCode? {
        var found: LivePickupCode? = nil
        for code in codes where KeyedHasher.constantTimeEquals(code.pinHash, hash) {
            if code.expiresAt > now, usable(code) { found = code }
        }
        return isWellFormedPIN(digits) ? found : nil
    }

    /// The claims of a QR token signed by `verifier` for unit `unitId` that has not expired at `now`, or nil.
    public func verifyQR(_ token: String, verifier: QRTokenSigner, unitId: String, now: Int64) -> QRTokenClaims? {
        guard let claims = verifier.verify(token), claims.u.idString == unitId,
            claims.expiresAt.millisecondsSince1970 > now
        else { return nil }
        return claims
    }

    /// The live code that verified QR claims open at `now`, or nil.
    public func matchQR(
        _ claims: QRTokenClaims, among codes: [LivePickupCode], now: Int64,
        usable: (LivePickupCode) -> Bool = { _ in true }
    ) -> LivePickupCode? {
        codes.first {
            $0.qrNonce == claims.n && $0.parcelId == claims.p.idString && $0.compartmentId == claims.c.idString
                && $0.expiresAt > now && usable($0)
        }
    }
}
