import ArgumentParser
import CubbyBench
import Foundation

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that drive the real server.",
        subcommands: [
            PickupBench.self, LogBench.self, SignInBench.self, RecipientBench.self, NotifyBench.self,
            IncidentBench.self, PortalBench.self, ReportBench.self, KeysBench.self,
        ])
}

/// Drives the whole pickup path over HTTP with concurrent kiosks and compares it with the raw durable-commit
/// rate of the same database at the same concurrency, measured in the same run.
struct PickupBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pickup",
        abstract: "HTTP pickup → code check → door command → audit event → durable commit, vs. raw commits.")

    @Option(help: "sqlite (a fresh file in --dir) or a postgres:// URL (a fresh database is created on that server).")
    var database: String = "sqlite"
    @Option(help: "Directory for the SQLite file and keys (default: a new temporary directory).")
    var dir: String?
    @Option(help: "Concurrent kiosks, each a unit with its own device credential.")
    var kiosks: Int = 8
    @Option(help: "Pickups per kiosk in each measured round.")
    var pickups: Int = 250
    @Option(help: "Past parcels to add before the second round (0 skips it).")
    var history: Int = 0
    @Option(help: "Port of the in-process server on 127.0.0.1.")
    var port: Int = 18_480
    @Flag(help: "Kiosks speak HTTPS (TLS 1.3) to the main listener as `cubby serve --tls-cert` runs it.")
    var tls = false

    func validate() throws {
        guard (1...256).contains(kiosks) else { throw ValidationError("--kiosks must be 1...256") }
        guard (10...100_000).contains(pickups) else { throw ValidationError("--pickups must be 10...100000") }
        guard (0...50_000_000).contains(history) else { throw ValidationError("--history must be 0...50000000") }
    }

    func run() async throws {
        var bench = PickupBenchmark(
            database: database, dir: dir, kiosks: kiosks, pickups: pickups, history: history, port: port)
        bench.tls = tls
        print(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}

/// Runs a benchmark, turning its failure into the command's error message (with the usage, as before).
func reportingFailures<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let failure as BenchFailure {
        throw ValidationError(failure.description)
    }
}

/// Prints a progress line at once, also when the output is a file.
@Sendable func say(_ line: String) {
    print(line)
    fflush(nil)
}
