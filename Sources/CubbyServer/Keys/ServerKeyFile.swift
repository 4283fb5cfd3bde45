import Crypto
import CubbyCore
import CubbyCrypto
import Foundation

/// Opens the server's key file as the settings say it is protected: sealed under a provider's key-encryption key
/// (version 3), sealed under the demo's key (`cubby demo` without a provider), or in clear (version 2, only with
/// `insecure.plaintext-keys`).
///
/// Nothing is written unless the keys were obtained: a wrong passphrase, a missing KEK file or a key command that
/// fails leaves the key file (and, since the keys are opened first, the database) as it was.
public enum ServerKeyFile {
    /// The keys, and sentences the operator must see at start (a demo key, keys in clear, an upgrade).
    public struct Opened: Sendable {
        public let keys: ServerKeys
        public let notices: [String]
    }

    /// The demo's key-encryption key: a file beside the key file, as good as none, for the demo only.
    public static func demoKEKPath(keysPath: String) -> String {
        let dir = PrivateFile.directory(of: keysPath)
        return (dir.isEmpty ? "." : dir) + "/demo-kek"
    }

    /// Opens (or, on first start, creates) the key file of `settings`.
    public static func open(_ settings: ServerSettings) async throws -> Opened {
        let path = settings.keysPath
        var existing: Data? = nil
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KeyFileError("the key file \(path) cannot be read")
            }
            existing = data
        }
        let sealed = existing.flatMap(SealedKeyFile.decode)
        if let provider = settings.keyProvider {
            if let sealed, sealed.provider == "demo" {
                return try await sealDemoFile(sealed, path: path, provider: provider)
            }
            if let sealed {
                guard sealed.provider == provider.kind else {
                    throw KeyFileError(
                        "\(path) is sealed under the \(sealed.provider) provider's key (\(KeyProvider.setting(kind: sealed.provider))), "
                            + "but the settings give \(KeyProvider.setting(kind: provider.kind))")
                }
                let kek = try await provider.existingKey(sealed, path: path)
                return Opened(keys: try sealed.open(kek: kek, path: path), notices: [])
            }
            let keys = try existing.map { try plaintext($0, path: path) } ?? ServerKeys.generate()
            let (kek, scrypt, wrapped) = try await provider.newKey()
            let file = try SealedKeyFile.seal(
                keys, kek: kek, provider: provider.kind, scrypt: scrypt, wrappedKey: wrapped)
            try write(try file.encoded(), to: path)
            let notice =
                "\(path) held the server's secrets in clear; it is now sealed under the \(provider.kind) provider's key"
            return Opened(keys: keys, notices: existing == nil ? [] : [notice])
        }
        if settings.demoKeys { return try openDemo(path: path, existing: existing, sealed: sealed) }
        if let sealed {
            guard sealed.provider == "demo", settings.opensDemoKeyFile else {
                throw KeyFileError(
                    sealed.provider == "demo"
                        ? "\(path) is sealed under the demo's key: `cubby serve` needs a real provider or --insecure-plaintext-keys; "
                            + KeyProvider.missing
                        : "\(path) is sealed under the \(sealed.provider) provider's key: set \(KeyProvider.setting(kind: sealed.provider))"
                )
            }
            let keys = try sealed.open(kek: try demoKEK(path: path), path: path)
            let notice = "\(path) is sealed under the demo's key, which lies beside it: a demo setting, not protection"
            return Opened(keys: keys, notices: [notice])
        }
        guard settings.insecurePlaintextKeys else { throw KeyFileError(KeyProvider.missing) }
        let keys: ServerKeys
        if let existing {
            let (loaded, upgraded) = try decode(existing, path: path)
            if upgraded { try write(try loaded.plaintextFile(), to: path) }
            keys = loaded
        } else {
            keys = ServerKeys.generate()
            try write(try keys.plaintextFile(), to: path)
        }
        let notice =
            "INSECURE: the key file \(path) holds every server secret in clear (insecure.plaintext-keys); "
            + "whoever copies it has them all. Set CUBBY_KEY_PASSPHRASE_FILE, CUBBY_KEK_FILE or CUBBY_KEK_COMMAND"
        return Opened(keys: keys, notices: [notice])
    }

    /// A key file the demo sealed, sealed again under a real provider's KEK; the demo's KEK beside it is removed
    /// once the new file is in place.
    static func sealDemoFile(_ sealed: SealedKeyFile, path: String, provider: KeyProvider) async throws -> Opened {
        let keys = try sealed.open(kek: try demoKEK(path: path), path: path)
        let (kek, scrypt, wrapped) = try await provider.newKey()
        let file = try SealedKeyFile.seal(keys, kek: kek, provider: provider.kind, scrypt: scrypt, wrappedKey: wrapped)
        try write(try file.encoded(), to: path)
        try? FileManager.default.removeItem(atPath: demoKEKPath(keysPath: path))
        let notice =
            "\(path) was sealed under the demo's key; it is now sealed under the \(provider.kind) provider's key"
        return Opened(keys: keys, notices: [notice])
    }

    /// `cubby demo` without a provider: the key file sealed under a key kept in `demo-kek` beside it.
    static func openDemo(path: String, existing: Data?, sealed: SealedKeyFile?) throws -> Opened {
        let kekPath = demoKEKPath(keysPath: path)
        let notice =
            "the demo's key-encryption key is a demo setting: \(kekPath) lies beside the key file and opens it; "
            + "a deployment sets CUBBY_KEY_PASSPHRASE_FILE, CUBBY_KEK_FILE or CUBBY_KEK_COMMAND"
        if let sealed {
            guard sealed.provider == "demo" else {
                throw KeyFileError(
                    "\(path) is sealed under the \(sealed.provider) provider's key: set \(KeyProvider.setting(kind: sealed.provider))"
                )
            }
            return Opened(keys: try sealed.open(kek: try demoKEK(path: path), path: path), notices: [notice])
        }
        let keys = try existing.map { try plaintext($0, path: path) } ?? ServerKeys.generate()
        let kek: SymmetricKey
        if FileManager.default.fileExists(atPath: kekPath) {
            kek = try demoKEK(path: path)
        } else {
            let bytes = Data(SecretGenerator.bytes(32))
            try write(bytes, to: kekPath)
            kek = SymmetricKey(data: bytes)
        }
        let file = try SealedKeyFile.seal(keys, kek: kek, provider: "demo")
        try write(try file.encoded(), to: path)
        return Opened(keys: keys, notices: [notice])
    }

    /// Writes a key file (or the demo's KEK) atomically with mode 0600.
    static func write(_ data: Data, to path: String) throws {
        do { try ServerKeys.writePrivate(data, to: path) } catch KeyMaterialError.malformedKeyFile(let message) {
            throw KeyFileError(message)
        } catch {
            throw KeyFileError("cannot write \(path): \(error.localizedDescription)")
        }
    }

    static func demoKEK(path: String) throws -> SymmetricKey {
        let kekPath = demoKEKPath(keysPath: path)
        guard let data = FileManager.default.contents(atPath: kekPath), data.count == 32 else {
            throw KeyFileError("\(path) is sealed under the demo's key, but \(kekPath) is missing or not 32 bytes")
        }
        return SymmetricKey(data: data)
    }

    /// The keys of a plaintext file, to be sealed.
    static func plaintext(_ data: Data, path: String) throws -> ServerKeys {
        try decode(data, path: path).0
    }

    static func decode(_ data: Data, path: String) throws -> (ServerKeys, Bool) {
        do { return try ServerKeys.decodePlaintext(data, path: path) } catch KeyMaterialError.malformedKeyFile(
            let message)
        {
            throw KeyFileError(message)
        }
    }

    /// The public key that checks the audit log's checkpoints, from a key file of any version, without writing
    /// anything. A sealed file is opened when `provider` is the one that sealed it, which also proves its header
    /// unaltered; otherwise the key is read from the header as it stands.
    public static func checkpointPublicKey(path: String, provider: KeyProvider? = nil) async throws
        -> Curve25519.Signing.PublicKey
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyFileError("the key file \(path) cannot be read")
        }
        if let sealed = SealedKeyFile.decode(data) {
            if let provider, provider.kind == sealed.provider {
                let kek = try await provider.existingKey(sealed, path: path)
                return try sealed.open(kek: kek, path: path).checkpointSigningKey.publicKey
            }
            guard let key = sealed.checkpointVerifyingKey else {
                throw KeyFileError("\(path): the header's checkpoint public key is malformed")
            }
            return key
        }
        return try decode(data, path: path).0.checkpointSigningKey.publicKey
    }
}

