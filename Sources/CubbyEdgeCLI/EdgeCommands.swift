import ArgumentParser
import CubbyCore
import CubbyDevices
import CubbyEdge
import Logging
import UnixSignals

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The commands of a unit's controller, shared by `cubby-edge` and `cubby edge` (each adds `bench` from CubbyEdgeBench).
public enum EdgeCommands {
    public static let all: [any ParsableCommand.Type] = [
        EdgeEnrollCommand.self, EdgeRunCommand.self, EdgeEmulateBoardsCommand.self,
    ]
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
    public static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll this unit with a one-time code from the portal or `cubby unit enroll-code`.")

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
            throw ValidationError(
                "\(EdgeIdentity.path(in: common.state)) exists: this state directory belongs to an enrolled unit")
        }
        let result = try await EdgeEnrollment.enroll(server: url, tls: tls, code: code, label: label)
        try EdgeIdentity(
            server: url.absoluteString, pin: tls.pin, unitId: result.unitId, unitName: result.unitName,
            deviceToken: result.deviceToken
        )
        .save(in: common.state)
        print(
            "enrolled as unit \(result.unitName) (\(result.unitId)); identity in \(EdgeIdentity.path(in: common.state))"
        )
    }
}

public struct EdgeRunCommand: AsyncParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the unit: lock board, sensors, kiosk page and the server link.")

    @OptionGroup var common: StateOptions

    @Option(help: "Address of the kiosk page (keep it on loopback).")
    var kioskHost: String = "127.0.0.1"

    @Option(help: "Port of the kiosk page (0: any free port).")
    var kioskPort: Int = 8090

    @Option(
        name: .customLong("kiosk-host-name"),
        help: "A host name the kiosk page answers to besides its address, localhost, 127.0.0.1 and [::1] (repeatable).")
    var kioskHostNames: [String] = []

    @Option(help: "The lock bus: simulated, or serial:/dev/ttyUSB0.")
    var bus: String = "simulated"

    @Option(help: "Boards on the simulated bus (1–4).")
    var boards: Int = 2

    @Option(help: "Serial bus: line speed in baud (1200–115200).")
    var baud: Int = 9600

    @Option(help: "Serial bus: milliseconds to wait for a board's reply, per try (20–5000).")
    var replyTimeoutMs: Int = 150

    @Option(help: "Serial bus: sends per request before the board counts as unresponsive (1–10).")
    var tries: Int = 3

    @Option(help: "Port of the simulated hardware's control endpoint on 127.0.0.1 (tamper, forced doors, power).")
    var controlPort: Int?

    @Option(help: "Milliseconds the simulated person takes to shut a door.")
    var closeAfterMs: Int = 2000

    @Option(help: "Seconds without a touch before the kiosk page returns to its start screen.")
    var kioskIdleSeconds: Int = 60

    @Option(
        help:
            "The key sealing the journal's secrets (PIN key, stills), made on first start; keep it apart from the journal's backups (default: journal.key in the state directory)."
    )
    var journalKey: String?

    @Option(help: "Exit when the process with this id ends (the demo's units follow the demo server).")
    var parentPid: Int32?

    public func validate() throws {
        guard (1...4).contains(boards) else { throw ValidationError("--boards must be 1–4") }
        guard (0...65535).contains(kioskPort) else { throw ValidationError("--kiosk-port must be 0–65535") }
        for name in kioskHostNames
        where name.isEmpty || name.count > 253 || name.contains(where: { $0 == "/" || $0 == " " }) {
            throw ValidationError("--kiosk-host-name must be a host name, got \(name)")
        }
        guard (3...3600).contains(kioskIdleSeconds) else {
            throw ValidationError("--kiosk-idle-seconds must be 3–3600")
        }
        guard (0...600_000).contains(closeAfterMs) else { throw ValidationError("--close-after-ms must be 0–600000") }
        try checkBaud(baud)
        guard (20...5000).contains(replyTimeoutMs) else { throw ValidationError("--reply-timeout-ms must be 20–5000") }
        guard (1...10).contains(tries) else { throw ValidationError("--tries must be 1–10") }
        guard bus == "simulated" || (bus.hasPrefix("serial:") && bus.count > 7) else {
            throw ValidationError("--bus must be simulated or serial:PATH, got \(bus)")
        }
    }

    public func run() async throws {
        if let parentPid { ParentWatch.exitWhenGone(parentPid) }
        var options = EdgeRunOptions(
            stateDirectory: common.state, kioskHost: kioskHost, kioskPort: kioskPort, bus: bus, boards: boards,
            controlPort: controlPort,
            simulatedCloseAfter: .milliseconds(closeAfterMs), kioskIdleSeconds: kioskIdleSeconds)
        options.serial = .init(baudRate: baud, replyTimeout: .milliseconds(replyTimeoutMs), tries: tries)
        options.kioskHostNames = kioskHostNames
        options.journalKeyPath = journalKey
        try await EdgeRuntime.run(options, logger: common.logger())
    }
}

