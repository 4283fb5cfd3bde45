import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import VaporCSQLite

/// The SQLite store's write connection, driven directly on a thread of its own.
///
/// Every write transaction runs on `thread`: the transaction's code is preferred onto it (a task executor),
/// and each statement runs there synchronously, from a cache of prepared statements. So a statement costs
/// what SQLite spends on it, with no hop to another thread and back and no new parse of the SQL, and the
/// fsync of a commit blocks this thread only, never the threads that serve requests.
///
/// It links the same SQLite library as the reader connections (SQLiteNIO's), so the two share one set of
/// file locks.
///
/// `@unchecked Sendable` is safe because the mutable state (`statements`, `closed`) and every use of
/// `handle` are behind `lock`, and the connection is opened with SQLite's full mutex besides.
final class SQLiteWriter: @unchecked Sendable {
    let thread: WriterThread
    private let handle: OpaquePointer
    private let lock = NSLock()
    private var statements: [String: CachedStatement] = [:]
    private var closed = false
    let logger: Logger
    let eventLoop: any EventLoop

    /// Most prepared statements kept; past it the cache starts again.
    static let cacheLimit = 256

    private init(handle: OpaquePointer, thread: WriterThread, logger: Logger) {
        self.handle = handle
        self.thread = thread
        self.logger = logger
        self.eventLoop = MultiThreadedEventLoopGroup.singleton.any()
    }

    /// Opens (creating if needed) the database file at `path` for writing. Opening waits on the file (WAL
    /// mode takes its lock), so it runs on the writer's new thread, not on the caller's.
    static func open(path: String, logger: Logger) async throws -> SQLiteWriter {
        let thread = WriterThread(name: "cubby-db-write")
        do {
            return try await Task(executorPreference: thread) {
                try openHere(path: path, thread: thread, logger: logger)
            }.value
        } catch {
            thread.stop()
            throw error
        }
    }

