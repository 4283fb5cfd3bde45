import ArgumentParser
import CubbyBench

/// Measures how long a failed staff sign-in takes for each kind of failure, with the production
/// password hasher: an unknown email must cost about what a wrong password or a wrong code costs.
struct SignInBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signin",
        abstract: "Time of failed sign-ins: unknown email vs wrong password vs wrong code (PBKDF2 600,000).")

    @Option(help: "sqlite (a fresh file in a temporary directory) or a postgres:// URL.")
    var database: String = "sqlite"
    @Option(help: "Attempts of each kind.")
    var attempts: Int = 40

    func validate() throws {
        guard (5...10_000).contains(attempts) else { throw ValidationError("--attempts must be 5...10000") }
    }

    func run() async throws {
        let bench = SignInBenchmark(database: database, attempts: attempts)
        say(try await reportingFailures { try await bench.run(progress: say) }.text)
    }
}
