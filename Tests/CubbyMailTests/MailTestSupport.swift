import CubbyCore
import Foundation
import Testing

/// The repository's root, found from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The Python interpreter on PATH, if any.
let python3: String? = {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let path = "\(directory)/python3"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}()

/// The aiosmtpd tests run when `CUBBY_TEST_MAIL` is set (scripts/mail-test.sh sets it); they need aiosmtpd,
/// openssl and zbarimg.
let mailTestsEnabled = ProcessInfo.processInfo.environment["CUBBY_TEST_MAIL"] != nil && python3 != nil

/// A child process (a Python test server) that printed `READY <port>`; ended when the test is done with it.
final class ServerProcess: Sendable {
    let process: ChildProcess
    let port: Int
    let directory: URL

    /// Runs `python3 script args…` and waits up to 60 s for its `READY <port>` line.
    init(script: String, arguments: [String], directory: URL) throws {
        self.directory = directory
        let errorLog = directory.appendingPathComponent("server.log")
        let errorFD = open(errorLog.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard errorFD >= 0 else { throw ServerProcessError.notReady(script, "cannot open \(errorLog.path)") }
        defer { close(errorFD) }
        let out = try ChildProcess.pipe()
        var drained = false
        defer { if !drained { close(out.read) } }
        do {
            process = try ChildProcess(
                executable: python3 ?? "/usr/bin/python3",
                arguments: [repositoryRoot.appendingPathComponent(script).path] + arguments, standardInput: .null,
                standardOutput: .descriptor(out.write), standardError: .descriptor(errorFD))
        } catch {
            close(out.write)
            throw error
        }
        close(out.write)
        var seen = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let count = read(out.read, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            seen += buffer.prefix(count)
            if let text = String(data: seen, encoding: .utf8), let line = text.split(separator: "\n").first,
                line.hasPrefix("READY "), text.contains("\n"), let port = Int(line.dropFirst(6))
            {
                self.port = port
                // The server goes on printing a line per message.
                drained = true
                ChildProcess.discardOutput(from: out.read)
                return
            }
        }
        process.send(SIGKILL)
        _ = process.wait()
        let log = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
        throw ServerProcessError.notReady(script, log)
    }

    /// Ends the server with SIGKILL and waits for it.
    func stop() {
        process.send(SIGKILL)
        _ = process.wait()
    }

    deinit { stop() }
}

enum ServerProcessError: Error {
    case notReady(String, String)
}

/// A fresh temporary directory.
func temporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `python3 tests-mail/check_message.py file` and returns its JSON.
func checkMessage(_ file: URL) throws -> [String: Any] {
    let result = try ChildProcess.run(
        python3 ?? "/usr/bin/python3",
        [repositoryRoot.appendingPathComponent("tests-mail/check_message.py").path, file.path])
    #expect(result.termination == .exited(0), "check_message.py: \(result.standardErrorText)")
    return try JSONSerialization.jsonObject(with: Data(result.standardOutput)) as? [String: Any] ?? [:]
}
