import ArgumentParser
import CubbyBench

/// Tamper signals one at a time; times each to the on-call email and SMS, the syslog record and the webhook.
struct IncidentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident",
        abstract:
            "Tamper signals one at a time; p50/p90/p99/max of tamper → on-call email accepted, SMS accepted, syslog record received, webhook received."
    )

    @Option(help: "sqlite (a fresh file in a temporary directory) or a postgres:// URL.")
    var database: String = "sqlite"
    @Option(name: .customLong("postgres-url"), help: "Run on this PostgreSQL server instead (a postgres:// URL).")
    var postgresURL: String?
    @Option(help: "How many tamper signals.")
    var runs: Int = 200
    @Option(help: "Port of the in-process server on 127.0.0.1; the webhook receiver and SMS gateway take the next two.")
    var port: Int = 18_505

    func validate() throws {
        guard (1...5_000).contains(runs) else { throw ValidationError("--runs must be 1...5000") }
    }

    func run() async throws {
        let bench = IncidentBenchmark(database: postgresURL ?? database, runs: runs, port: port)
        say(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}
