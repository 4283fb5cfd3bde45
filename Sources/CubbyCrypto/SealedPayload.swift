import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// AES-256-GCM for short-lived secrets at rest (the notification outbox) and for envelope encryption.
public struct SealedPayload: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// Nonce ‖ ciphertext ‖ tag, bound to `context` as associated data.
    public func seal(_ plaintext: Data, context: String) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw KeyMaterialError.sealFailed }
        return combined
    }

    /// The plaintext, or an error if the data was altered or sealed under another key or context.
    public func open(_ sealed: Data, context: String) throws -> Data {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
    }
}

/// Envelope encryption of personal data: each subject has its own data key, wrapped by the key-encryption key.
///
/// Erasing a subject destroys its wrapped data key; what was sealed under it can no longer be read.
public struct EnvelopeCipher: Sendable {
    private let kek: SealedPayload

    public init(keyEncryptionKey: SymmetricKey) { self.kek = SealedPayload(key: keyEncryptionKey) }

    /// A new data key for `subject`, wrapped for storage.
    public func newWrappedDataKey(subject: String) throws -> Data {
        let dataKey = SymmetricKey(size: .bits256)
        return try kek.seal(dataKey.withUnsafeBytes { Data($0) }, context: "cubby.dek.v1:" + subject)
    }

    /// Seals `plaintext` with the subject's data key.
    public func seal(_ plaintext: Data, wrappedKey: Data, subject: String, field: String) throws -> Data {
        try SealedPayload(key: unwrap(wrappedKey, subject: subject)).seal(plaintext, context: subject + ":" + field)
    }

    /// Opens what `seal` produced.
    public func open(_ sealed: Data, wrappedKey: Data, subject: String, field: String) throws -> Data {
        try SealedPayload(key: unwrap(wrappedKey, subject: subject)).open(sealed, context: subject + ":" + field)
    }

    private func unwrap(_ wrapped: Data, subject: String) throws -> SymmetricKey {
        SymmetricKey(data: try kek.open(wrapped, context: "cubby.dek.v1:" + subject))
    }
}

/// Failures of the crypto helpers.
public enum KeyMaterialError: Error, Equatable, Sendable {
    case sealFailed
    case malformedKeyFile(String)
    case malformedToken
}
