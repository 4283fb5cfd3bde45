import CubbyCore
import CubbyCrypto
import CubbyDevices
import CubbyKiosk
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What an enrolled unit keeps in its state directory (`edge.json`, readable by its owner only).
public struct EdgeIdentity: Codable, Sendable {
    public var server: String
    public var pin: String
    public var unitId: String
    public var unitName: String
    public var deviceToken: String

    public init(server: String, pin: String, unitId: String, unitName: String, deviceToken: String) {
        self.server = server
        self.pin = pin
        self.unitId = unitId
        self.unitName = unitName
        self.deviceToken = deviceToken
    }

    public static func path(in directory: String) -> String { directory + "/edge.json" }

    public static func load(from directory: String) throws -> EdgeIdentity {
        let path = path(in: directory)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EdgeLinkError.configuration(
                "\(path) does not exist: enroll the unit first (cubby-edge enroll --server URL --pin SHA256 --code CODE)"
            )
        }
        do { return try JSONDecoder().decode(EdgeIdentity.self, from: data) } catch {
            throw EdgeLinkError.configuration("\(path) is not a unit identity: \(error)")
        }
    }

    /// Writes the identity atomically with mode 0600.
    public func save(in directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do { try PrivateFile.write(try encoder.encode(self), to: Self.path(in: directory)) } catch let error
            as PrivateFile.WriteError
        {
            throw EdgeLinkError.configuration(error.message)
        }
    }
}

/// How cubby-edge runs: where its state lives, its hardware, and its local pages.
public struct EdgeRunOptions: Sendable {
    public var stateDirectory: String
    /// The key sealing the journal's secrets; default `journal.key` in the state directory.
    public var journalKeyPath: String?
    public var kioskHost: String
    public var kioskPort: Int
    /// Host names the kiosk answers to besides its listen host, `localhost`, `127.0.0.1` and `[::1]`.
    public var kioskHostNames: [String] = []
    /// `simulated`, or `serial:/dev/ttyUSB0` for an RS-485 bus.
    public var bus: String
    /// Boards on a simulated bus.
    public var boards: Int
    /// Port of the simulator's control endpoint (tamper, forced doors, power); simulated hardware only.
    public var controlPort: Int?
    /// How long the simulated person takes before pushing a door shut.
    public var simulatedCloseAfter: Duration
    /// Seconds without a touch before the kiosk returns to its start screen.
    public var kioskIdleSeconds: Int
    /// The serial bus's line speed, reply timeout per try and tries per request.
    public var serial: SerialSettings = SerialSettings()

    /// How the RS-485 bus is driven; the defaults suit the common 16-channel boards at 9600 baud.
    public struct SerialSettings: Sendable, Equatable {
        public var baudRate: Int
        public var replyTimeout: Duration
        public var tries: Int

        public init(baudRate: Int = 9600, replyTimeout: Duration = .milliseconds(150), tries: Int = 3) {
            self.baudRate = baudRate
            self.replyTimeout = replyTimeout
            self.tries = tries
        }
    }

    public init(
        stateDirectory: String, kioskHost: String = "127.0.0.1", kioskPort: Int = 8090, bus: String = "simulated",
        boards: Int = 2,
        controlPort: Int? = nil, simulatedCloseAfter: Duration = .seconds(2),
        kioskIdleSeconds: Int = KioskRoutes.defaultIdleTimeoutSeconds
    ) {
        self.kioskIdleSeconds = kioskIdleSeconds
        self.stateDirectory = stateDirectory
        self.kioskHost = kioskHost
        self.kioskPort = kioskPort
        self.bus = bus
        self.boards = boards
        self.controlPort = controlPort
        self.simulatedCloseAfter = simulatedCloseAfter
    }
}