/// Lock boards on a serial device, without hardware: the far end of a pseudo-terminal pair (`socat`) or a
/// USB–RS-485 adapter looped to another, so a unit can run its real serial driver against them.
public struct EdgeEmulateBoardsCommand: AsyncParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "emulate-boards",
        abstract: "Answer as lock boards on a serial device, printing every unlock and lock-all it receives.",
        discussion: """
            For example, with a pseudo-terminal pair:
              socat pty,raw,echo=0,link=/tmp/cubby-bus pty,raw,echo=0,link=/tmp/cubby-boards &
              cubby-edge emulate-boards --device /tmp/cubby-boards --boards 0,1 &
              cubby-edge run --bus serial:/tmp/cubby-bus …
            """)

    @Option(help: "The serial device the boards answer on.")
    var device: String

    @Option(help: "Board addresses (DIP switches), comma-separated, 0–3.")
    var boards: String = "0,1"

    @Option(help: "Line speed in baud.")
    var baud: Int = 9600

    @Option(help: "Milliseconds an unlocked door stays open before it latches again (0: until lock-all).")
    var autoCloseMs: Int = 3000

    @Flag(help: "Also print the read-locks and read-items polls.")
    var verbose = false

    func addresses() throws -> Set<UInt8> {
        let parts = boards.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        let values = parts.map { UInt8($0) }
        guard !parts.isEmpty, values.allSatisfy({ $0.map(SerialLockBus.boardAddresses.contains) ?? false }) else {
            throw ValidationError("--boards must list addresses 0–3, e.g. 0,1; got \(boards)")
        }
        return Set(values.compactMap { $0 })
    }

    public func validate() throws {
        _ = try addresses()
        try checkBaud(baud)
        guard (0...600_000).contains(autoCloseMs) else { throw ValidationError("--auto-close-ms must be 0–600000") }
    }

    public func run() async throws {
        let boards = try addresses()
        let emulator: BoardEmulator
        do {
            emulator = try BoardEmulator(
                path: device, boards: boards, baudRate: baud,
                autoCloseAfter: autoCloseMs > 0 ? .milliseconds(autoCloseMs) : nil)
        } catch {
            throw ValidationError("\(error)")
        }
        print(
            "emulating boards \(boards.sorted().map(String.init).joined(separator: ",")) on \(device) at \(baud) baud")
        fflush(nil)
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let verbose = verbose
        let printer = Task { [emulator] in
            while !Task.isCancelled {
                for frame in emulator.takeReceivedFrames() where verbose || !frame.request.command.isPoll {
                    print(Self.line(frame.request))
                }
                fflush(nil)
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        for await _ in signals { break }
        printer.cancel()
        emulator.stop()
    }

    static func line(_ r: LockRequest) -> String {
        r.command == .unlock ? "unlock board \(r.board) channel \(r.channel)" : "\(r.command) board \(r.board)"
    }
}

/// Refuses a line speed the serial port cannot be set to.
func checkBaud(_ baud: Int) throws {
    guard SerialPort.supportedBaudRates.contains(baud) else {
        throw ValidationError(
            "--baud must be one of \(SerialPort.supportedBaudRates.map(String.init).joined(separator: ", "))")
    }
}

extension LockCommand {
    /// The door watcher's periodic reads.
    var isPoll: Bool { self == .readLocks || self == .readItems }
}

/// Ends this process when its parent is gone, so a killed demo leaves no units behind.
enum ParentWatch {
    static func exitWhenGone(_ pid: Int32) {
        Task.detached {
            while true {
                if getppid() != pid && kill(pid, 0) != 0 { exit(0) }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
