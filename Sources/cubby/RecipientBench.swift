import ArgumentParser
import CubbyBench

/// Times a CSV import of recipients through the HTTP API, then exact-match lookups of random recipients.
struct RecipientBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipients",
        abstract:
            "CSV import of N recipients over HTTP, then p50/p99 of GET /api/v1/recipients?email=… and of SCIM's userName filter."
    )

    @Option(help: "sqlite (a fresh file in a temporary directory) or a postgres:// URL.")
    var database: String = "sqlite"
    @Option(help: "Rows of the imported file.")
    var recipients: Int = 10_000
    @Option(help: "Timed lookups of random recipients.")
    var lookups: Int = 2_000
    @Option(help: "Port of the in-process server on 127.0.0.1.")
    var port: Int = 18_490

    func validate() throws {
        guard (10...50_000).contains(recipients) else { throw ValidationError("--recipients must be 10...50000") }
        guard (10...100_000).contains(lookups) else { throw ValidationError("--lookups must be 10...100000") }
    }

    func run() async throws {
        let bench = RecipientBenchmark(
            database: database, recipients: recipients, lookups: lookups, port: port,
            probes: [.recipientsByEmail, .scimByUserName])
        say(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}
