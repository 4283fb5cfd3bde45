import CubbyCore
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
/// One writer connection serves all transactions (SQLite has one writer anyway), on a thread of its own
/// with prepared statements kept (`SQLiteWriter`), and commits the transactions that arrive together as a
/// group, one fsync for many; reads use their own connections, which WAL lets run beside a write.
public final class SQLiteStore: SQLStore {
    public let kind = DatabaseKind.sqlite
    public let outboxWake = OutboxWake()
    public let alertWake = OutboxWake()
    public let ciphers = FieldCiphers()
    public let path: String
    private let writer: SQLiteWriter
    private let readers: [SQLiteConnection]
    private let nextReader = Atomic<Int>(0)
    private let logger: Logger
    /// This store's own threads for the readers' blocking calls: a connection waiting on another's lock can
    /// then never starve the connections of other stores of a thread.
    private let threads: NIOThreadPool

    private init(
        path: String, writer: SQLiteWriter, readers: [SQLiteConnection], threads: NIOThreadPool, logger: Logger
    ) {
        self.path = path
        self.writer = writer
        self.readers = readers
        self.threads = threads
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, readers readerCount: Int = 4, logger: Logger) async throws -> SQLiteStore {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try PrivateFile.prepare(path)
        let writer = try await SQLiteWriter.open(path: path, logger: logger)
        let threads = NIOThreadPool(numberOfThreads: readerCount)
        threads.start()
        var readers: [SQLiteConnection] = []
        do {
            for _ in 0..<readerCount { readers.append(try await connect(path: path, threads: threads, logger: logger)) }
            return SQLiteStore(path: path, writer: writer, readers: readers, threads: threads, logger: logger)
        } catch {
            for c in readers { try? await c.close() }
            try? await threads.shutdownGracefully()
            await writer.close()
            throw error
        }
    }

    /// Set on every connection, the writer's and the readers'. 32 MiB of page cache per connection keeps
    /// the hot indexes of a large database in memory.
    static let connectionPragmas = [
        "PRAGMA busy_timeout=10000", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=FULL", "PRAGMA cache_size=-32768",
    ]