/// The composition root of cubby-edge.
public enum EdgeRuntime {
    /// Runs the unit until SIGTERM or SIGINT.
    public static func run(_ options: EdgeRunOptions, logger: Logger) async throws {
        let identity = try EdgeIdentity.load(from: options.stateDirectory)
        guard let server = URL(string: identity.server) else {
            throw EdgeLinkError.configuration("the server address \(identity.server) is not a URL")
        }
        let tls = try PinnedTLS(pin: identity.pin)
        let journal = try await openJournal(options, logger: logger)
        let simulated: SimulatedLockBus?
        let bus: any LockBus
        if options.bus == "simulated" {
            let sim = SimulatedLockBus(boards: options.boards, closeAfter: options.simulatedCloseAfter)
            simulated = sim
            bus = sim
        } else if options.bus.hasPrefix("serial:") {
            simulated = nil
            bus = try SerialLockBus(
                path: String(options.bus.dropFirst(7)), baudRate: options.serial.baudRate,
                replyTimeout: options.serial.replyTimeout,
                tries: options.serial.tries)
        } else {
            throw EdgeLinkError.configuration("--bus must be simulated or serial:PATH, got \(options.bus)")
        }
        let sensors = SimulatedSensorPanel()
        let camera = SimulatedCamera(unitName: identity.unitName)
        let controller = LockerController(journal: journal, bus: bus, camera: camera, logger: logger)
        let link = EdgeServerLink(
            server: server, tls: tls, token: identity.deviceToken, journal: journal, logger: logger)
        link.attach(controller)
        if let simulated { await controller.simulate(on: simulated) }
        try await controller.start(uplink: link, sensors: sensors)

        let kiosk = KioskRoutes(
            backend: controller, pages: KioskPages(), idleTimeoutSeconds: options.kioskIdleSeconds, logger: logger)
        var services: [any Service] = [
            LocalHTTPServer(
                host: options.kioskHost, port: options.kioskPort, maxBody: KioskRoutes.maxRequestBody,
                hostNames: options.kioskHostNames, logger: logger,
                onRunning: { port in
                    logger.notice("kiosk page", metadata: ["url": "http://\(options.kioskHost):\(port)/"])
                },
                handler: { request in await kiosk.respond(to: request) }),
            BackgroundLoop(name: "server link") { await link.run() },
            BackgroundLoop(name: "kiosk sessions") {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    await kiosk.endIdleSessions()
                }
            },
        ]
        if let port = options.controlPort {
            guard let simulated else { throw EdgeLinkError.configuration("--control-port needs the simulated bus") }
            let control = SimulatorControl(controller: controller, bus: simulated, sensors: sensors, journal: journal)
            services.append(
                LocalHTTPServer(
                    host: "127.0.0.1", port: port, maxBody: 1024, logger: logger,
                    onRunning: { port in
                        logger.notice("simulator control", metadata: ["url": "http://127.0.0.1:\(port)/"])
                    },
                    handler: { request in await control.respond(to: request) }))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch {
            await controller.stop()
            await journal.close()
            throw error
        }
        await controller.stop()
        await journal.close()
    }
}

extension EdgeRuntime {
    /// The unit's journal, its secrets sealed under the journal key. The key is made on first start, and for a
    /// journal written before sealing (which then seals its state from its next save); a journal holding sealed data
    /// without its key is refused.
    public static func openJournal(_ options: EdgeRunOptions, logger: Logger) async throws -> EdgeJournal {
        let journalPath = options.stateDirectory + "/journal.sqlite"
        let keyPath = options.journalKeyPath ?? JournalKey.defaultPath(in: options.stateDirectory)
        var create = !FileManager.default.fileExists(atPath: keyPath)
        if create, FileManager.default.fileExists(atPath: journalPath) {
            do {
                await (try EdgeJournal.open(path: journalPath, key: nil, logger: logger)).close()
            } catch EdgeJournalError.sealed {
                create = false
            }
        }
        let key = try JournalKey.load(path: keyPath, create: create)
        return try await EdgeJournal.open(path: journalPath, key: key, logger: logger)
    }
}

/// A long-running task as a service: cancelled on graceful shutdown.
struct BackgroundLoop: Service {
    let name: String
    let body: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
    }
}
