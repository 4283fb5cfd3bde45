import ArgumentParser
import CubbyBench

/// Times the portal's parcel search and parcel page against an organization with a long history.
struct PortalBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portal",
        abstract:
            "N recipients and M past parcels, then p50/p99 of the portal's parcel searches and parcel page over HTTP.")

    @Option(help: "sqlite (a fresh file in a temporary directory) or a postgres:// URL.")
    var database: String = "sqlite"
    @Option(help: "Recipients, imported from a CSV file.")
    var recipients: Int = 10_000
    @Option(help: "Past parcels (each with two audit events), spread over the recipients and two units.")
    var parcels: Int = 1_000_000
    @Option(help: "Timed requests of each page.")
    var requests: Int = 500
    @Option(help: "Port of the in-process server on 127.0.0.1.")
    var port: Int = 18_500

    func validate() throws {
        guard (10...50_000).contains(recipients) else { throw ValidationError("--recipients must be 10...50000") }
        guard (1_000...10_000_000).contains(parcels) else { throw ValidationError("--parcels must be 1000...10000000") }
        guard (10...100_000).contains(requests) else { throw ValidationError("--requests must be 10...100000") }
    }

    func run() async throws {
        let bench = PortalBenchmark(
            database: database, recipients: recipients, parcels: parcels, requests: requests, port: port)
        say(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}
