import ArgumentParser
import CubbyBench

/// Deposits at a fixed rate and times each deposit's email (to the SMTP server's 250) and webhook (to its receipt).
struct NotifyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract:
            "Deposits at a fixed rate; p50/p90/p99/max of deposit → email accepted by a local SMTP server and event → webhook received."
    )

    @Option(help: "sqlite (a fresh file in a temporary directory) or a postgres:// URL.")
    var database: String = "sqlite"
    @Option(name: .customLong("postgres-url"), help: "Run on this PostgreSQL server instead (a postgres:// URL).")
    var postgresURL: String?
    @Option(help: "Deposits per minute.")
    var rate: Int = 1_000
    @Option(help: "How long deposits go on, in seconds.")
    var seconds: Int = 60
    @Option(help: "Port of the in-process server on 127.0.0.1; the webhook receiver takes the next one.")
    var port: Int = 18_495

    func validate() throws {
        guard (1...10_000).contains(rate) else { throw ValidationError("--rate must be 1...10000") }
        guard (1...600).contains(seconds) else { throw ValidationError("--seconds must be 1...600") }
        guard rate * seconds / 60 <= 20_000 else { throw ValidationError("at most 20000 deposits in one run") }
    }

    func run() async throws {
        let bench = NotifyBenchmark(database: postgresURL ?? database, rate: rate, seconds: seconds, port: port)
        say(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}
