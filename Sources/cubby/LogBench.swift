import ArgumentParser
import CubbyBench

/// `cubby bench log`: the Merkle log at scale — sequencing (appends), inclusion proofs and verification,
/// with the raw SHA-256 speed of `openssl speed` on the same machine, in the same run.
struct LogBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract:
            "Build a log of N events, then time appends, inclusion proofs and verification against openssl's SHA-256.")
    @Option(help: "sqlite (a fresh file) or a postgres:// URL (a fresh database on that server).")
    var database: String = "sqlite"
    @Option(help: "Directory for the SQLite file (default: a new temporary directory, removed afterwards).")
    var dir: String?
    @Option(help: "Events in the log.")
    var events: Int = 1_000_000
    @Option(help: "Inclusion proofs to time.")
    var proofs: Int = 2000
    @Flag(
        help:
            "Write the tree's leaves and nodes directly (no event rows): for proof timings at 10 million and more; skips verification."
    )
    var leavesOnly = false

    func run() async throws {
        let bench = LogBenchmark(database: database, dir: dir, events: events, proofs: proofs, leavesOnly: leavesOnly)
        // Every figure is printed as it is measured.
        _ = try await reportingFailures { try await bench.run(progress: say) }
    }
}
