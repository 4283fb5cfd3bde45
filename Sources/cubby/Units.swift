import ArgumentParser
import CubbyCore
import CubbyEdgeBench
import CubbyEdgeCLI
import CubbyServer
import CubbyStore
import Foundation

/// `cubby edge …`: run a unit's controller from the server's binary (the demo starts its units this way).
struct EdgeGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge",
        abstract: "The controller and kiosk of one locker unit (the same as the cubby-edge program).",
        subcommands: EdgeCommands.all + [EdgeBenchCommand.self])
}

/// `cubby unit …`: locker units' edge controllers.
struct UnitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unit", abstract: "Locker units: create, rename, decommission; their edge controllers.",
        subcommands: [
            EnrollCode.self, Lockdown.self, ReleaseLockdown.self, Create.self, Rename.self, Decommission.self,
        ])

    struct EnrollCode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll-code",
            abstract: "Print a one-time code (valid 24 h) with which a unit's controller enrolls.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The unit's id.")
        var unit: String

        func run() async throws {
            guard let id = UUID(uuidString: unit) else { throw ValidationError("--unit must be a unit id (UUID)") }
            let settings = try await options.settings()
            try await withParts(settings: settings, logger: options.logger()) { parts in
                let (code, expires) = try await parts.edges.issueEnrollmentCodeFromConsole(unitId: id.idString)
                let identity = try ServerIdentity.loadOrCreate(
                    certificatePath: settings.tlsCertificate, keyPath: settings.tlsKey, hosts: [settings.host])
                print(
                    """
                    code:    \(code)   (valid until \(ISO8601DateFormatter().string(from: expires)), usable once)
                    pin:     \(try identity.spkiSHA256())
                    on the unit:
                      cubby-edge enroll --server https://\(settings.host):\(settings.edgePort.map(String.init) ?? "EDGE_PORT") --pin \(try identity.spkiSHA256()) --code \(code)
                    """)
            }
        }
    }

    struct Lockdown: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lockdown",
            abstract:
                "Lock a unit down from the console: pickups and drop-offs stop there, and the unit locks every board.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The unit's id.")
        var unit: String
        @Option(help: "Why, kept in the audit log (at most 200 characters).")
        var reason: String?

        func run() async throws {
            guard let id = UUID(uuidString: unit) else { throw ValidationError("--unit must be a unit id (UUID)") }
            try await withParts(settings: try await options.settings(), logger: options.logger()) { parts in
                let outcome = try await parts.edges.lockDownFromConsole(unitId: id.idString, reason: reason)
                print(
                    outcome.alreadyLockedDown
                        ? "\(outcome.unit.name) was already locked down"
                        : "\(outcome.unit.name) is locked down; the unit is told when it is connected")
            }
        }
    }

    struct ReleaseLockdown: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "release-lockdown",
            abstract:
                "Break-glass: lift a unit's lockdown from the console without a second factor (audited, and raises a critical alert). Normally an administrator releases it in the portal."
        )
        @OptionGroup var options: ServerOptions
        @Option(help: "The unit's id.")
        var unit: String
        @Flag(help: "Confirm that this is a break-glass release.")
        var breakGlass = false

        func run() async throws {
            guard let id = UUID(uuidString: unit) else { throw ValidationError("--unit must be a unit id (UUID)") }
            guard breakGlass else {
                throw ValidationError(
                    "releasing a lockdown at the console is break-glass: it is audited and raises a critical alert; "
                        + "add --break-glass to go on, or release it in the management portal")
            }
            try await withParts(settings: try await options.settings(), logger: options.logger()) { parts in
                let unit = try await parts.edges.releaseLockdownFromConsole(unitId: id.idString)
                print("lockdown of \(unit.name) released (break-glass); the unit is told when it is connected")
            }
        }
    }
}

/// `cubby tls pin`: the edge listener's certificate and the pin units are enrolled with.
struct TLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls", abstract: "The edge listener's TLS certificate.", subcommands: [Pin.self])

    struct Pin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print the SHA-256 of the certificate's public key (made self-signed if missing) for `cubby-edge enroll --pin`."
        )
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let settings = try await options.settings()
            let identity = try ServerIdentity.loadOrCreate(
                certificatePath: settings.tlsCertificate, keyPath: settings.tlsKey, hosts: [settings.host])
            print(try identity.spkiSHA256())
        }
    }
}
