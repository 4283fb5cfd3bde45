import Crypto
import CubbyCrypto
import Foundation

/// Where the key-encryption key (KEK) that seals the key file comes from, as the settings chose it.
public enum KeyProvider: Sendable, Equatable {
    /// A passphrase in this file (one trailing newline is ignored), stretched with scrypt.
    case passphraseFile(String)
    /// 32 random bytes in this file: raw (exactly 32 bytes) or base64 (44 characters, a trailing newline allowed).
    case kekFile(String)
    /// A program and its arguments, run as `PROGRAM ARGS… wrap` or `PROGRAM ARGS… unwrap` with base64 on standard
    /// input and base64 on standard output; killed when it takes longer than `timeout`.
    case command([String], timeout: Duration)

    /// The provider's name in the key file's header.
    public var kind: String {
        switch self {
        case .passphraseFile: "passphrase"
        case .kekFile: "file"
        case .command: "command"
        }
    }

    /// The environment variable that chooses a provider of this kind.
    public static func setting(kind: String) -> String {
        switch kind {
        case "passphrase": "CUBBY_KEY_PASSPHRASE_FILE"
        case "file": "CUBBY_KEK_FILE"
        case "command": "CUBBY_KEK_COMMAND"
        default: "the demo's key beside the file"
        }
    }

    /// The sentence of a server that has no provider and no opt-in.
    public static let missing =
        "no key-encryption key provider: set CUBBY_KEY_PASSPHRASE_FILE, CUBBY_KEK_FILE or CUBBY_KEK_COMMAND "
        + "(--key-passphrase-file, --kek-file, --kek-command), or CUBBY_INSECURE_PLAINTEXT_KEYS=1 "
        + "(--insecure-plaintext-keys) to keep every server secret in clear in the key file"

    /// A command setting split into a program and its arguments at spaces and tabs, without a shell: no quoting,
    /// no variables, no globbing. The program is an absolute path.
    public static func command(_ text: String, timeout: Duration) throws -> KeyProvider {
        let argv = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let program = argv.first, program.hasPrefix("/") else {
            throw SettingsError.invalid(
                "kek.command must start with the program's absolute path (it is split at spaces and run without a shell), got \(text)"
            )
        }
        return .command(argv, timeout: timeout)
    }

    /// The KEK for a new key file, and what the header must keep to obtain it again.
    func newKey() async throws -> (kek: SymmetricKey, scrypt: ScryptParameters?, wrapped: String?) {
        switch self {
        case .kekFile(let path):
            return (try Self.readKEKFile(path), nil, nil)
        case .passphraseFile(let path):
            let parameters = ScryptParameters.fresh()
            let kek = try PassphraseKey.derive(passphrase: try Self.readPassphrase(path), parameters: parameters)
            return (kek, parameters, nil)
        case .command(let argv, let timeout):
            let key = Data(SecretGenerator.bytes(32))
            let wrapped = try await KeyCommand(argv: argv, timeout: timeout).run(
                "wrap", input: key.base64EncodedString())
            guard Data(base64Encoded: wrapped) != nil, !wrapped.isEmpty else {
                throw KeyFileError("the key command's answer to wrap is not base64")
            }
            // The file is written only once the command has shown it gives the key back.
            let back = try await Self.unwrap(argv: argv, timeout: timeout, wrapped: wrapped)
            guard back == key else {
                throw KeyFileError("the key command's unwrap does not give back what its wrap was given")
            }
            return (SymmetricKey(data: key), nil, wrapped)
        }
    }

    /// The KEK of an existing key file, from the header's salt or wrapped key.
    func existingKey(_ file: SealedKeyFile, path: String) async throws -> SymmetricKey {
        switch self {
        case .kekFile(let kekPath):
            return try Self.readKEKFile(kekPath)
        case .passphraseFile(let passphrasePath):
            guard let parameters = file.scrypt else {
                throw KeyFileError("\(path): the header has no scrypt parameters")
            }
            try parameters.check(path: path)
            let passphrase = try Self.readPassphrase(passphrasePath)
            return (try PassphraseKey.derive(passphrase: passphrase, parameters: parameters))
        case .command(let argv, let timeout):
            guard let wrapped = file.wrappedKey else { throw KeyFileError("\(path): the header has no wrapped key") }
            return SymmetricKey(data: try await Self.unwrap(argv: argv, timeout: timeout, wrapped: wrapped))
        }
    }

    static func unwrap(argv: [String], timeout: Duration, wrapped: String) async throws -> Data {
        let answer = try await KeyCommand(argv: argv, timeout: timeout).run("unwrap", input: wrapped)
        guard let key = Data(base64Encoded: answer) else {
            throw KeyFileError("the key command's answer to unwrap is not base64")
        }
        guard key.count == 32 else {
            throw KeyFileError("the key command's answer to unwrap is \(key.count) bytes, not a 32-byte key")
        }
        return key
    }

    /// A KEK file's 32 bytes.
    static func readKEKFile(_ path: String) throws -> SymmetricKey {
        let data = try readPrivate(path, what: "the KEK file (CUBBY_KEK_FILE)")
        if data.count == 32 { return SymmetricKey(data: data) }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let key = Data(base64Encoded: text), key.count == 32 else {
            throw KeyFileError(
                "the KEK file \(path) must hold 32 random bytes, raw or in base64 (head -c 32 /dev/urandom, or openssl rand -base64 32)"
            )
        }
        return SymmetricKey(data: key)
    }

    /// A passphrase file's passphrase without one trailing newline.
    static func readPassphrase(_ path: String) throws -> Data {
        var data = try readPrivate(path, what: "the passphrase file (CUBBY_KEY_PASSPHRASE_FILE)")
        if data.last == UInt8(ascii: "\n") { data.removeLast() }
        if data.last == UInt8(ascii: "\r") { data.removeLast() }
        guard !data.isEmpty else { throw KeyFileError("the passphrase file \(path) is empty") }
        return data
    }

    /// A regular file that only its owner may read.
    static func readPrivate(_ path: String, what: String) throws -> Data {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw KeyFileError("\(what) \(path) does not exist")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw KeyFileError("\(what) \(path) is not a regular file")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
        guard mode & 0o077 == 0 else {
            throw KeyFileError(
                "\(what) \(path) may be read by others (mode \(String(mode & 0o777, radix: 8))): chmod 600 it")
        }
        guard (attributes[.size] as? NSNumber)?.intValue ?? 0 <= 65536,
            let data = FileManager.default.contents(atPath: path)
        else {
            throw KeyFileError("\(what) \(path) cannot be read or is larger than 64 KiB")
        }
        return data
    }
}