extension ServerKeyFile {
    /// Seals the existing key file again under `target`'s key-encryption key (`cubby keys reseal`): opened as the
    /// settings say it is protected, then written atomically under the new KEK. The keys inside do not change, so
    /// the database needs nothing; once the new file is in place the old KEK (passphrase, KEK file, or the key
    /// command's key) may be destroyed. Nothing is written unless both the old and the new KEK were obtained.
    /// Returns the old and the new provider's kinds.
    public static func reseal(_ settings: ServerSettings, to target: KeyProvider) async throws -> (
        from: String, to: String
    ) {
        let path = settings.keysPath
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyFileError("the key file \(path) does not exist or cannot be read")
        }
        let from = SealedKeyFile.decode(data)?.provider ?? "plaintext"
        if from == "plaintext", !settings.insecurePlaintextKeys, settings.keyProvider == nil {
            throw KeyFileError(
                "\(path) holds the keys in clear: give --insecure-plaintext-keys to reseal it under a provider")
        }
        var opening = settings
        opening.opensDemoKeyFile = true
        if let provider = settings.keyProvider, from != provider.kind, from != "plaintext", from != "demo" {
            throw KeyFileError(
                "\(path) is sealed under the \(from) provider's key: give \(KeyProvider.setting(kind: from)) to open it"
            )
        }
        // Opening with the current provider's settings; a demo or plaintext file is opened as it is, without
        // sealing it under the current provider first.
        if from == "plaintext" || from == "demo" { opening.keyProvider = nil }
        if from == "plaintext" { opening.insecurePlaintextKeys = true }
        let keys = try await open(opening).keys
        let (kek, scrypt, wrapped) = try await target.newKey()
        let file = try SealedKeyFile.seal(keys, kek: kek, provider: target.kind, scrypt: scrypt, wrappedKey: wrapped)
        // Proves the new file opens under the new provider before it replaces the old one.
        guard let sealed = SealedKeyFile.decode(try file.encoded()) else {
            throw KeyFileError("the resealed key file does not decode")
        }
        let reopened = try sealed.open(kek: try await target.existingKey(sealed, path: path), path: path)
        guard reopened.keyEncryptionKey == keys.keyEncryptionKey else {
            throw KeyFileError("the resealed key file does not give back the same keys")
        }
        try write(try file.encoded(), to: path)
        if from == "demo" { try? FileManager.default.removeItem(atPath: demoKEKPath(keysPath: path)) }
        return (from, target.kind)
    }
}
