import Crypto
import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation
import Testing

/// The key-encryption key providers and the key file's protection, in process: what is written, what is refused,
/// and that a refusal writes nothing.
@Suite("Key-encryption key providers")
struct KeyProviderTests {
    final class Scratch: Sendable {
        let dir: String
        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-kek-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }

        var keysPath: String { dir + "/data/keys.json" }

        func settings(_ provider: KeyProvider?) -> ServerSettings {
            var s = ServerSettings(database: .sqlite(path: dir + "/data/cubby.sqlite"), keysPath: keysPath)
            s.keyProvider = provider
            return s
        }

        func header() throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: keysPath))
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }

        func mode(_ path: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
    }

    private func raw(_ k: SymmetricKey) -> [UInt8] { k.withUnsafeBytes { Array($0) } }

    private func same(_ a: ServerKeys, _ b: ServerKeys) -> Bool {
        raw(a.secretHashKey) == raw(b.secretHashKey) && raw(a.keyEncryptionKey) == raw(b.keyEncryptionKey)
            && raw(a.outboxKey) == raw(b.outboxKey)
            && a.checkpointSigningKey.rawRepresentation == b.checkpointSigningKey.rawRepresentation
            && a.qrSigningKey.rawRepresentation == b.qrSigningKey.rawRepresentation
    }

    private func refusal(_ settings: ServerSettings) async -> String {
        do {
            _ = try await ServerKeyFile.open(settings)
            return "opened"
        } catch {
            return String(describing: error)
        }
    }

    @Test(
        "a KEK file, raw or base64, seals a new key file (version 3, mode 0600) that opens again",
        arguments: [
            false, true,
        ])
    func kekFile(base64: Bool) async throws {
        let s = try Scratch()
        let kek = Data(SecretGenerator.bytes(32))
        try PrivateFile.write(base64 ? Data((kek.base64EncodedString() + "\n").utf8) : kek, to: s.dir + "/kek")
        let first = try await ServerKeyFile.open(s.settings(.kekFile(s.dir + "/kek")))
        #expect(first.notices.isEmpty)
        let header = try s.header()
        #expect(header["version"] as? Int == 3 && header["provider"] as? String == "file")
        #expect(header["kekId"] as? String == SealedKeyFile.kekId(SymmetricKey(data: kek)))
        #expect(try s.mode(s.keysPath) & 0o777 == 0o600)
        let again = try await ServerKeyFile.open(s.settings(.kekFile(s.dir + "/kek")))
        #expect(same(first.keys, again.keys))
    }

    @Test("a KEK file that others may read, of the wrong size, or missing is refused and nothing is written")
    func kekFileRefusals() async throws {
        let s = try Scratch()
        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: s.dir + "/open-kek", mode: 0o644)
        try PrivateFile.write(Data(SecretGenerator.bytes(31)), to: s.dir + "/short-kek")
        #expect(await refusal(s.settings(.kekFile(s.dir + "/open-kek"))).contains("may be read by others (mode 644)"))
        #expect(await refusal(s.settings(.kekFile(s.dir + "/short-kek"))).contains("must hold 32 random bytes"))
        #expect(await refusal(s.settings(.kekFile(s.dir + "/none"))).contains("does not exist"))
        #expect(!FileManager.default.fileExists(atPath: s.dir + "/data"))
        // A key file that cannot be read is not replaced by a new one.
        try FileManager.default.createDirectory(atPath: s.keysPath, withIntermediateDirectories: true)
        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: s.dir + "/kek")
        #expect(await refusal(s.settings(.kekFile(s.dir + "/kek"))).contains("cannot be read"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.keysPath).isEmpty)
    }

    @Test("a passphrase seals with scrypt; the same one opens, a wrong one is refused and changes nothing")
    func passphrase() async throws {
        let s = try Scratch()
        try PrivateFile.write(Data("correct horse battery staple\n".utf8), to: s.dir + "/pass")
        try PrivateFile.write(Data("correct horse battery stapler\n".utf8), to: s.dir + "/wrong")
        let first = try await ServerKeyFile.open(s.settings(.passphraseFile(s.dir + "/pass")))
        let header = try s.header()
        #expect(header["provider"] as? String == "passphrase")
        let scrypt = try #require(header["scrypt"] as? [String: Any])
        #expect(scrypt["logN"] as? Int == 15 && scrypt["r"] as? Int == 8 && scrypt["p"] as? Int == 1)
        #expect(Data(base64Encoded: scrypt["salt"] as? String ?? "")?.count == 16)
        let before = DirectoryDigest.of(s.dir)
        let refused = await refusal(s.settings(.passphraseFile(s.dir + "/wrong")))
        #expect(refused.contains("is not the one this file was sealed with"), "\(refused)")
        #expect(DirectoryDigest.of(s.dir) == before)
        let again = try await ServerKeyFile.open(s.settings(.passphraseFile(s.dir + "/pass")))
        #expect(same(first.keys, again.keys))
        // Another provider than the one that sealed the file is named, not tried.
        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: s.dir + "/kek")
        let other = await refusal(s.settings(.kekFile(s.dir + "/kek")))
        #expect(other.contains("sealed under the passphrase provider's key (CUBBY_KEY_PASSPHRASE_FILE)"), "\(other)")
        #expect(DirectoryDigest.of(s.dir).filter { $0.key != "kek" } == before)
    }

    @Test("a version-2 key file in clear is sealed on the first start with a provider, with the same keys")
    func upgrade() async throws {
        let s = try Scratch()
        let keys = ServerKeys.generate()
        try keys.write(path: s.keysPath)
        let secret = Data(raw(keys.secretHashKey)).base64EncodedString()
        #expect(try s.header()["secretHashKey"] as? String == secret)
        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: s.dir + "/kek")
        let opened = try await ServerKeyFile.open(s.settings(.kekFile(s.dir + "/kek")))
        #expect(same(opened.keys, keys))
        #expect(opened.notices.count == 1 && opened.notices[0].contains("it is now sealed"))
        let sealed = try String(contentsOfFile: s.keysPath, encoding: .utf8)
        // JSON writes "/" as "\/".
        #expect(!sealed.contains(secret.replacingOccurrences(of: "/", with: "\\/")))
        #expect(try s.header()["secretHashKey"] == nil && s.header()["sealed"] != nil)
        #expect(try s.header()["version"] as? Int == 3)
        #expect(try s.mode(s.keysPath) & 0o777 == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir + "/data") == ["keys.json"])
        // The checkpoint key's public half still reads without the KEK; with it, an altered header is caught.
        let provider = KeyProvider.kekFile(s.dir + "/kek")
        let expected = keys.checkpointSigningKey.publicKey.rawRepresentation
        #expect(try await ServerKeyFile.checkpointPublicKey(path: s.keysPath).rawRepresentation == expected)
        #expect(
            try await ServerKeyFile.checkpointPublicKey(path: s.keysPath, provider: provider).rawRepresentation
                == expected)
        var file = try #require(SealedKeyFile.decode(try Data(contentsOf: URL(fileURLWithPath: s.keysPath))))
        let swapped = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation
        file.checkpointPublicKey = swapped.base64EncodedString()
        try PrivateFile.write(try file.encoded(), to: s.keysPath)
        #expect(try await ServerKeyFile.checkpointPublicKey(path: s.keysPath).rawRepresentation == swapped)
        await #expect(throws: KeyFileError.self) {
            _ = try await ServerKeyFile.checkpointPublicKey(path: s.keysPath, provider: provider)
        }
        #expect(await refusal(s.settings(provider)).contains("the file was altered or damaged"))
    }

    @Test("without a provider the start is refused, naming the three settings; the opt-in keeps the file in clear")
    func noProvider() async throws {
        let s = try Scratch()
        let refused = await refusal(s.settings(nil))
        for name in [
            "CUBBY_KEY_PASSPHRASE_FILE", "CUBBY_KEK_FILE", "CUBBY_KEK_COMMAND", "CUBBY_INSECURE_PLAINTEXT_KEYS",
        ] {
            #expect(refused.contains(name))
        }
        #expect(!FileManager.default.fileExists(atPath: s.dir + "/data"))
        var insecure = s.settings(nil)
        insecure.insecurePlaintextKeys = true
        let opened = try await ServerKeyFile.open(insecure)
        #expect(opened.notices.first?.hasPrefix("INSECURE") == true)
        #expect(try s.header()["version"] as? Int == 2)
        // Once sealed, the opt-in does not open the file without its provider.
        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: s.dir + "/kek")
        _ = try await ServerKeyFile.open(s.settings(.kekFile(s.dir + "/kek")))
        #expect(await refusal(insecure).contains("set CUBBY_KEK_FILE"))
    }

    @Test("the demo seals under a key beside the file; console commands open it, `cubby serve` without opt-in not")
    func demo() async throws {
        let s = try Scratch()
        var demo = s.settings(nil)
        demo.demoKeys = true
        let first = try await ServerKeyFile.open(demo)
        #expect(first.notices.first?.contains("demo setting") == true)
        #expect(try s.header()["provider"] as? String == "demo")
        #expect(try s.mode(s.dir + "/data/demo-kek") & 0o777 == 0o600)
        let console = try await ServerKeyFile.open(s.settings(nil))
        #expect(same(first.keys, console.keys))
        var serve = s.settings(nil)
        serve.opensDemoKeyFile = false
        #expect(await refusal(serve).contains("sealed under the demo's key"))
        // A real provider seals the demo's keys again under its own KEK, and the demo's KEK goes.
        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: s.dir + "/kek")
        let sealed = try await ServerKeyFile.open(s.settings(.kekFile(s.dir + "/kek")))
        #expect(same(sealed.keys, first.keys))
        #expect(sealed.notices.first?.contains("now sealed under the file provider's key") == true)
        #expect(try s.header()["provider"] as? String == "file")
        #expect(!FileManager.default.fileExists(atPath: s.dir + "/data/demo-kek"))
        #expect(await refusal(s.settings(nil)).contains("set CUBBY_KEK_FILE"))
    }

    @Test("a key command that wraps with openssl seals the file; it is asked to unwrap to open it")
    func command() async throws {
        let s = try Scratch()
        let script = try KeyCommandScript.openssl(in: s.dir)
        let provider = try KeyProvider.command(script, timeout: .seconds(10))
        let first = try await ServerKeyFile.open(s.settings(provider))
        let header = try s.header()
        #expect(header["provider"] as? String == "command")
        let wrapped = try #require(Data(base64Encoded: header["wrappedKey"] as? String ?? ""))
        #expect(wrapped.count >= 48 && wrapped.prefix(8) == Data("Salted__".utf8), "openssl's output")
        let again = try await ServerKeyFile.open(s.settings(provider))
        #expect(same(first.keys, again.keys))
        let calls = try String(contentsOfFile: s.dir + "/calls", encoding: .utf8)
        #expect(calls == "wrap\nunwrap\nunwrap\n")
    }

    @Test("a key command that fails, answers garbage or a short key, or hangs: refused, nothing written")
    func commandRefusals() async throws {
        let s = try Scratch()
        let cases: [(String, String)] = [
            (try KeyCommandScript.failing(in: s.dir), "failed with exit status 3; it said: kms unreachable"),
            (try KeyCommandScript.garbage(in: s.dir), "is not base64"),
            (s.dir + "/no-such-command", "cannot be started"),
        ]
        for (script, message) in cases {
            let refused = await refusal(s.settings(try KeyProvider.command(script, timeout: .seconds(10))))
            #expect(refused.contains(message), "\(refused)")
        }
        #expect(!FileManager.default.fileExists(atPath: s.dir + "/data"))
        // The short answer is caught when the file is opened: seal one with the real command first.
        let good = try KeyCommandScript.openssl(in: s.dir)
        _ = try await ServerKeyFile.open(s.settings(try KeyProvider.command(good, timeout: .seconds(10))))
        let before = DirectoryDigest.of(s.dir)
        let short = try KeyCommandScript.short(in: s.dir)
        let refused = await refusal(s.settings(try KeyProvider.command(short, timeout: .seconds(10))))
        #expect(refused.contains("is 3 bytes, not a 32-byte key"), "\(refused)")
        let hanging = try KeyCommandScript.hanging(in: s.dir)
        let started = ContinuousClock.now
        let hung = await refusal(s.settings(try KeyProvider.command(hanging, timeout: .seconds(1))))
        #expect(hung.contains("did not answer within 1 seconds and was killed"), "\(hung)")
        #expect(ContinuousClock.now - started < .seconds(10))
        let pid = try #require(
            Int32(
                try String(contentsOfFile: s.dir + "/hung.pid", encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) != 0, "the hanging command is still running")
        var after = DirectoryDigest.of(s.dir)
        for added in ["kek-short.sh", "kek-hanging.sh", "hung.pid"] { after[added] = nil }
        #expect(after == before)
    }

    @Test("settings: one provider at most, the command's program an absolute path, the timeout in bounds")
    func settings() async throws {
        let env = [
            "CUBBY_KEK_FILE": "/run/kek", "CUBBY_KEK_COMMAND": "/usr/local/bin/kms-wrap --key  cubby",
        ]
        await #expect(throws: SettingsError.self) {
            _ = try await ServerSettings.load(overrides: [:], configFile: nil, environment: env)
        }
        let file = try await ServerSettings.load(
            overrides: [:], configFile: nil, environment: ["CUBBY_KEK_FILE": "/run/kek"])
        #expect(file.keyProvider == .kekFile("/run/kek"))
        let passphrase = try await ServerSettings.load(
            overrides: [:], configFile: nil, environment: ["CUBBY_KEY_PASSPHRASE_FILE": "/run/pass"])
        #expect(passphrase.keyProvider == .passphraseFile("/run/pass"))
        let command = try await ServerSettings.load(
            overrides: [:], configFile: nil,
            environment: [
                "CUBBY_KEK_COMMAND": "/usr/local/bin/kms-wrap --key  cubby", "CUBBY_KEK_COMMAND_TIMEOUT_SECONDS": "3",
            ])
        #expect(command.keyProvider == .command(["/usr/local/bin/kms-wrap", "--key", "cubby"], timeout: .seconds(3)))
        await #expect(throws: SettingsError.self) {
            _ = try await ServerSettings.load(
                overrides: [:], configFile: nil, environment: ["CUBBY_KEK_COMMAND": "kms-wrap; rm -rf /"])
        }
        await #expect(throws: SettingsError.self) {
            _ = try await ServerSettings.load(
                overrides: [:], configFile: nil,
                environment: ["CUBBY_KEK_FILE": "/run/kek", "CUBBY_KEK_COMMAND_TIMEOUT_SECONDS": "0"])
        }
        let none = try await ServerSettings.load(overrides: [:], configFile: nil, environment: [:])
        #expect(none.keyProvider == nil && !none.insecurePlaintextKeys)
        let optIn = try await ServerSettings.load(
            overrides: [:], configFile: nil, environment: ["CUBBY_INSECURE_PLAINTEXT_KEYS": "1"])
        #expect(optIn.insecurePlaintextKeys)
    }
}
