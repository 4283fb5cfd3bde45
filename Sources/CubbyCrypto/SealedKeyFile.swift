import Crypto
import CubbyCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A key file that cannot be used, or a key-encryption key that does not open it: one sentence for the operator.
public struct KeyFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong and, where it helps, what to do.
    public let description: String

    /// An error with its sentence.
    public init(_ description: String) { self.description = description }
}

/// Version 3 of the key file: the server's five secrets sealed (AES-256-GCM) under a key-encryption key (KEK) that
/// is kept elsewhere, behind a header in clear that says which provider gives the KEK and which KEK it is.
///
/// The header (every field but `sealed`) is the sealed box's associated data, so it cannot be altered without the
/// box failing to open. The public halves of the signing keys are in the header so that `cubby audit verify` can
/// check checkpoints without the KEK.
public struct SealedKeyFile: Codable, Sendable, Equatable {
    /// The format version this type reads and writes.
    public static let version = 3

    /// Always 3.
    public var version: Int
    /// The provider that gives the KEK: `passphrase`, `file`, `command` or `demo`.
    public var provider: String
    /// The KEK's id: hex of the first 8 bytes of SHA-256 over a key derived from the KEK.
    public var kekId: String
    /// For `passphrase`: the salt and cost of scrypt.
    public var scrypt: ScryptParameters?
    /// For `command`: the key as the command wrapped it (its standard output, base64); the command unwraps it.
    public var wrappedKey: String?
    /// The checkpoint signing key's public half (base64), for verifying the audit log without the KEK.
    public var checkpointPublicKey: String
    /// The QR signing key's public half (base64).
    public var qrPublicKey: String
    /// Nonce ‖ ciphertext ‖ tag (base64) of the version-2 JSON of the five secrets.
    public var sealed: String

    /// The id of `kek`, recognising a wrong KEK before trying to open anything.
    public static func kekId(_ kek: SymmetricKey) -> String {
        let idKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: kek, info: Data("cubby.key-file.kek-id.v1".utf8), outputByteCount: 32)
        let digest = idKey.withUnsafeBytes { SHA256.hash(data: Data($0)) }
        return Hex.encode(Array(digest.prefix(8)))
    }

    /// Seals `keys` under `kek`.
    public static func seal(
        _ keys: ServerKeys, kek: SymmetricKey, provider: String, scrypt: ScryptParameters? = nil,
        wrappedKey: String? = nil
    ) throws -> SealedKeyFile {
        var file = SealedKeyFile(
            version: version, provider: provider, kekId: kekId(kek), scrypt: scrypt, wrappedKey: wrappedKey,
            checkpointPublicKey: keys.checkpointSigningKey.publicKey.rawRepresentation.base64EncodedString(),
            qrPublicKey: keys.qrSigningKey.publicKey.rawRepresentation.base64EncodedString(), sealed: "")
        let box = try AES.GCM.seal(
            try keys.plaintextFile(), using: sealingKey(kek), authenticating: file.associatedData)
        guard let combined = box.combined else { throw KeyMaterialError.sealFailed }
        file.sealed = combined.base64EncodedString()
        return file
    }

    /// The keys, when `kek` is this file's KEK and nothing in the file was altered.
    public func open(kek: SymmetricKey, path: String) throws -> ServerKeys {
        guard Self.kekId(kek) == kekId else {
            throw KeyFileError(
                "\(path): the key-encryption key from the \(provider) provider is not the one this file was sealed with (kek id \(kekId))"
            )
        }
        guard let combined = Data(base64Encoded: sealed), let box = try? AES.GCM.SealedBox(combined: combined),
            let plain = try? AES.GCM.open(box, using: Self.sealingKey(kek), authenticating: associatedData)
        else {
            throw KeyFileError("\(path): the sealed keys do not open: the file was altered or damaged")
        }
        let keys: ServerKeys
        do { keys = try ServerKeys.decodePlaintext(plain, path: path).0 } catch {
            throw KeyFileError("\(path): the sealed keys are not a Cubby key set")
        }
        return keys
    }

    /// The checkpoint signing key's public half, read from the header without the KEK.
    public var checkpointVerifyingKey: Curve25519.Signing.PublicKey? {
        Data(base64Encoded: checkpointPublicKey).flatMap { try? Curve25519.Signing.PublicKey(rawRepresentation: $0) }
    }

    /// The file's bytes: JSON, sorted keys.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// A version-3 file from its bytes, nil when the bytes are not one (a plaintext file, say).
    public static func decode(_ data: Data) -> SealedKeyFile? {
        guard let file = try? JSONDecoder().decode(SealedKeyFile.self, from: data), file.version == version else {
            return nil
        }
        return file
    }

    /// The header fields, one per line, in a fixed order: what the seal authenticates.
    var associatedData: Data {
        let lines = [
            "cubby key file v\(version)", provider, kekId,
            scrypt.map { "\($0.salt) \($0.logN) \($0.r) \($0.p)" } ?? "-", wrappedKey ?? "-",
            checkpointPublicKey, qrPublicKey,
        ]
        return Data(lines.joined(separator: "\n").utf8)
    }

    static func sealingKey(_ kek: SymmetricKey) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: kek, info: Data("cubby.key-file.seal.v1".utf8), outputByteCount: 32)
    }
}
