import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The key under which one locker unit's PINs are hashed, derived from the server's secret-hash key.
///
/// The unit's edge controller holds its own key so it can check PINs offline; a key taken from one
/// unit checks PINs of that unit only.
public struct UnitPinKey: Sendable {
    public let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// The key of unit `unitId` under the server's root key.
    public init(root: SymmetricKey, unitId: String) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: root, info: Data("cubby.unit-pin-key.v1:\(unitId.lowercased())".utf8), outputByteCount: 32
        )
    }

    /// The key as sent to the unit (base64).
    public var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    /// The key from its base64 form, or nil unless it is 32 bytes.
    public init?(base64: String) {
        guard let data = Data(base64Encoded: base64), data.count == 32 else { return nil }
        key = SymmetricKey(data: data)
    }

    /// HMAC-SHA-256 of the PIN's digits.
    public func hash(pin: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(pin.utf8), using: key))
    }
}
