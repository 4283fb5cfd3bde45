import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// AES-256-GCM for secrets at rest (the notification outbox, TOTP and webhook secrets, the key ring, fields under
/// data keys).
///
/// What it seals names its key: `KeyedSealer`'s format, `1 ‖ key id (8) ‖ nonce ‖ ciphertext ‖ tag`. What was sealed
/// before ciphertexts named their key (`nonce ‖ ciphertext ‖ tag`, the context alone as associated data) is still
/// read.
public struct SealedPayload: Sendable {
    private let key: SymmetricKey
    private let keyed: KeyedSealer

    public init(key: SymmetricKey) {
        self.key = key
        self.keyed = KeyedSealer(key: key)
    }

    /// The id every ciphertext of this key carries (hex).
    public var keyIdHex: String { keyed.keyIdHex }

    /// Version ‖ key id ‖ nonce ‖ ciphertext ‖ tag, bound to `context` as associated data.
    public func seal(_ plaintext: Data, context: String) throws -> Data {
        try keyed.seal(plaintext, context: context)
    }

    /// The plaintext, or an error if the data was altered or sealed under another key or context.
    public func open(_ sealed: Data, context: String) throws -> Data {
        if KeyedSealer.isSealed(sealed), let plain = try? keyed.open(sealed, context: context) { return plain }
        do {
            return try openUnkeyed(sealed, context: context)
        } catch {
            // Neither format opened: name the key when the value carries another one's id.
            if let id = KeyedSealer.keyId(of: sealed), id != keyed.keyIdHex { throw KeyedSealerError.otherKey(id) }
            throw error
        }
    }

    /// Nonce ‖ ciphertext ‖ tag with no key id: the format of values sealed before ciphertexts named their key, and
    /// of data keys wrapped by the root (format 1 of `EnvelopeCipher`), which keeps its fixed length.
    public func sealUnkeyed(_ plaintext: Data, context: String) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw KeyMaterialError.sealFailed }
        return combined
    }

    /// Opens what `sealUnkeyed` sealed.
    public func openUnkeyed(_ sealed: Data, context: String) throws -> Data {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
    }
}

/// Envelope encryption of personal data: each subject has its own data key, wrapped by a wrapping key of the key
/// ring (or, in rows written before the ring existed, by the key file's key-encryption key itself).
///
/// Erasing a subject destroys its wrapped data key; what was sealed under it can no longer be read.
///
/// A wrapped data key is one of two formats, told apart by length:
/// - format 2 (69 bytes): `0x02` ‖ wrapping key id (8) ‖ nonce ‖ ciphertext ‖ tag, the first 9 bytes and the
///   subject bound as associated data;
/// - format 1 (60 bytes, no prefix): nonce ‖ ciphertext ‖ tag under the root, read forever, never written again.
public struct EnvelopeCipher: Sendable {
    private let root: SealedPayload
    public let ring: KeyRing

    /// The format byte of keys wrapped by a ring key.
    public static let ringFormat: UInt8 = 2
    /// Bytes of a wrapped data key of format 1 (wrapped by the root).
    public static let rootWrappedSize = 12 + 32 + 16
    /// Bytes of a wrapped data key of format 2.
    public static let ringWrappedSize = 1 + RingKeyID.size + 12 + 32 + 16

    public init(keyEncryptionKey: SymmetricKey, ring: KeyRing? = nil) {
        self.root = SealedPayload(key: keyEncryptionKey)
        self.ring = ring ?? KeyRing(root: keyEncryptionKey)
    }

    /// A new data key for `subject`, wrapped by `wrappingKey` for storage.
    public func newWrappedDataKey(subject: String, under wrappingKey: RingKey) throws -> Data {
        try wrap(SymmetricKey(size: .bits256), subject: subject, under: wrappingKey)
    }

    /// The same data key wrapped by `wrappingKey` instead of whatever wraps it now (a rotation's re-wrap).
    public func rewrap(_ wrapped: Data, subject: String, under wrappingKey: RingKey) throws -> Data {
        try wrap(unwrap(wrapped, subject: subject), subject: subject, under: wrappingKey)
    }

    /// The id of the ring key that wraps `wrapped`; nil for format 1 (the root).
    public static func wrappingKeyID(_ wrapped: Data) throws -> RingKeyID? {
        if wrapped.count == rootWrappedSize { return nil }
        guard wrapped.count == ringWrappedSize, wrapped.first == ringFormat else {
            throw EnvelopeError.malformedWrappedKey(wrapped.count)
        }
        let start = wrapped.startIndex + 1
        return RingKeyID(bytes: wrapped[start..<start + RingKeyID.size])
    }

    /// The first bytes every data key wrapped by `id` starts with.
    public static func header(_ id: RingKeyID) -> Data { Data([ringFormat]) + id.bytes }

    /// Seals `plaintext` with the subject's data key.
    public func seal(_ plaintext: Data, wrappedKey: Data, subject: String, field: String) throws -> Data {
        try SealedPayload(key: unwrap(wrappedKey, subject: subject)).seal(plaintext, context: subject + ":" + field)
    }

    /// Opens what `seal` produced.
    public func open(_ sealed: Data, wrappedKey: Data, subject: String, field: String) throws -> Data {
        try SealedPayload(key: unwrap(wrappedKey, subject: subject)).open(sealed, context: subject + ":" + field)
    }

    private func wrap(_ dataKey: SymmetricKey, subject: String, under wrappingKey: RingKey) throws -> Data {
        let header = Self.header(wrappingKey.id)
        let box = try AES.GCM.seal(
            dataKey.withUnsafeBytes { Data($0) }, using: wrappingKey.key,
            authenticating: header + Data(subject.utf8))
        guard let combined = box.combined else { throw KeyMaterialError.sealFailed }
        return header + combined
    }

    func unwrap(_ wrapped: Data, subject: String) throws -> SymmetricKey {
        guard let id = try Self.wrappingKeyID(wrapped) else {
            return SymmetricKey(data: try root.openUnkeyed(wrapped, context: "cubby.dek.v1:" + subject))
        }
        guard let key = ring.key(id) else { throw EnvelopeError.unknownWrappingKey(id.hex) }
        let headerEnd = wrapped.startIndex + 1 + RingKeyID.size
        let box = try AES.GCM.SealedBox(combined: wrapped[headerEnd...])
        return SymmetricKey(
            data: try AES.GCM.open(box, using: key, authenticating: Data(wrapped[..<headerEnd]) + Data(subject.utf8)))
    }

    /// A data key wrapped by the root (format 1), as rows written before the key ring hold them; for tests and
    /// benchmarks that need such rows.
    public func legacyWrappedDataKey(subject: String) throws -> Data {
        try root.sealUnkeyed(
            SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }, context: "cubby.dek.v1:" + subject)
    }
}

/// Failures of the crypto helpers.
public enum KeyMaterialError: Error, Equatable, Sendable {
    case sealFailed
    case malformedKeyFile(String)
    case malformedToken
}
