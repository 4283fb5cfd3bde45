import CubbyCore
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The demo could not start: its database holds data that its manifest no longer describes.
public struct DemoFailure: Error, CustomStringConvertible, Sendable {
    /// What went wrong and what to do, in one sentence.
    public let description: String

    /// A failure with its sentence.
    public init(_ description: String) { self.description = description }
}

/// `cubby demo`: seeds a demo organization once, prints the walk-through, serves it, and starts one
/// edge controller per demo unit as a child process.
public struct DemoServer: Sendable {
    /// The demo super-administrator, enrolled through the portal.
    public static let superAdminEmail = "admin@example.org"

    /// Where the demo manifest is written (its directory also holds the units' state and the enrollment link).
    public var manifest: String
    /// Whether to start the units' edge controllers.
    public var units: Bool
    /// Port of the first unit's kiosk page; the next units take the next ports (0: any).
    public var kioskPort: Int
    /// Port of the first unit's simulator control endpoint; the next units take the next ports (0: any).
    public var controlPort: Int
    /// Seconds without a touch before a unit's kiosk page returns to its start screen.
    public var kioskIdleSeconds: Int

    /// A demo of the given shape.
    public init(manifest: String, units: Bool, kioskPort: Int, controlPort: Int, kioskIdleSeconds: Int) {
        self.manifest = manifest
        self.units = units
        self.kioskPort = kioskPort
        self.controlPort = controlPort
        self.kioskIdleSeconds = kioskIdleSeconds
    }

