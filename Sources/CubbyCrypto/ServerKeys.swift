import Crypto
import CubbyCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The server's secret keys, kept in a key file outside the database (mode 0600).
///
/// Several server processes on one database share one key file.
public struct ServerKeys: Sendable {
    /// Keys the HMAC of PINs and credentials.
    public let secretHashKey: SymmetricKey
    /// Signs QR pickup tokens.
    public let qrSigningKey: Curve25519.Signing.PrivateKey
    /// Seals outbox payloads until delivery.
    public let outboxKey: SymmetricKey
    /// Wraps recipients' data keys.
    public let keyEncryptionKey: SymmetricKey
    /// Signs the audit log's checkpoints.
    public let checkpointSigningKey: Curve25519.Signing.PrivateKey

    public init(
        secretHashKey: SymmetricKey, qrSigningKey: Curve25519.Signing.PrivateKey, outboxKey: SymmetricKey,
        keyEncryptionKey: SymmetricKey, checkpointSigningKey: Curve25519.Signing.PrivateKey
    ) {
        self.secretHashKey = secretHashKey
        self.qrSigningKey = qrSigningKey
        self.outboxKey = outboxKey
        self.keyEncryptionKey = keyEncryptionKey
        self.checkpointSigningKey = checkpointSigningKey
    }

    /// Fresh random keys.
    public static func generate() -> ServerKeys {
        ServerKeys(
            secretHashKey: SymmetricKey(size: .bits256),
            qrSigningKey: Curve25519.Signing.PrivateKey(),
            outboxKey: SymmetricKey(size: .bits256),
            keyEncryptionKey: SymmetricKey(size: .bits256),
            checkpointSigningKey: Curve25519.Signing.PrivateKey()
        )
    }

    struct FileFormat: Codable {
        var version: Int
        var secretHashKey: String
        var qrSigningKey: String
        var outboxKey: String
        var keyEncryptionKey: String
        /// Added in version 2; a version-1 file gets one on first load.
        var checkpointSigningKey: String?
    }

    /// Loads the key file at `path`, creating it with fresh keys (mode 0600) when it does not exist.
    public static func loadOrCreate(path: String) throws -> ServerKeys {
        if FileManager.default.fileExists(atPath: path) {
            let (keys, upgraded) = try loadUpgrading(path: path)
            if upgraded { try keys.write(path: path) }
            return keys
        }
        let keys = generate()
        try keys.write(path: path)
        return keys
    }

    /// Loads the key file at `path`.
    public static func load(path: String) throws -> ServerKeys {
        try loadUpgrading(path: path).0
    }

    /// The keys, and whether a key missing from an older file version had to be made.
    static func loadUpgrading(path: String) throws -> (ServerKeys, Bool) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        if (try? JSONDecoder().decode(SealedKeyFile.self, from: data))?.version == SealedKeyFile.version {
            throw KeyMaterialError.malformedKeyFile(
                "\(path) is sealed under a key-encryption key: give the provider that sealed it")
        }
        return try decodePlaintext(data, path: path)
    }

    /// The keys of a plaintext (version 1 or 2) key file's bytes, and whether a key missing from version 1 had to
    /// be made.
    public static func decodePlaintext(_ data: Data, path: String) throws -> (ServerKeys, Bool) {
        let file: FileFormat
        do { file = try JSONDecoder().decode(FileFormat.self, from: data) } catch {
            throw KeyMaterialError.malformedKeyFile("\(path) is not a Cubby key file")
        }
        func key(_ s: String, _ name: String) throws -> Data {
            guard let d = Data(base64Encoded: s), d.count == 32 else {
                throw KeyMaterialError.malformedKeyFile("\(path): \(name) must be 32 bytes in base64")
            }
            return d
        }
        let checkpointKey = try file.checkpointSigningKey.map {
            try Curve25519.Signing.PrivateKey(rawRepresentation: try key($0, "checkpointSigningKey"))
        }
        let keys = ServerKeys(
            secretHashKey: SymmetricKey(data: try key(file.secretHashKey, "secretHashKey")),
            qrSigningKey: try Curve25519.Signing.PrivateKey(
                rawRepresentation: try key(file.qrSigningKey, "qrSigningKey")),
            outboxKey: SymmetricKey(data: try key(file.outboxKey, "outboxKey")),
            keyEncryptionKey: SymmetricKey(data: try key(file.keyEncryptionKey, "keyEncryptionKey")),
            checkpointSigningKey: checkpointKey ?? Curve25519.Signing.PrivateKey()
        )
        return (keys, checkpointKey == nil)
    }

    /// Writes the key file atomically with mode 0600.
    public func write(path: String) throws {
        try Self.writePrivate(plaintextFile(), to: path)
    }

    /// The bytes of a version-2 (plaintext) key file holding these keys.
    public func plaintextFile() throws -> Data {
        let file = FileFormat(
            version: 2,
            secretHashKey: secretHashKey.withUnsafeBytes { Data($0) }.base64EncodedString(),
            qrSigningKey: qrSigningKey.rawRepresentation.base64EncodedString(),
            outboxKey: outboxKey.withUnsafeBytes { Data($0) }.base64EncodedString(),
            keyEncryptionKey: keyEncryptionKey.withUnsafeBytes { Data($0) }.base64EncodedString(),
            checkpointSigningKey: checkpointSigningKey.rawRepresentation.base64EncodedString()
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(file)
    }

    /// Writes `data` atomically at `path` with mode 0600, making its directory when missing.
    public static func writePrivate(_ data: Data, to path: String) throws {
        let dir = PrivateFile.directory(of: path)
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        do { try PrivateFile.write(data, to: path) } catch {
            throw KeyMaterialError.malformedKeyFile(error.message)
        }
    }
}
