import Crypto
import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation
import Testing

/// `cubby serve` as a real process with each key-encryption key provider: it starts and answers with the right one,
/// and with a wrong passphrase, a missing or open KEK file, or a key command that fails, prints garbage or hangs, it
/// exits non-zero with one line that says why, and leaves the key file and the database as they were.
@Suite("cubby serve's key-encryption key, as a real process", .serialized)
struct KeyStartProcessTests {
    static let binary = ProvisioningCommandLineTests.binary

    /// How a start ended: the server answered `/healthz` (and was then stopped), or it exited by itself.
    enum Outcome: Equatable {
        case served
        case exited(status: Int32, error: String)
    }

    /// A directory with `data/` (the key file and the database) and `secrets/` (the KEKs and commands).
    final class Site: Sendable {
        let dir: String
        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-kekp-\(UUID().uuidString)").path
            for sub in ["data", "secrets", "logs"] {
                try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
        var data: String { dir + "/data" }
        var secrets: String { dir + "/secrets" }
        var keysPath: String { data + "/keys.json" }

        func header() throws -> [String: Any] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: keysPath))
            return try JSONSerialization.jsonObject(with: bytes) as? [String: Any] ?? [:]
        }

        /// Runs `cubby serve` on this site's data with `environment` (no other `CUBBY_` variable).
        func serve(port: Int, _ environment: [String: String]) async throws -> Outcome {
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CUBBY_") }
            env.merge(environment) { $1 }
            let out = dir + "/logs/out-\(port).log"
            let err = dir + "/logs/err-\(port).log"
            let outFD = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            defer { if outFD >= 0 { close(outFD) } }
            let errFD = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            defer { if errFD >= 0 { close(errFD) } }
            guard outFD >= 0, errFD >= 0 else { return .exited(status: -1, error: "cannot open the logs in \(dir)") }
            let process = try ChildProcess(
                executable: KeyStartProcessTests.binary,
                arguments: [
                    "serve", "--port", String(port), "--database", "sqlite:\(data)/cubby.sqlite", "--keys", keysPath,
                    "--log-level", "warning",
                ], environment: env, workingDirectory: dir + "/logs", standardInput: .null,
                standardOutput: .descriptor(outFD), standardError: .descriptor(errFD))
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if let end = process.poll() {
                    let text = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
                    let status: Int32 =
                        switch end {
                        case .exited(let code): code
                        case .signaled(let signal): 128 + signal
                        }
                    return .exited(status: status, error: text)
                }
                if let socket = try? await TestSocket.connect(port: port) {
                    await socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    let answer = await socket.answer(within: 5)
                    await socket.close()
                    if answer?.status == 200 {
                        process.send(SIGTERM)
                        _ = await process.exit()
                        return .served
                    }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            process.send(SIGKILL)
            _ = await process.exit()
            return .exited(status: -1, error: "did not answer /healthz within 60 seconds")
        }

        /// The log lines a served start wrote (standard output and standard error).
        func log(port: Int) -> String {
            ["out", "err"].map { (try? String(contentsOfFile: dir + "/logs/\($0)-\(port).log", encoding: .utf8)) ?? "" }
                .joined()
        }
    }

    /// A refused start: a non-zero exit, one line on standard error containing `message`, `data/` unchanged.
    func expectRefused(
        _ site: Site, port: Int, _ environment: [String: String], _ message: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let before = DirectoryDigest.of(site.data)
        #expect(!before.isEmpty, sourceLocation: sourceLocation)
        let outcome = try await site.serve(port: port, environment)
        guard case .exited(let status, let error) = outcome else {
            Issue.record("the server started", sourceLocation: sourceLocation)
            return
        }
        #expect(status != 0, sourceLocation: sourceLocation)
        let lines = error.split(whereSeparator: \.isNewline)
        #expect(lines.count == 1, "\(error)", sourceLocation: sourceLocation)
        #expect(error.contains(message), "\(error)", sourceLocation: sourceLocation)
        #expect(DirectoryDigest.of(site.data) == before, "the data directory changed", sourceLocation: sourceLocation)
    }

    var built: Bool { FileManager.default.isExecutableFile(atPath: Self.binary) }

    @Test("passphrase: starts and restarts; a wrong or missing passphrase, or no provider, is refused")
    func passphrase() async throws {
        guard built else { return }
        let site = try Site()
        // With no provider and no opt-in, the first start is refused before anything is made.
        let bare = try await site.serve(port: 19410, [:])
        guard case .exited(let status, let error) = bare else {
            Issue.record("the server started without a key-encryption key")
            return
        }
        #expect(status != 0)
        for name in [
            "CUBBY_KEY_PASSPHRASE_FILE", "CUBBY_KEK_FILE", "CUBBY_KEK_COMMAND", "CUBBY_INSECURE_PLAINTEXT_KEYS",
        ] {
            #expect(error.contains(name), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: site.data).isEmpty)

        let pass = site.secrets + "/passphrase"
        try PrivateFile.write(Data("lantern quay ribbon 4417\n".utf8), to: pass)
        let env = ["CUBBY_KEY_PASSPHRASE_FILE": pass]
        #expect(try await site.serve(port: 19411, env) == .served)
        #expect(try site.header()["provider"] as? String == "passphrase")
        #expect(try site.header()["version"] as? Int == 3)
        #expect(try await site.serve(port: 19412, env) == .served)

        try PrivateFile.write(Data("lantern quay ribbon 4418\n".utf8), to: site.secrets + "/wrong")
        try await expectRefused(
            site, port: 19413, ["CUBBY_KEY_PASSPHRASE_FILE": site.secrets + "/wrong"],
            "is not the one this file was sealed with")
        try await expectRefused(
            site, port: 19414, ["CUBBY_KEY_PASSPHRASE_FILE": site.secrets + "/absent"], "does not exist")
        try await expectRefused(
            site, port: 19415, [:], "is sealed under the passphrase provider's key: set CUBBY_KEY_PASSPHRASE_FILE")
        #expect(try await site.serve(port: 19416, env) == .served)
    }

    @Test("KEK file: a file in clear is sealed on the first start with it; a missing, open or other KEK is refused")
    func kekFile() async throws {
        guard built else { return }
        let site = try Site()
        #expect(try await site.serve(port: 19421, ["CUBBY_INSECURE_PLAINTEXT_KEYS": "1"]) == .served)
        #expect(site.log(port: 19421).contains("INSECURE"))
        #expect(try site.header()["version"] as? Int == 2)
        let plain = try site.header()["secretHashKey"] as? String
        #expect(plain != nil)

        let kek = site.secrets + "/kek"
        try PrivateFile.write(Data(SecretGenerator.bytes(32)).base64EncodedData(), to: kek)
        let env = ["CUBBY_KEK_FILE": kek]
        #expect(try await site.serve(port: 19422, env) == .served)
        #expect(site.log(port: 19422).contains("it is now sealed"))
        let header = try site.header()
        #expect(header["version"] as? Int == 3 && header["provider"] as? String == "file")
        #expect(header["secretHashKey"] == nil)
        let text = try String(contentsOfFile: site.keysPath, encoding: .utf8)
        #expect(!text.contains(try #require(plain).replacingOccurrences(of: "/", with: "\\/")))
        let attributes = try FileManager.default.attributesOfItem(atPath: site.keysPath)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try await site.serve(port: 19423, env) == .served)

        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: site.secrets + "/other")
        try await expectRefused(
            site, port: 19424, ["CUBBY_KEK_FILE": site.secrets + "/other"], "is not the one this file was sealed with")
        try PrivateFile.write(try Data(contentsOf: URL(fileURLWithPath: kek)), to: site.secrets + "/open", mode: 0o644)
        try await expectRefused(site, port: 19425, ["CUBBY_KEK_FILE": site.secrets + "/open"], "may be read by others")
        try FileManager.default.removeItem(atPath: kek)
        try await expectRefused(site, port: 19426, env, "does not exist")
        // The opt-in does not open a sealed file.
        try await expectRefused(site, port: 19427, ["CUBBY_INSECURE_PLAINTEXT_KEYS": "1"], "set CUBBY_KEK_FILE")
    }

    @Test("a key file the demo sealed: refused without the opt-in, served with it, sealed again under a KEK file")
    func demoKeyFile() async throws {
        guard built else { return }
        let site = try Site()
        var demo = ServerSettings(database: .sqlite(path: site.data + "/cubby.sqlite"), keysPath: site.keysPath)
        demo.demoKeys = true
        let keys = try await ServerKeyFile.open(demo).keys
        #expect(try site.header()["provider"] as? String == "demo")
        try await expectRefused(site, port: 19441, [:], "is sealed under the demo's key")
        #expect(try await site.serve(port: 19442, ["CUBBY_INSECURE_PLAINTEXT_KEYS": "1"]) == .served)
        #expect(site.log(port: 19442).contains("a demo setting"))
        let kek = site.secrets + "/kek"
        try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: kek)
        #expect(try await site.serve(port: 19443, ["CUBBY_KEK_FILE": kek]) == .served)
        #expect(try site.header()["provider"] as? String == "file")
        #expect(!FileManager.default.fileExists(atPath: site.data + "/demo-kek"))
        var file = ServerSettings(database: .sqlite(path: site.data + "/cubby.sqlite"), keysPath: site.keysPath)
        file.keyProvider = .kekFile(kek)
        let resealed = try await ServerKeyFile.open(file).keys
        #expect(resealed.checkpointSigningKey.rawRepresentation == keys.checkpointSigningKey.rawRepresentation)
    }

    @Test("key command: wraps with openssl and starts; one that fails, prints garbage or hangs is refused")
    func command() async throws {
        guard built else { return }
        let site = try Site()
        let script = try KeyCommandScript.openssl(in: site.secrets)
        let env = ["CUBBY_KEK_COMMAND": script]
        #expect(try await site.serve(port: 19431, env) == .served)
        let header = try site.header()
        #expect(header["provider"] as? String == "command")
        #expect(Data(base64Encoded: header["wrappedKey"] as? String ?? "")?.prefix(8) == Data("Salted__".utf8))
        #expect(try await site.serve(port: 19432, env) == .served)
        #expect(try String(contentsOfFile: site.secrets + "/calls", encoding: .utf8) == "wrap\nunwrap\nunwrap\n")

        try await expectRefused(
            site, port: 19433, ["CUBBY_KEK_COMMAND": try KeyCommandScript.failing(in: site.secrets)],
            "failed with exit status 3; it said: kms unreachable")
        try await expectRefused(
            site, port: 19434, ["CUBBY_KEK_COMMAND": try KeyCommandScript.garbage(in: site.secrets)],
            "answer to unwrap is not base64")
        let started = ContinuousClock.now
        try await expectRefused(
            site, port: 19435,
            [
                "CUBBY_KEK_COMMAND": try KeyCommandScript.hanging(in: site.secrets),
                "CUBBY_KEK_COMMAND_TIMEOUT_SECONDS": "1",
            ], "did not answer within 1 seconds and was killed")
        #expect(ContinuousClock.now - started < .seconds(15))
        let pid = try #require(
            Int32(
                try String(contentsOfFile: site.secrets + "/hung.pid", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) != 0, "the hanging key command is still running")
        #expect(try await site.serve(port: 19436, env) == .served)
    }
}
