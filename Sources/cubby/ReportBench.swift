import ArgumentParser
import CubbyBench

/// The portal's Reports page for a site with a long history: p50/p99 of the whole page over HTTP.
struct ReportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reports",
        abstract: "Past parcels loaded into the store, then p50/p99 of GET /admin/reports for a period ending today.")

    @Option(help: "sqlite (a fresh file in a temporary directory) or a postgres:// URL.")
    var database: String = "sqlite"
    @Option(help: "Recipients of the site, created through the directory.")
    var recipients: Int = 10_000
    @Option(help: "Past parcels at the site.")
    var parcels: Int = 1_000_000
    @Option(help: "Days the past parcels are spread over, up to now.")
    var history: Int = 730
    @Option(help: "Days of the measured report.")
    var days: Int = 90
    @Option(help: "Timed requests.")
    var requests: Int = 100
    @Option(help: "Port of the in-process server on 127.0.0.1.")
    var port: Int = 18_500

    func validate() throws {
        guard (1...100_000).contains(recipients) else { throw ValidationError("--recipients must be 1...100000") }
        guard (0...50_000_000).contains(parcels) else { throw ValidationError("--parcels must be 0...50000000") }
        guard (1...3650).contains(history) else { throw ValidationError("--history must be 1...3650") }
        guard (1...366).contains(days) else { throw ValidationError("--days must be 1...366") }
        guard (1...10_000).contains(requests) else { throw ValidationError("--requests must be 1...10000") }
    }

    func run() async throws {
        let bench = ReportBenchmark(
            database: database, recipients: recipients, parcels: parcels, history: history, days: days,
            requests: requests, port: port)
        say(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}
