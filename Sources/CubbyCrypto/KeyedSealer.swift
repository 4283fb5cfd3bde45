import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// AES-256-GCM under a key that names itself: every ciphertext is `1 ‖ key id (8 bytes) ‖ nonce ‖ ciphertext ‖ tag`,
/// with the key id and the caller's context as associated data. A reader holding several keys (after a rotation)
/// knows which one sealed a value, and a value sealed under a key it does not hold is refused by name, not by a
/// failed tag.
public struct KeyedSealer: Sendable {
    /// The format's first byte.
    public static let formatVersion: UInt8 = 1
    /// Version, key id, nonce and tag: what sealing adds to the plaintext.
    public static let overhead = 1 + 8 + 12 + 16

    /// The key's id: the first 8 bytes of SHA-256 over a key derived from it (the key itself is never hashed bare).
    public let keyId: [UInt8]
    private let key: SymmetricKey

    /// A sealer of `key`.
    public init(key: SymmetricKey) {
        self.key = key
        let idKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, info: Data("cubby.key-id.v1".utf8), outputByteCount: 32)
        keyId = idKey.withUnsafeBytes { Array(SHA256.hash(data: Data($0)).prefix(8)) }
    }

    /// A sealer of the key derived from `root` for one purpose (`cubby.evidence.v1`, …).
    public static func derived(from root: SymmetricKey, purpose: String) -> KeyedSealer {
        KeyedSealer(key: HKDF<SHA256>.deriveKey(inputKeyMaterial: root, info: Data(purpose.utf8), outputByteCount: 32))
    }

    /// The key id in hex, as logs and errors show it.
    public var keyIdHex: String { Hex.encode(keyId) }

    /// Seals `plaintext`, bound to `context`.
    public func seal(_ plaintext: Data, context: String) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: associatedData(context))
        guard let combined = box.combined else { throw KeyMaterialError.sealFailed }
        var out = Data([Self.formatVersion])
        out.append(contentsOf: keyId)
        out.append(combined)
        return out
    }

    /// What `seal` sealed under this key and `context`.
    public func open(_ sealed: Data, context: String) throws -> Data {
        guard Self.isSealed(sealed) else { throw KeyedSealerError.notSealed }
        let id = Array(sealed.dropFirst().prefix(8))
        guard id == keyId else { throw KeyedSealerError.otherKey(Hex.encode(id)) }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(9))
            return try AES.GCM.open(box, using: key, authenticating: associatedData(context))
        } catch {
            throw KeyedSealerError.damaged
        }
    }

    /// Whether `data` has this format's shape (version byte and room for a key id, nonce and tag).
    public static func isSealed(_ data: Data) -> Bool {
        data.count >= overhead && data.first == formatVersion
    }

    /// The id (hex) of the key that sealed `data`, nil when `data` is not in this format.
    public static func keyId(of data: Data) -> String? {
        isSealed(data) ? Hex.encode(data.dropFirst().prefix(8)) : nil
    }

    private func associatedData(_ context: String) -> Data {
        var ad = Data(keyId)
        ad.append(contentsOf: context.utf8)
        return ad
    }
}

/// Why a keyed ciphertext did not open.
public enum KeyedSealerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The value is not in the keyed format.
    case notSealed
    /// Sealed under another key (its id).
    case otherKey(String)
    /// Altered, truncated, or sealed for another context.
    case damaged

    public var description: String {
        switch self {
        case .notSealed: "the value is not sealed"
        case .otherKey(let id): "the value is sealed under key \(id), which is not this one"
        case .damaged: "the sealed value was altered or belongs elsewhere"
        }
    }
}