    private static func openHere(path: String, thread: WriterThread, logger: Logger) throws -> SQLiteWriter {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message =
                db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) }
                ?? String(cString: sqlite_nio_sqlite3_errstr(status))
            if let db { sqlite_nio_sqlite3_close_v2(db) }
            throw SQLiteCallError(code: status, message: "cannot open \(path): \(message)")
        }
        let writer = SQLiteWriter(handle: db, thread: thread, logger: logger)
        do {
            for pragma in SQLiteStore.connectionPragmas + ["PRAGMA journal_mode=WAL"] {
                try writer.run(pragma, binds: []) { _ in }
            }
        } catch {
            writer.closeHere()
            throw error
        }
        return writer
    }

    /// The SQLKit face of this connection, for repository code.
    var database: any SQLDatabase { DirectSQLiteDatabase(writer: self) }

    /// Runs one statement (or, without binds, every statement of `sql`) and hands each result row to `onRow`.
    func run(_ sql: String, binds: [SQLiteData], onRow: (DirectSQLiteRow) throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw SQLiteCallError(code: SQLITE_MISUSE, message: "the database is closed") }
        if let cached = statements[sql] {
            try execute(cached, binds: binds, onRow: onRow)
            return
        }
        var rest = Substring(sql)
        var first = true
        while true {
            let (statement, tail) = try prepare(rest, persistent: first)
            guard let statement else { return }  // only whitespace or comments were left
            let last = tail.allSatisfy(\.isWhitespace)
            let isSchemaChange = Self.changesSchema(rest)
            let cached = CachedStatement(statement)
            let cache = first && last && !isSchemaChange
            if cache {
                if statements.count >= Self.cacheLimit { finalizeAll() }
                statements[sql] = cached
            }
            defer { if !cache { sqlite_nio_sqlite3_finalize(statement) } }
            // Checked before anything runs: which statement would the values belong to?
            if !last, !binds.isEmpty {
                throw SQLiteCallError(code: SQLITE_MISUSE, message: "several statements with binds in one query")
            }
            try execute(cached, binds: binds, onRow: onRow)
            // A new table, index or trigger may change what cached statements would do: prepare them anew.
            if isSchemaChange { finalizeAll() }
            if last { return }
            rest = tail
            first = false
        }
    }

    private func prepare(_ sql: Substring, persistent: Bool) throws -> (OpaquePointer?, Substring) {
        var utf8 = Array(sql.utf8)
        utf8.append(0)
        var statement: OpaquePointer?
        var consumed = 0
        let status = utf8.withUnsafeBufferPointer { buffer -> Int32 in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                var tail: UnsafePointer<CChar>?
                let s = sqlite_nio_sqlite3_prepare_v3(
                    handle, chars.baseAddress, Int32(chars.count - 1),
                    persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0, &statement, &tail)
                if let tail { consumed = tail - chars.baseAddress! }
                return s
            }
        }
        guard status == SQLITE_OK else { throw error(status) }
        let rest = String(decoding: utf8[consumed..<(utf8.count - 1)], as: UTF8.self)
        return (statement, Substring(rest))
    }

    private func execute(_ cached: CachedStatement, binds: [SQLiteData], onRow: (DirectSQLiteRow) throws -> Void) throws
    {
        let statement = cached.statement
        // Every parameter is bound anew each time, so bindings need no clearing (which would also make a
        // statement whose plan depends on a bound value expire).
        defer { sqlite_nio_sqlite3_reset(statement) }
        guard Int(sqlite_nio_sqlite3_bind_parameter_count(statement)) == binds.count else {
            throw SQLiteCallError(
                code: SQLITE_RANGE,
                message:
                    "the query has \(sqlite_nio_sqlite3_bind_parameter_count(statement)) parameters, \(binds.count) given"
            )
        }
        for (i, value) in binds.enumerated() {
            let index = Int32(i + 1)
            let status: Int32
            switch value {
            case .integer(let v): status = sqlite_nio_sqlite3_bind_int64(statement, index, Int64(v))
            case .float(let v): status = sqlite_nio_sqlite3_bind_double(statement, index, v)
            case .null: status = sqlite_nio_sqlite3_bind_null(statement, index)
            case .text(let v):
                status = v.withCString { text in
                    sqlite_nio_sqlite3_bind_text64(
                        statement, index, text, UInt64(v.utf8.count), Self.transient, UInt8(SQLITE_UTF8))
                }
            case .blob(let buffer):
                status = buffer.withUnsafeReadableBytes { bytes in
                    sqlite_nio_sqlite3_bind_blob64(
                        statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(bytes.count),
                        Self.transient)
                }
            }
            guard status == SQLITE_OK else { throw error(status) }
        }
        var columns: ColumnIndex?
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw error(status) }
            if columns == nil { columns = cached.columns() }
            try onRow(
                DirectSQLiteRow(columns: columns!, values: Self.values(of: statement, count: columns!.names.count)))
        }
    }

    private static func values(of statement: OpaquePointer, count: Int) -> [SQLiteData] {
        var values: [SQLiteData] = []
        values.reserveCapacity(count)
        for i in 0..<Int32(count) {
            switch sqlite_nio_sqlite3_column_type(statement, i) {
            case SQLITE_INTEGER:
                values.append(.integer(Int(sqlite_nio_sqlite3_column_int64(statement, i))))
            case SQLITE_FLOAT:
                values.append(.float(sqlite_nio_sqlite3_column_double(statement, i)))
            case SQLITE_TEXT:
                let bytes = Int(sqlite_nio_sqlite3_column_bytes(statement, i))
                if let text = sqlite_nio_sqlite3_column_text(statement, i) {
                    values.append(
                        .text(String(decoding: UnsafeBufferPointer(start: text, count: bytes), as: UTF8.self)))
                } else {
                    values.append(.text(""))
                }
            case SQLITE_BLOB:
                let bytes = Int(sqlite_nio_sqlite3_column_bytes(statement, i))
                var buffer = ByteBufferAllocator().buffer(capacity: bytes)
                if let blob = sqlite_nio_sqlite3_column_blob(statement, i) {
                    buffer.writeBytes(UnsafeRawBufferPointer(start: blob, count: bytes))
                }
                values.append(.blob(buffer))
            default:
                values.append(.null)
            }
        }
        return values
    }

    private func error(_ status: Int32) -> SQLiteCallError {
        SQLiteCallError(
            code: sqlite_nio_sqlite3_extended_errcode(handle),
            message: String(cString: sqlite_nio_sqlite3_errmsg(handle)))
    }

    /// Whether a statement creates, alters or drops part of the schema.
    private static func changesSchema(_ sql: Substring) -> Bool {
        let head = sql.drop(while: \.isWhitespace).prefix(6).uppercased()
        return head.hasPrefix("CREATE") || head.hasPrefix("ALTER") || head.hasPrefix("DROP")
    }

    private func finalizeAll() {
        for cached in statements.values { sqlite_nio_sqlite3_finalize(cached.statement) }
        statements.removeAll()
    }

    /// Finalizes the statements, closes the connection (which may write back the WAL and fsync) and ends
    /// the thread; the work runs on the writer's thread.
    func close() async {
        await Task(executorPreference: thread) { self.closeHere() }.value
        thread.stop()
    }

    private func closeHere() {
        lock.lock()
        if !closed {
            closed = true
            finalizeAll()
            let status = sqlite_nio_sqlite3_close_v2(handle)
            if status != SQLITE_OK {
                logger.error("closing the SQLite writer failed", metadata: ["status": "\(status)"])
            }
        }
        lock.unlock()
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// A prepared statement kept for reuse, with the names of its result columns once they are asked for.
private final class CachedStatement {
    let statement: OpaquePointer
    private var index: ColumnIndex?

    init(_ statement: OpaquePointer) { self.statement = statement }

    func columns() -> ColumnIndex {
        let count = Int(sqlite_nio_sqlite3_column_count(statement))
        if let index, index.names.count == count { return index }
        let names = (0..<Int32(count)).map { i in
            sqlite_nio_sqlite3_column_name(statement, i).map { String(cString: $0) } ?? ""
        }
        let made = ColumnIndex(names: names)
        index = made
        return made
    }
}

/// The result columns of a statement, by position and by name (the first of a repeated name wins).
final class ColumnIndex: Sendable {
    let names: [String]
    let positions: [String: Int]

    init(names: [String]) {
        self.names = names
        var positions: [String: Int] = [:]
        for (i, name) in names.enumerated() where positions[name] == nil { positions[name] = i }
        self.positions = positions
    }
}

/// A failed SQLite call: the (extended) result code and SQLite's message.
struct SQLiteCallError: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    var description: String {
        let name = Self.names[code & 0xff].map { "SQLITE_\($0)" } ?? "SQLite error"
        return "\(name) (\(code)): \(message)"
    }

    private static let names: [Int32: String] = [
        1: "ERROR", 2: "INTERNAL", 3: "PERM", 4: "ABORT", 5: "BUSY", 6: "LOCKED", 7: "NOMEM", 8: "READONLY",
        9: "INTERRUPT",
        10: "IOERR", 11: "CORRUPT", 13: "FULL", 14: "CANTOPEN", 17: "SCHEMA", 18: "TOOBIG", 19: "CONSTRAINT",
        20: "MISMATCH",
        21: "MISUSE", 25: "RANGE", 26: "NOTADB",
    ]
}

