import CubbyCore
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

    static func spawn(_ path: String, _ arguments: [String], log: String) throws -> ChildProcess {
        let fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DemoUnitsError("cannot open \(log): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try ChildProcess(
            executable: path, arguments: arguments, standardInput: .null, standardOutput: .descriptor(fd),
            standardError: .descriptor(fd))
    }

    static func runToEnd(_ path: String, _ arguments: [String], log: String) async throws -> Int32 {
        let child = try spawn(path, arguments, log: log)
        switch await child.exit() {
        case .exited(let status): return status
        case .signaled(let signal): return 128 + signal
        }
    }
}

struct DemoUnitsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
