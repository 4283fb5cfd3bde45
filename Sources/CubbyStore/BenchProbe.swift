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

    /// After a bulk load on PostgreSQL, outside any transaction: vacuums and analyzes the tables and writes
    /// a checkpoint, so what follows is not competing with the load's aftermath (autovacuum of the new
    /// rows, full-page images after the next checkpoint). A no-op on SQLite.
    public func settleAfterBulkLoad() async throws {
        guard kind == .postgres else { return }
        try await exec("VACUUM (ANALYZE)")
        try await exec("CHECKPOINT")
    }

    /// One row, to be committed by the caller's transaction.
    public func commitProbe(id: String, at: Int64) async throws {
        try await sql.raw("INSERT INTO bench_commits (id, at) VALUES (\(bind: id), \(bind: at))").run()
    }
}