/// One result row of the direct connection.
struct DirectSQLiteRow: SQLRow {
    let columns: ColumnIndex
    let values: [SQLiteData]

    var allColumns: [String] { columns.names }
    func contains(column: String) -> Bool { columns.positions[column] != nil }
    func decodeNil(column: String) throws -> Bool {
        guard let i = columns.positions[column] else { return true }
        return values[i] == .null
    }
    func decode<D: Decodable>(column: String, as: D.Type) throws -> D {
        guard let i = columns.positions[column] else {
            throw DecodingError.keyNotFound(
                SomeCodingKey(stringValue: column), .init(codingPath: [], debugDescription: "no column \(column)"))
        }
        return try SQLiteDataDecoder().decode(D.self, from: values[i])
    }
}

/// The SQLKit database over the direct writer connection: statements run on the calling thread, which for
/// a write transaction is the writer's own.
struct DirectSQLiteDatabase: SQLDatabase {
    let writer: SQLiteWriter

    var logger: Logger { writer.logger }
    var eventLoop: any EventLoop { writer.eventLoop }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { nil }

    private func runNow(_ query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) throws {
        let (sql, rawBinds) = serialize(query)
        let encoder = SQLiteDataEncoder()
        let binds = try rawBinds.map { try encoder.encode($0) }
        try writer.run(sql, binds: binds) { onRow($0) }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<
        Void
    > {
        do {
            try runNow(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try runNow(query, onRow)
    }

    func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}

/// One thread that runs the jobs of tasks preferring it, one after another.
///
/// `@unchecked Sendable` is safe because `jobs`, `stopped` and `finished` are read and written only with
/// `condition` locked.
final class WriterThread: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false
    private var finished = false

    /// `name` (at most 15 bytes on Linux) is what `top -H` and `ps -L` show for the thread.
    init(name: String) {
        // Foundation passes a name on to the system only from the thread itself, and only once `start()`
        // has returned in the creating thread: a thread that ran first would keep its creator's name.
        let started = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            started.wait()
            Thread.current.name = name
            loop()
        }
        thread.start()
        started.signal()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if finished {
            condition.unlock()
            // The thread has ended: what still prefers it runs on the shared pool instead.
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
            return
        }
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        let executor = asUnownedTaskExecutor()
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                finished = true
                condition.unlock()
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: executor) }
        }
    }

    /// Ends the thread once the jobs queued so far have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }
}
