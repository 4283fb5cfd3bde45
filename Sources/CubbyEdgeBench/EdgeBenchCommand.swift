import ArgumentParser
import CubbyEdge
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

public struct EdgeBenchCommand: AsyncParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            "Measure the unit: idle memory, a correct PIN to the unlock frame, a tamper signal to every compartment locked."
    )

    @Option(help: "Attempts per measurement.")
    var rounds: Int = 200

    public func validate() throws {
        guard (10...100_000).contains(rounds) else { throw ValidationError("--rounds must be 10–100000") }
    }

    public func run() async throws {
        var logger = Logger(label: "cubby-edge-bench")
        logger.logLevel = .warning
        let report = try await EdgeBench.run(rounds: rounds, logger: logger)
        print(report)
    }
}
