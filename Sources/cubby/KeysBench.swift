import ArgumentParser
import CubbyBench

/// Times `cubby keys rotate` over many data keys.
struct KeysBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Key rotation over N data keys: every one re-wrapped under a new primary key, in keys per second.")

    @Option(help: "sqlite (a fresh file in --dir) or a postgres:// URL (a fresh database is created on that server).")
    var database: String = "sqlite"
    @Option(name: .customLong("postgres-url"), help: "Run on this PostgreSQL server instead (a postgres:// URL).")
    var postgresURL: String?
    @Option(help: "Directory for the SQLite file and keys (default: a new temporary directory).")
    var dir: String?
    @Option(help: "Data keys (one recipient each) to rotate.")
    var keys: Int = 100_000
    @Option(help: "Data keys re-wrapped per transaction.")
    var batchSize: Int = 1000

    func validate() throws {
        guard (10...2_000_000).contains(keys) else { throw ValidationError("--keys must be 10...2000000") }
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1...10000") }
    }

    func run() async throws {
        let bench = KeysBenchmark(database: postgresURL ?? database, dir: dir, dataKeys: keys, batchSize: batchSize)
        say(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}
