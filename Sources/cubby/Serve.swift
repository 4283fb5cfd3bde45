import ArgumentParser
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server: API, background services, simulated units.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        var settings = try await options.settings()
        // A key file sealed under the demo's key is no protection: serving it needs the explicit opt-in.
        settings.opensDemoKeyFile = settings.insecurePlaintextKeys
        let logger = options.logger()
        try await withParts(settings: settings, logger: logger) { parts in
            logger.info(
                "cubby serving",
                metadata: ["database": "\(settings.database)", "address": "\(settings.linkBase)"])
            try await buildApplication(parts: parts, settings: settings, logger: logger).runService()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the numbered database migrations (idempotent).")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        let settings = try await options.settings()
        let store = try await settings.openStore(logger: options.logger())
        let applied: [Int]
        let have: [Int]
        do {
            applied = try await Migrator.migrate(store)
            have = try await Migrator.appliedVersions(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        print(
            applied.isEmpty
                ? "database is up to date (schema version \(have.last ?? 0))"
                : "applied migrations \(applied.map(String.init).joined(separator: ", ")); schema version \(have.last ?? 0)"
        )
    }
}