    static func connect(path: String, threads: NIOThreadPool, logger: Logger) async throws -> SQLiteConnection {
        let conn = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: threads, logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any()
        ).get()
        let db = conn.sql(queryLogLevel: nil)
        do {
            for pragma in connectionPragmas { try await db.raw(SQLQueryString(pragma)).run() }
        } catch {
            try? await conn.close()
            throw error
        }
        return conn
    }

    /// A transaction waiting for the writer.
    private struct Job: Sendable {
        let body: @Sendable (StoreSession) async throws -> any Sendable
        let done: CheckedContinuation<any Sendable, any Error>
        /// Committed on its own, never in a group.
        let alone: Bool
    }

    private struct Queue {
        var jobs: [Job] = []
        var draining = false
        var closed = false
    }
    private let queue = Mutex(Queue())
    /// Most transactions committed together.
    private let maxGroup = 64

    /// Runs `body` as its own transaction, but commits it together with the transactions queued beside it
    /// (group commit): each runs inside a savepoint, so a failing one rolls back alone, and all that
    /// succeeded become durable with one fsync. No caller hears of success before that fsync.
    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws -> T) async throws -> T {
        try await enqueue(body, alone: false)
    }

    /// One transaction, one fsync, with nothing grouped: the database's own durable-commit rate.
    public func writeAlone<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws -> T) async throws -> T
    {
        try await enqueue(body, alone: true)
    }

    private func enqueue<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws -> T, alone: Bool)
        async throws -> T
    {
        let erased: @Sendable (StoreSession) async throws -> any Sendable = { try await body($0) }
        let result = try await withCheckedThrowingContinuation { (c: CheckedContinuation<any Sendable, any Error>) in
            let startDrain = queue.withLock { q -> Bool? in
                if q.closed { return nil }
                q.jobs.append(Job(body: erased, done: c, alone: alone))
                if q.draining { return false }
                q.draining = true
                return true
            }
            switch startDrain {
            case nil: c.resume(throwing: StoreError.closed)
            case true?: Task(executorPreference: writer.thread) { await self.drain() }
            case false?: break
            }
        }
        guard let value = result as? T else { throw StoreError.corrupt("a transaction returned an unexpected type") }
        return value
    }

    /// Commits queued transactions, in groups, on the writer's thread until the queue is empty.
    private func drain() async {
        while true {
            let jobs = queue.withLock { q -> [Job] in
                guard let first = q.jobs.first else {
                    q.draining = false
                    return []
                }
                if first.alone {
                    q.jobs.removeFirst()
                    return [first]
                }
                let count = q.jobs.prefix(maxGroup).prefix(while: { !$0.alone }).count
                let batch = Array(q.jobs.prefix(count))
                q.jobs.removeFirst(count)
                return batch
            }
            guard let first = jobs.first else { return }
            if first.alone {
                await commitAlone(first)
            } else {
                await commitGroup(jobs)
            }
        }
    }

    private func commitGroup(_ jobs: [Job]) async {
        let session = StoreSession(sql: writer.database, kind: .sqlite, ciphers: ciphers)
        var wroteOutbox = false
        var raisedAlert = false
        do {
            try await session.exec("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.done.resume(throwing: error) }
            return
        }
        var results: [Result<any Sendable, any Error>] = []
        results.reserveCapacity(jobs.count)
        for job in jobs {
            do {
                // Savepoints nest; COMMIT releases them all, so a successful job needs no RELEASE.
                try await session.exec("SAVEPOINT job")
                do {
                    // Each job marks its own writes: one rolled back to its savepoint wakes nothing.
                    let marks = CommitMarks()
                    results.append(
                        .success(
                            try await job.body(
                                StoreSession(sql: writer.database, kind: .sqlite, ciphers: ciphers, marks: marks))))
                    wroteOutbox = wroteOutbox || marks.wroteOutbox
                    raisedAlert = raisedAlert || marks.raisedAlert
                } catch {
                    try await session.exec("ROLLBACK TO job")
                    results.append(.failure(error))
                }
            } catch {
                // The connection itself failed: nothing in this group can commit.
                try? await session.exec("ROLLBACK")
                for job in jobs { job.done.resume(throwing: error) }
                return
            }
        }
        do {
            try await session.exec("COMMIT")
        } catch {
            try? await session.exec("ROLLBACK")
            logger.error("group commit failed", metadata: ["error": "\(error)", "transactions": "\(jobs.count)"])
            for job in jobs { job.done.resume(throwing: error) }
            return
        }
        if wroteOutbox { outboxWake.ring() }
        if raisedAlert { alertWake.ring() }
        for (job, result) in zip(jobs, results) { job.done.resume(with: result) }
    }

    private func commitAlone(_ job: Job) async {
        let marks = CommitMarks()
        let session = StoreSession(sql: writer.database, kind: .sqlite, ciphers: ciphers, marks: marks)
        do {
            try await session.exec("BEGIN IMMEDIATE")
            do {
                let result = try await job.body(session)
                try await session.exec("COMMIT")
                if marks.wroteOutbox { outboxWake.ring() }
                if marks.raisedAlert { alertWake.ring() }
                job.done.resume(returning: result)
            } catch {
                do { try await session.exec("ROLLBACK") } catch {
                    logger.error("rollback failed", metadata: ["error": "\(error)"])
                }
                job.done.resume(throwing: error)
            }
        } catch {
            job.done.resume(throwing: error)
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (StoreSession) async throws -> T) async throws -> T {
        let i = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        let conn = readers[abs(i) % readers.count]
        return try await body(StoreSession(sql: conn.sql(queryLogLevel: nil), kind: .sqlite, ciphers: ciphers))
    }

    public func close() async {
        queue.withLock { $0.closed = true }
        // Transactions already queued finish first.
        while queue.withLock({ $0.draining }) { try? await Task.sleep(for: .milliseconds(1)) }
        for c in readers { try? await c.close().get() }
        try? await threads.shutdownGracefully()
        await writer.close()
    }
}
