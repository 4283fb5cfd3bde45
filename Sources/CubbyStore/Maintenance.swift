import SQLKit

/// Upkeep after bulk loads (imports, benchmark fixtures).
extension StoreSession {
    /// Gathers fresh table statistics for the query planner.
    public func refreshStatistics() async throws {
        try await exec("ANALYZE")
    }

    /// On PostgreSQL, outside any transaction: vacuums and analyzes the tables and writes a checkpoint, so what
    /// follows is not competing with the load's aftermath (autovacuum of the new rows, full-page images after the next
    /// checkpoint). A no-op on SQLite.
    public func settleAfterBulkLoad() async throws {
        guard kind == .postgres else { return }
        try await exec("VACUUM (ANALYZE)")
        try await exec("CHECKPOINT")
    }
}
