import CubbyStore
import SQLKit

/// The raw durable-commit rate of a database: the smallest transaction that must reach the disk.
extension StoreSession {
    /// Creates the probe table if needed.
    public func prepareCommitProbe() async throws {
        let type: SQLQueryString = kind == .sqlite ? "INTEGER" : "BIGINT"
        try await toolHandle.raw("CREATE TABLE IF NOT EXISTS bench_commits (id TEXT PRIMARY KEY, at \(type) NOT NULL)")
            .run()
    }

    /// One row, to be committed by the caller's transaction.
    public func commitProbe(id: String, at: Int64) async throws {
        try await toolHandle.raw("INSERT INTO bench_commits (id, at) VALUES (\(bind: id), \(bind: at))").run()
    }
}
