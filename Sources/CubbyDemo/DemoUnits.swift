import CubbyServer
import Foundation

/// The demo's locker units: one edge controller per unit, each a child process of the demo running
/// `cubby edge run` on simulated hardware against the demo's edge listener, enrolled on first start.
struct DemoUnits {
    let parts: CubbyServerParts
    let settings: ServerSettings
    let dataDir: String
    let edgePort: Int
    let kioskPort: Int
    let controlPort: Int
    let kioskIdleSeconds: Int

    func start(_ units: [DemoManifest.Unit], say: @Sendable (String) -> Void) async throws {
        let identity = try ServerIdentity.loadOrCreate(
            certificatePath: settings.tlsCertificate, keyPath: settings.tlsKey, hosts: [settings.host])
        let pin = try identity.spkiSHA256()
        let server = "https://127.0.0.1:\(edgePort)"
        let me = Self.executable()
        var lines: [String] = []
        for (i, unit) in units.enumerated() {
            let state = "\(dataDir)/edge-unit-\(i + 1)"
            let log = "\(state)/edge.log"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: state + "/edge.json") {
                let (code, _) = try await parts.edges.issueEnrollmentCodeFromConsole(unitId: unit.id)
                let status = try await Self.runToEnd(
                    me, ["edge", "enroll", "--state", state, "--server", server, "--pin", pin, "--code", code], log: log
                )
                guard status == 0 else { throw DemoUnitsError("unit \(unit.name) did not enroll; see \(log)") }
            }
            let kiosk = kioskPort == 0 ? 0 : kioskPort + i
            let control = controlPort == 0 ? 0 : controlPort + i
            _ = try Self.spawn(
                me,
                [
                    "edge", "run", "--state", state, "--kiosk-port", String(kiosk), "--control-port", String(control),
                    "--parent-pid", String(getpid()), "--close-after-ms", "1500", "--kiosk-idle-seconds",
                    String(kioskIdleSeconds),
                ], log: log)
            lines.append(
                "  \(unit.name): kiosk http://127.0.0.1:\(kiosk)/   simulator http://127.0.0.1:\(control)/status   log \(log)"
            )
        }
        say(
            """

            Locker units (cubby edge run, simulated hardware) linked over TLS 1.3 to \(server), pin \(pin):
            \(lines.joined(separator: "\n"))
              shake unit 1 (tamper → lockdown):  curl -X POST http://127.0.0.1:\(controlPort)/tamper?kind=impact
              release it:  in the portal's dashboard (a fresh authenticator code), or break-glass: cubby unit release-lockdown --break-glass --unit <unit id>
            """)
    }

    /// This program's own file, so the units run the same build.
    static func executable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func spawn(_ path: String, _ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func runToEnd(_ path: String, _ arguments: [String], log: String) async throws -> Int32 {
        let process = try spawn(path, arguments, log: log)
        while process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        return process.terminationStatus
    }
}

struct DemoUnitsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
