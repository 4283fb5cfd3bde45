import CubbyCore
import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through a PostgresNIO connection pool; many server processes may share one database.
public final class PostgresStore: SQLStore {
    public let kind = DatabaseKind.postgres
    public let outboxWake = OutboxWake()
    public let alertWake = OutboxWake()
    public let ciphers = FieldCiphers()
    let client: PostgresClient
    /// Where the pool connects, for the connection that listens for notifications.
    let connection: PostgresConnection.Configuration
    private let runTask: Task<Void, Never>
    private let logger: Logger

    private init(
        client: PostgresClient, connection: PostgresConnection.Configuration, runTask: Task<Void, Never>,
        logger: Logger
    ) {
        self.client = client
        self.connection = connection
        self.runTask = runTask
        self.logger = logger
    }

    /// Connects and checks the server answers.
    public static func open(
        host: String, port: Int, username: String, password: String?, database: String, maxConnections: Int = 20,
        logger: Logger
    ) async throws -> PostgresStore {
        var config = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable)
        config.options.maximumConnections = maxConnections
        config.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        let task = Task { await client.run() }
        let store = PostgresStore(
            client: client,
            connection: PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database, tls: .disable),
            runTask: task, logger: logger)
        do {
            try await store.read { s in try await s.exec("SELECT 1") }
        } catch {
            task.cancel()
            throw StoreError.badLocation(
                "cannot reach PostgreSQL at \(host):\(port)/\(database): \(String(reflecting: error))")
        }
        return store
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws -> T) async throws -> T {
        try await client.withConnection { conn in
            let marks = CommitMarks()
            let session = StoreSession(
                sql: conn.sql(queryLogLevel: nil), kind: .postgres, ciphers: ciphers, marks: marks)
            try await session.exec("BEGIN")
            do {
                let result = try await body(session)
                try await session.exec("COMMIT")
                if marks.wroteOutbox { outboxWake.ring() }
                if marks.raisedAlert { alertWake.ring() }
                return result
            } catch {
                do { try await session.exec("ROLLBACK") } catch {
                    logger.error("rollback failed", metadata: ["error": "\(error)"])
                }
                throw error
            }
        }
    }

    /// PostgreSQL groups concurrent commits' WAL flushes itself; a plain transaction is already "alone".
    public func writeAlone<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws -> T) async throws -> T
    {
        try await write(body)
    }

    public func read<T: Sendable>(_ body: @Sendable (StoreSession) async throws -> T) async throws -> T {
        try await client.withConnection { conn in
            try await body(StoreSession(sql: conn.sql(queryLogLevel: nil), kind: .postgres, ciphers: ciphers))
        }
    }

    public func close() async {
        runTask.cancel()
        _ = await runTask.value
    }

    /// Listens on `channel` on a connection of its own (outside the pool, so a listener never holds a pooled connection
    /// and never delays `close`), calling `onListening` once the LISTEN is in place and `handler` with each
    /// notification's payload, in order. Returns when the task is cancelled; throws when the connection fails.
    public func follow(
        channel: String, onListening: @Sendable () async -> Void = {},
        _ handler: @escaping @Sendable (String) async -> Void
    ) async throws {
        let conn = try await PostgresConnection.connect(
            configuration: connection, id: Int.random(in: 1...Int.max), logger: logger)
        do {
            try await withTaskCancellationHandler {
                let notifications = try await conn.listen(channel)
                await onListening()
                for try await notification in notifications { await handler(notification.payload) }
            } onCancel: {
                conn.close().whenComplete { _ in }
            }
        } catch {
            try? await conn.close()
            if Task.isCancelled { return }
            throw error
        }
        try? await conn.close()
    }
}

/// The PostgreSQL notification channel on which a stored unit command is announced (payload: the unit's id), so the
/// server process holding that unit's link sends it at once.
public enum UnitCommandChannel {
    public static let name = "cubby_unit_commands"
}

extension PostgresStore {
    /// Creates a new, empty database named `prefix` + a random suffix on the server of `server` and returns
    /// its location: for tests and benchmarks that each want a database of their own.
    public static func createScratchDatabase(server: DatabaseLocation, prefix: String, logger: Logger) async throws
        -> DatabaseLocation
    {
        guard case .postgres(let host, let port, let user, let password, _) = server else {
            throw StoreError.badLocation("a scratch database needs a postgres:// server, got \(server)")
        }
        let name = prefix + EntityID.make().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = try await StoreFactory.open(server, poolSize: 1, logger: logger)
        do {
            try await admin.read { s in try await s.exec("CREATE DATABASE \(name)") }
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        return .postgres(host: host, port: port, username: user, password: password, database: String(name))
    }
}
