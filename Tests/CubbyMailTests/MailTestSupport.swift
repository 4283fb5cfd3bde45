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
final class ServerProcess: @unchecked Sendable {
    // @unchecked: the Process is only started in init and terminated in stop(), both from the owning test.
    let process: Process
    let port: Int
    let directory: URL

    /// Runs `python3 script args…` and waits up to 60 s for its `READY <port>` line.
    init(script: String, arguments: [String], directory: URL) throws {
        self.directory = directory
        process = Process()
        process.executableURL = URL(fileURLWithPath: python3 ?? "/usr/bin/python3")
        process.arguments = [repositoryRoot.appendingPathComponent(script).path] + arguments
        let out = Pipe()
        process.standardOutput = out
        let errorLog = directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errorLog)
        try process.run()
        var seen = Data()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
            if let text = String(data: seen, encoding: .utf8), let line = text.split(separator: "\n").first,
                line.hasPrefix("READY "), text.contains("\n"), let port = Int(line.dropFirst(6))
            {
                self.port = port
                return
            }
        }
        kill(process.processIdentifier, SIGKILL)
        let log = (try? String(contentsOf: errorLog, encoding: .utf8)) ?? ""
        throw ServerProcessError.notReady(script, log)
    }

    /// Ends the server with SIGKILL: the test process may hold SIGTERM blocked, and a child inherits that mask.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
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
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python3 ?? "/usr/bin/python3")
    process.arguments = [repositoryRoot.appendingPathComponent("tests-mail/check_message.py").path, file.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
}