    /// Runs the demo on `settings` (given an edge port and a notifications file unless set) until stopped;
    /// what a person should read goes to `say`, a line or a block at a time.
    public func run(settings given: ServerSettings, logger: Logger, say: @escaping @Sendable (String) -> Void)
        async throws
    {
        var settings = given
        guard !settings.https else {
            throw DemoFailure(
                "the demo serves plain HTTP on loopback; for HTTPS run `cubby serve --tls-cert FILE --tls-key FILE`")
        }
        if settings.keyProvider == nil {
            settings.demoKeys = true
            say(
                "Key: the key file is sealed under a demo key kept beside it (a demo setting, no protection); "
                    + "a deployment sets CUBBY_KEY_PASSPHRASE_FILE, CUBBY_KEK_FILE or CUBBY_KEK_COMMAND.")
        }
        if settings.edgePort == nil { settings.edgePort = settings.port == 0 ? 0 : settings.port + 363 }
        if settings.notifyFile == nil { settings.notifyFile = "./cubby-data/notifications.jsonl" }
        if let file = settings.notifyFile {
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: file).deletingLastPathComponent().path, withIntermediateDirectories: true)
        }
        let parts = try await buildParts(settings: settings, logger: logger)
        do {
            try await run(parts: parts, settings: settings, logger: logger, say: say)
            await parts.store.close()
        } catch {
            await parts.store.close()
            throw error
        }
    }

    /// Creates the demo super-administrator once; while it has not enrolled, each start writes and returns
    /// a fresh enrollment link (nil once it has).
    func demoSuperAdmin(parts: CubbyServerParts, settings: ServerSettings, organization: String) async throws -> String?
    {
        let actor = Actor(kind: .system, id: nil, role: "demo")
        let token: String
        if let account = try await parts.store.read({ s in try await s.staffAccount(email: Self.superAdminEmail) }) {
            guard account.status == "invited" || !account.totpConfirmed else { return nil }
            token = try await parts.staff.renewEnrollmentLink(accountId: account.id, actor: actor)
        } else {
            token = try await parts.staff.createAccount(
                organization: organization, email: Self.superAdminEmail, role: .superAdmin, sites: nil, actor: actor
            ).1
        }
        let link = "\(settings.linkBase)/admin/enroll?token=\(token)"
        let file = URL(fileURLWithPath: manifest).deletingLastPathComponent().appendingPathComponent(
            "admin-enrollment.txt"
        ).path
        FileManager.default.createFile(
            atPath: file, contents: Data((link + "\n").utf8), attributes: [.posixPermissions: 0o600])
        return link
    }

    /// Seeds once (or reuses the seeded data), prints the walk-through, then serves until stopped.
    func run(
        parts: CubbyServerParts, settings: ServerSettings, logger: Logger, say: @escaping @Sendable (String) -> Void
    ) async throws {
        let server = "http://\(settings.host):\(settings.port)"
        let existing = try await parts.store.read { s in try await s.organizationCount() }
        if existing > 0 {
            guard FileManager.default.fileExists(atPath: manifest) else {
                throw DemoFailure(
                    "the database already holds data but \(manifest) is missing; use another --database or restore the manifest"
                )
            }
            say("Reusing the demo data in \(settings.database) (manifest: \(manifest)).")
        } else {
            let m = try await DemoSeed(parts: parts).seed(server: server)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(m)
            FileManager.default.createFile(atPath: manifest, contents: data, attributes: [.posixPermissions: 0o600])
            say("Seeded a demo organization; ids and credentials are in \(manifest) (mode 0600).")
        }
        // The manifest must still parse: a damaged one is reported before the server starts.
        let m = try JSONDecoder().decode(DemoManifest.self, from: Data(contentsOf: URL(fileURLWithPath: manifest)))
        let enrollment = try await demoSuperAdmin(parts: parts, settings: settings, organization: m.organizationId)
        say(walkThrough(server: server, settings: settings, enrollment: enrollment))
        let router = try buildRouter(parts: parts, settings: settings, logger: logger)
        let dataDir = URL(fileURLWithPath: manifest).deletingLastPathComponent().path
        let unitsToStart = units ? m.units : []
        let (kioskPort, controlPort, kioskIdleSeconds) = (kioskPort, controlPort, kioskIdleSeconds)
        let edgeListener = try buildEdgeListener(parts: parts, settings: settings, logger: logger) { channel in
            guard !unitsToStart.isEmpty, let port = channel.localAddress?.port else { return }
            // The listener accepts connections only after this returns: the units start beside it.
            Task {
                do {
                    try await DemoUnits(
                        parts: parts, settings: settings, dataDir: dataDir, edgePort: port, kioskPort: kioskPort,
                        controlPort: controlPort,
                        kioskIdleSeconds: kioskIdleSeconds
                    )
                    .start(unitsToStart, say: say)
                } catch {
                    logger.error("demo units did not start", metadata: ["error": "\(error)"])
                }
            }
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "cubby"),
            services: backgroundServices(parts: parts, settings: settings, logger: logger)
                + (edgeListener.map { [$0] } ?? []),
            logger: logger)
        try await app.runService()
    }

    /// The walk-through printed at start: the curl commands of a drop-off and a pickup, the portal, the API.
    func walkThrough(server: String, settings: ServerSettings, enrollment: String?) -> String {
        """

        Cubby demo on \(server)   (database \(settings.database))
          notifications (with PINs) are appended to \(settings.notifyFile ?? "-")

        Try it (jq helps):
          M=\(manifest)
          # a courier drops a parcel off at unit 1:
          curl -s -X POST \(server)/api/v1/units/$(jq -r '.units[0].id' $M)/dropoffs \\
            -H "Authorization: Bearer $(jq -r .courierToken $M)" -H 'Content-Type: application/json' \\
            -d "{\\"trackingNumber\\":\\"1Z999\\",\\"recipientId\\":\\"$(jq -r '.recipients[0].id' $M)\\",\\"size\\":\\"M\\"}"
          # a moment later the simulated door closes; the PIN arrives in the notifications file:
          tail -n1 \(settings.notifyFile ?? "") | jq .
          # the recipient enters it at the unit's kiosk:
          curl -s -X POST \(server)/api/v1/units/$(jq -r '.units[0].id' $M)/pickups \\
            -H "Authorization: Bearer $(jq -r '.units[0].deviceToken' $M)" -H 'Content-Type: application/json' \\
            -d "{\\"code\\":\\"$(tail -n1 \(settings.notifyFile ?? "") | jq -r .pin)\\"}"
          # the audit trail (administrator):
          curl -s \(server)/api/v1/audit/events -H "Authorization: Bearer $(jq -r .adminToken $M)" | jq '.events[].type'

        Management portal: \(settings.linkBase)/admin   (super-admin \(Self.superAdminEmail))
        \(enrollment.map { "  enroll first (password + authenticator app), link valid 24 h and usable once:\n    \($0)" } ?? "  already enrolled: sign in with the password and your authenticator's code")

        API contract: \(server)/api/v1/openapi.yaml   Stop with Ctrl-C.
        """
    }
}
