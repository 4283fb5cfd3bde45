import CubbyCore
import CubbyServer
import CubbyStore
import Foundation
import Logging

/// A benchmark that could not finish: the server did not start, a checkpoint was missing, a check failed.
public struct BenchFailure: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in one sentence.
    public let description: String

    /// A failure with its sentence.
    public init(_ description: String) { self.description = description }
}

/// Where a benchmark keeps its data: a directory (a temporary one, removed afterwards, unless given) and
/// a fresh database in it, or a fresh database on the given PostgreSQL server.
struct BenchWorkspace {
    let dir: String
    let location: DatabaseLocation
    let temporary: Bool

    static func make(database: String, dir: String?, name: String, logger: Logger) async throws -> BenchWorkspace {
        let path =
            dir
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "cubby-\(name)-\(UUID().uuidString.prefix(8))"
            ).path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let location: DatabaseLocation =
            database == "sqlite"
            ? .sqlite(path: path + "/\(name).sqlite")
            : try await PostgresStore.createScratchDatabase(
                server: try DatabaseLocation(parsing: database), prefix: "cubby_\(name)_", logger: logger)
        return BenchWorkspace(dir: path, location: location, temporary: dir == nil)
    }

    func remove() {
        if temporary { try? FileManager.default.removeItem(atPath: dir) }
    }
}

/// The logger benchmarks run the server with: errors only, so the report stays readable.
func benchLogger() -> Logger {
    var logger = Logger(label: "cubby-bench")
    logger.logLevel = .error
    return logger
}

/// Samples and their percentiles, the way every benchmark here reports latency.
enum Samples {
    static func ms(_ d: Duration) -> Double { d.seconds * 1000 }

    /// The sample at `q` of an ascending list (nan when empty).
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.down)))]
    }
}
