import Crypto
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One wrapping key of the key ring: its id (8 random bytes, shown as 16 hex digits) and its 32 bytes.
public struct RingKey: Sendable {
    public let id: RingKeyID
    public let key: SymmetricKey

    public init(id: RingKeyID, key: SymmetricKey) {
        self.id = id
        self.key = key
    }

    /// A fresh random key with a fresh random id.
    public static func generate() -> RingKey {
        RingKey(id: RingKeyID(bytes: Data(SecretGenerator.bytes(RingKeyID.size))), key: SymmetricKey(size: .bits256))
    }
}

/// The id of a wrapping key: 8 bytes in every ciphertext it wraps, 16 lowercase hex digits in the database.
public struct RingKeyID: Hashable, Sendable, CustomStringConvertible {
    public static let size = 8
    public let bytes: Data

    public init(bytes: Data) {
        precondition(bytes.count == Self.size)
        self.bytes = Data(bytes)
    }

    /// The id of its hex form, or nil when `hex` is not 16 hex digits.
    public init?(hex: String) {
        guard hex.utf8.count == Self.size * 2 else { return nil }
        var out = Data()
        var chars = Array(hex.utf8)[...]
        while let hi = chars.popFirst(), let lo = chars.popFirst() {
            guard let h = Self.nibble(hi), let l = Self.nibble(lo) else { return nil }
            out.append(h << 4 | l)
        }
        self.bytes = out
    }

    public var hex: String {
        bytes.map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }
    public var description: String { hex }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// The wrapping keys this process knows, by id, and the root (the key file's key-encryption key) that seals them
/// in the database.
///
/// The keys themselves live in the database (table `key_ring`), each sealed under a key derived from the root with
/// its id as associated data, so a copy of the database alone opens nothing. A key never changes once made, so a
/// known key may be kept; one the process has not seen yet is loaded from the database by the server.
public final class KeyRing: Sendable {
    private let sealing: SealedPayload
    private let known = Mutex<[RingKeyID: SymmetricKey]>([:])

    public init(root: SymmetricKey) {
        sealing = SealedPayload(
            key: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: root, info: Data("cubby.key-ring.v1".utf8), outputByteCount: 32))
    }

    /// The key's 32 bytes sealed for the database, bound to its id.
    public func seal(_ key: RingKey) throws -> Data {
        try sealing.seal(key.key.withUnsafeBytes { Data($0) }, context: Self.context(key.id))
    }

    /// A key the database holds, opened and remembered.
    @discardableResult
    public func open(id: RingKeyID, sealed: Data) throws -> RingKey {
        if let key = key(id) { return RingKey(id: id, key: key) }
        let bytes: Data
        do { bytes = try sealing.open(sealed, context: Self.context(id)) } catch {
            throw EnvelopeError.ringKeyUnreadable(id.hex)
        }
        guard bytes.count == 32 else { throw EnvelopeError.ringKeyUnreadable(id.hex) }
        let key = SymmetricKey(data: bytes)
        known.withLock { $0[id] = key }
        return RingKey(id: id, key: key)
    }

    /// A known key.
    public func key(_ id: RingKeyID) -> SymmetricKey? { known.withLock { $0[id] } }

    /// Whether the key is known.
    public func knows(_ id: RingKeyID) -> Bool { known.withLock { $0[id] != nil } }

    /// Forgets keys the database no longer holds (destroyed after a rotation).
    public func keep(only ids: Set<RingKeyID>) {
        known.withLock { keys in keys = keys.filter { ids.contains($0.key) } }
    }

    static func context(_ id: RingKeyID) -> String { "cubby.ring-key.v1:" + id.hex }
}

/// Failures of envelope encryption that are not tampering: a wrapping key the process does not have.
public enum EnvelopeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The wrapped data key names a wrapping key this process has not loaded and the database does not hold.
    case unknownWrappingKey(String)
    /// A wrapping key's sealed bytes do not open under the key file's root: another key file, or tampering.
    case ringKeyUnreadable(String)
    /// The wrapped data key is neither of the known formats.
    case malformedWrappedKey(Int)

    public var description: String {
        switch self {
        case .unknownWrappingKey(let id):
            "the data key is wrapped by key \(id), which is not in the key ring (destroyed, or from another database)"
        case .ringKeyUnreadable(let id):
            "the key ring's key \(id) does not open under this key file's key-encryption key"
        case .malformedWrappedKey(let count):
            "a wrapped data key of \(count) bytes is in no known format"
        }
    }
}
