import Foundation
import SQLKit

/// The raw durable-commit rate of a database: the smallest transaction that must reach the disk.
extension StoreSession {
    /// Creates the probe table if needed.
    public func prepareCommitProbe() async throws {
        try await exec("CREATE TABLE IF NOT EXISTS bench_commits (id TEXT PRIMARY KEY, at \(kind == .sqlite ? "INTEGER" : "BIGINT") NOT NULL)")
    }

    /// Gathers fresh table statistics for the query planner (after a bulk load).
    public func refreshStatistics() async throws {
        try await exec("ANALYZE")
    }

    /// One row, to be committed by the caller's transaction.
    public func commitProbe(id: String, at: Int64) async throws {
        try await sql.raw("INSERT INTO bench_commits (id, at) VALUES (\(bind: id), \(bind: at))").run()
    }
}
