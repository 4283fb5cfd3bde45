import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Testing

/// The `cubby` program itself, run as a child process against a seeded database: sites, units from the sample
/// layout file and carriers, as an operator would type them.
@Suite("cubby site, unit and carrier commands")
struct ProvisioningCommandLineTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let binary = repo.appendingPathComponent(".build/debug/cubby").path

    /// Runs `cubby` with `arguments`; returns its exit status, standard output and standard error.
    static func cubby(_ arguments: [String]) throws -> (Int32, String, String) {
        let result = try ChildProcess.run(binary, arguments)
        let status: Int32 =
            switch result.termination {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            case nil: -1
            }
        return (status, result.standardOutputText, result.standardErrorText)
    }

    @Test("create a site, a unit from the sample layout and a carrier; refusals exit non-zero and say why")
    func commandsProvisionAnOrganization() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else {
            // Built by `swift build`; a test run without it has nothing to run.
            return
        }
        let world = try await TestWorld.make(.sqlite)
        // The child processes open the same SQLite file; this process lets go of it first.
        await world.parts.store.close()
        defer { try? FileManager.default.removeItem(atPath: world.dir) }
        guard case .sqlite(let path) = world.settings.database else { return }
        let common = [
            "--database", "sqlite:\(path)", "--keys", world.settings.keysPath, "--kek-file", world.dir + "/kek",
            "--log-level", "error",
        ]

        let (status, site, _) = try Self.cubby(
            ["site", "create", "--name", "Harbour Lofts", "--address", "2 Quay Street", "--time-zone", "Europe/Paris"]
                + common)
        #expect(status == 0)
        let siteId = site.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(EntityID.parse(siteId) == siteId)

        let layout = Self.repo.appendingPathComponent("docs/examples/unit-layout.json").path
        let (unitStatus, unitJSON, _) = try Self.cubby(
            ["unit", "create", "--site", siteId, "--layout", layout, "--json"] + common)
        #expect(unitStatus == 0)
        let unit = try JSONSerialization.jsonObject(with: Data(unitJSON.utf8)) as? [String: Any] ?? [:]
        #expect(unit["name"] as? String == "Lobby C")
        #expect((unit["compartments"] as? [[String: Any]])?.count == 13)

        let (carrierStatus, carrier, _) = try Self.cubby(
            ["carrier", "create", "--name", "Parcel Post", "--sites", siteId] + common)
        #expect(carrierStatus == 0)
        let carrierId = carrier.trimmingCharacters(in: .whitespacesAndNewlines)
        let (_, list, _) = try Self.cubby(["carrier", "list"] + common)
        #expect(list.contains(carrierId) && list.contains("Parcel Post"))
        let (offStatus, off, _) = try Self.cubby(["carrier", "deactivate", carrierId] + common)
        #expect(offStatus == 0 && off.contains("deactivated"))

        let (badStatus, _, badError) = try Self.cubby(
            ["site", "create", "--name", "Mars", "--address", "Crater 1", "--time-zone", "Mars/Base"] + common)
        #expect(badStatus != 0)
        #expect(badError.contains("timeZone must be an IANA time zone"), "\(badError)")
        let (busyStatus, _, busyError) = try Self.cubby(
            ["unit", "decommission", "--unit", world.manifest.units[0].id] + common)
        #expect(busyStatus == 0, "\(busyError)")

        let store = try await StoreFactory.open(world.settings.database, logger: TestWorld.logger)
        let events = try await store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
        await store.close()
        for type in ["site.created", "unit.created", "carrier.created", "carrier.deactivated", "unit.decommissioned"] {
            let event = events.last { $0.type == type }
            #expect(event?.actorRole == "console", "\(type)")
        }
    }
}
