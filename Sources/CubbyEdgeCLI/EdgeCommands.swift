import ArgumentParser
import CubbyEdge
import Foundation
import Logging

/// The commands of a unit's controller, shared by `cubby-edge` and `cubby edge`.
public enum EdgeCommands {
    public static let all: [any ParsableCommand.Type] = [EdgeEnrollCommand.self, EdgeRunCommand.self, EdgeBenchCommand.self]
}

/// Options every command shares.
public struct StateOptions: ParsableArguments {
    public init() {}

    @Option(help: "Directory of the unit's identity and journal.")
    var state: String = "./cubby-edge-data"

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func logger() -> Logger {
        var logger = Logger(label: "cubby-edge")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return logger
    }
}

public struct EdgeEnrollCommand: AsyncParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(commandName: "enroll", abstract: "Enroll this unit with a one-time code from the portal or `cubby unit enroll-code`.")

    @OptionGroup var common: StateOptions

    @Option(help: "The server's edge listener, e.g. https://cubby.example.org:8443.")
    var server: String

    @Option(help: "SHA-256 of the server's public key (hex), as printed by `cubby tls pin`.")
    var pin: String

    @Option(help: "The one-time enrollment code.")
    var code: String

    @Option(help: "A name for this controller's credential.")
    var label: String?

    public func run() async throws {
        guard let url = URL(string: server), url.scheme == "https", url.host != nil else {
            throw ValidationError("--server must be an https:// address, got \(server)")
        }
        let tls: PinnedTLS
        do { tls = try PinnedTLS(pin: pin) } catch { throw ValidationError("\(error)") }
        if FileManager.default.fileExists(atPath: EdgeIdentity.path(in: common.state)) {
            throw ValidationError("\(EdgeIdentity.path(in: common.state)) exists: this state directory belongs to an enrolled unit")
        }
        let result = try await EdgeEnrollment.enroll(server: url, tls: tls, code: code, label: label)
        try EdgeIdentity(server: url.absoluteString, pin: tls.pin, unitId: result.unitId, unitName: result.unitName, deviceToken: result.deviceToken)
            .save(in: common.state)
        print("enrolled as unit \(result.unitName) (\(result.unitId)); identity in \(EdgeIdentity.path(in: common.state))")
    }
}

public struct EdgeRunCommand: AsyncParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the unit: lock board, sensors, kiosk page and the server link.")

    @OptionGroup var common: StateOptions

    @Option(help: "Address of the kiosk page (keep it on loopback).")
    var kioskHost: String = "127.0.0.1"

    @Option(help: "Port of the kiosk page (0: any free port).")
    var kioskPort: Int = 8090

    @Option(help: "The lock bus: simulated, or serial:/dev/ttyUSB0.")
    var bus: String = "simulated"

    @Option(help: "Boards on the simulated bus (1–4).")
    var boards: Int = 2

    @Option(help: "Port of the simulated hardware's control endpoint on 127.0.0.1 (tamper, forced doors, power).")
    var controlPort: Int?

    @Option(help: "Milliseconds the simulated person takes to shut a door.")
    var closeAfterMs: Int = 2000

    @Option(help: "Seconds without a touch before the kiosk page returns to its start screen.")
    var kioskIdleSeconds: Int = 60

    @Option(help: "Exit when the process with this id ends (the demo's units follow the demo server).")
    var parentPid: Int32?

    public func validate() throws {
        guard (1...4).contains(boards) else { throw ValidationError("--boards must be 1–4") }
        guard (0...65535).contains(kioskPort) else { throw ValidationError("--kiosk-port must be 0–65535") }
        guard (3...3600).contains(kioskIdleSeconds) else { throw ValidationError("--kiosk-idle-seconds must be 3–3600") }
        guard (0...600_000).contains(closeAfterMs) else { throw ValidationError("--close-after-ms must be 0–600000") }
    }

    public func run() async throws {
        if let parentPid { ParentWatch.exitWhenGone(parentPid) }
        try await EdgeRuntime.run(
            EdgeRunOptions(
                stateDirectory: common.state, kioskHost: kioskHost, kioskPort: kioskPort, bus: bus, boards: boards, controlPort: controlPort,
                simulatedCloseAfter: .milliseconds(closeAfterMs), kioskIdleSeconds: kioskIdleSeconds),
            logger: common.logger())
    }
}

/// Ends this process when its parent is gone, so a killed demo leaves no units behind.
enum ParentWatch {
    static func exitWhenGone(_ pid: Int32) {
        let thread = Thread {
            while true {
                if getppid() != pid && kill(pid, 0) != 0 { exit(0) }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        thread.start()
    }
}
