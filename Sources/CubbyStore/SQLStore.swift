import Logging
import SQLKit

/// Which SQL engine a store runs on.
public enum DatabaseKind: String, Sendable {
    case sqlite, postgres
}

/// A database the server can run on: SQLite for one process, PostgreSQL for many.
///
/// All reads and writes go through a `StoreSession`; a write runs in one transaction that commits
/// durably or rolls back whole.
public protocol SQLStore: Sendable {
    var kind: DatabaseKind { get }
    /// Runs `body` in one transaction; commits when it returns, rolls back when it throws.
    func write<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws -> T) async throws -> T
    /// Runs `body` in a transaction of its own that is never grouped with others (for measuring raw commits).
    func writeAlone<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws -> T) async throws -> T
    /// Runs `body` with a connection for reads (autocommit).
    func read<T: Sendable>(_ body: @Sendable (StoreSession) async throws -> T) async throws -> T
    /// Closes connections.
    func close() async
    /// Rung after each commit that wrote to the outbox.
    var outboxWake: OutboxWake { get }
    /// Rung after a commit that raised an alert, so that what follows an incident (the audit log's sequencing, the
    /// SIEM) runs at once in this process instead of at its next poll.
    var alertWake: OutboxWake { get }
    /// The ciphers of sealed fields (staff emails), given by the server once its keys are open.
    var ciphers: FieldCiphers { get }
}

/// A connection (or an open transaction) handed to repository code.
public struct StoreSession: Sendable {
    /// The SQLKit handle; only CubbyStore uses it.
    let sql: any SQLDatabase
    public let kind: DatabaseKind
    /// What a write transaction marks for after its commit (nil outside one).
    let marks: CommitMarks?
    /// The store's field ciphers.
    let ciphers: FieldCiphers

    init(sql: any SQLDatabase, kind: DatabaseKind, ciphers: FieldCiphers, marks: CommitMarks? = nil) {
        self.sql = sql
        self.kind = kind
        self.ciphers = ciphers
        self.marks = marks
    }

    /// Marks that this transaction wrote to the outbox: its workers wake when it commits, in this process at once
    /// and, on PostgreSQL, in every process through a notification sent at commit.
    /// Marks the transaction as one that raised an alert (rings `alertWake` after COMMIT).
    func markAlertRaised() { marks?.markAlert() }

    func markOutboxWritten() async throws {
        marks?.markOutbox()
        if kind == .postgres {
            try await sql.raw("SELECT pg_notify(\(bind: OutboxNotifyChannel.name), '')").run()
        }
    }

    /// Runs raw SQL text (no binds), for migrations and maintenance.
    func exec(_ text: String) async throws {
        try await sql.raw(SQLQueryString(text)).run()
    }

    /// The session's SQL handle, for tools outside a deployment that measure the database itself (the benchmarks'
    /// commit probe). The server's own code goes through the repositories.
    public var toolHandle: any SQLDatabase { sql }
}

/// Opens the store for a location.
public enum StoreFactory {
    /// The most connections one process opens to PostgreSQL unless told otherwise.
    public static let defaultPoolSize = 20

    /// Opens the store; on PostgreSQL with at most `poolSize` connections at once.
    public static func open(_ location: DatabaseLocation, poolSize: Int = defaultPoolSize, logger: Logger) async throws
        -> any SQLStore
    {
        switch location {
        case .sqlite(let path):
            return try await SQLiteStore.open(path: path, logger: logger)
        case .postgres(let host, let port, let username, let password, let database):
            return try await PostgresStore.open(
                host: host, port: port, username: username, password: password, database: database,
                maxConnections: poolSize, logger: logger)
        }
    }
}
