import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// SQLite in WAL mode with `synchronous=FULL`: every commit is fsync'd before it returns.
///
/// One writer connection serves all transactions in turn (SQLite has one writer anyway); reads use
/// their own connections, which WAL lets run beside a write.
public final class SQLiteStore: SQLStore {
    public let kind = DatabaseKind.sqlite
    public let path: String
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncLock()
    private let nextReader = Atomic<Int>(0)
    private let logger: Logger

    private init(path: String, writer: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.path = path
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, readers readerCount: Int = 4, logger: Logger) async throws -> SQLiteStore {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let writer = try await connect(path: path, logger: logger)
        let w = writer.sql(queryLogLevel: nil)
        try await w.raw("PRAGMA journal_mode=WAL").run()
        try await w.raw("PRAGMA synchronous=FULL").run()
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount { readers.append(try await connect(path: path, logger: logger)) }
        return SQLiteStore(path: path, writer: writer, readers: readers, logger: logger)
    }

    static func connect(path: String, logger: Logger) async throws -> SQLiteConnection {
        let conn = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any()
        ).get()
        let db = conn.sql(queryLogLevel: nil)
        try await db.raw("PRAGMA busy_timeout=10000").run()
        try await db.raw("PRAGMA foreign_keys=ON").run()
        try await db.raw("PRAGMA synchronous=FULL").run()
        return conn
    }

    public func write<T: Sendable>(_ body: @Sendable (StoreSession) async throws -> T) async throws -> T {
        try await writeLock.withLock {
            let session = StoreSession(sql: writer.sql(queryLogLevel: nil), kind: .sqlite)
            try await session.exec("BEGIN IMMEDIATE")
            do {
                let result = try await body(session)
                try await session.exec("COMMIT")
                return result
            } catch {
                do { try await session.exec("ROLLBACK") } catch {
                    logger.error("rollback failed", metadata: ["error": "\(error)"])
                }
                throw error
            }
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (StoreSession) async throws -> T) async throws -> T {
        let i = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        let conn = readers[abs(i) % readers.count]
        return try await body(StoreSession(sql: conn.sql(queryLogLevel: nil), kind: .sqlite))
    }

    public func close() async {
        for c in readers + [writer] { try? await c.close().get() }
    }
}
