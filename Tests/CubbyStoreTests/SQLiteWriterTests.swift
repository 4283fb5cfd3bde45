import Foundation
import Logging
import SQLKit
import Testing

@testable import CubbyStore

/// The SQLite store's own write connection: its thread, its statement cache, its errors, its groups.
@Suite("SQLite writer")
struct SQLiteWriterTests {
    func withStore(_ body: (SQLiteStore) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-writer-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await SQLiteStore.open(path: dir + "/w.sqlite", logger: StoreBackend.logger)
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    func names(_ store: SQLiteStore, _ query: SQLQueryString) async throws -> [String] {
        try await store.write { s in
            try await s.sql.raw(query).all().map { try $0.decode(column: "name", as: String.self) }
        }
    }

    @Test("a transaction's statements run on the writer's own thread, not on the threads that serve requests")
    func runsOnWriterThread() async throws {
        try await withStore { store in
            let name = try await store.write { _ in currentThreadName() }
            #expect(name == "cubby-db-write")
            let alone = try await store.writeAlone { _ in currentThreadName() }
            #expect(alone == "cubby-db-write")
        }
    }

    @Test("every writer thread carries its name, however soon it starts running after it is created")
    func everyThreadNamed() async throws {
        // Threads made from many pool threads at once: some start running before their creator's call returns.
        let names = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<128 {
                group.addTask {
                    let thread = WriterThread(name: "cubby-db-write")
                    defer { thread.stop() }
                    return await Task(executorPreference: thread) { currentThreadName() }.value
                }
            }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(names.count == 128)
        #expect(names.filter { $0 != "cubby-db-write" } == [])
    }

    @Test("a cached statement sees a column added later, and a table dropped and made again")
    func cacheFollowsSchema() async throws {
        try await withStore { store in
            try await store.write { s in try await s.execute("CREATE TABLE t (name TEXT NOT NULL)") }
            try await store.write { s in try await s.sql.raw("INSERT INTO t (name) VALUES (\(bind: "a"))").run() }
            let before = try await store.write { s in try await s.sql.raw("SELECT * FROM t").all() }
            #expect(before.first?.allColumns == ["name"])
            try await store.write { s in try await s.execute("ALTER TABLE t ADD COLUMN size INTEGER NOT NULL DEFAULT 7")
            }
            let after = try await store.write { s in try await s.sql.raw("SELECT * FROM t").all() }
            #expect(after.first?.allColumns == ["name", "size"])
            #expect(try after.first?.decode(column: "size", as: Int.self) == 7)
            try await store.write { s in try await s.execute("DROP TABLE t") }
            try await store.write { s in try await s.execute("CREATE TABLE t (label TEXT)") }
            try await store.write { s in try await s.sql.raw("INSERT INTO t (label) VALUES (\(bind: "b"))").run() }
            let again = try await store.write { s in try await s.sql.raw("SELECT * FROM t").all() }
            #expect(again.first?.allColumns == ["label"])
        }
    }

    @Test("text, integers, reals, blobs and nulls go in and come out as they were")
    func valuesRoundTrip() async throws {
        try await withStore { store in
            try await store.write { s in
                try await s.execute("CREATE TABLE v (t TEXT, i INTEGER, r REAL, b BLOB, n TEXT)")
            }
            let blob = Data([0, 1, 2, 0xFF, 0])
            let text = "grüße \u{0}inside ☃"
            try await store.write { s in
                try await s.sql.raw(
                    "INSERT INTO v VALUES (\(bind: text), \(bind: Int64.min), \(bind: 2.5), \(bind: blob), \(bind: String?.none))"
                ).run()
            }
            let row = try #require(try await store.write { s in try await s.sql.raw("SELECT * FROM v").first() })
            #expect(try row.decode(column: "t", as: String.self) == text)
            #expect(try row.decode(column: "i", as: Int64.self) == Int64.min)
            #expect(try row.decode(column: "r", as: Double.self) == 2.5)
            #expect(try row.decode(column: "b", as: Data.self) == blob)
            #expect(try row.decodeNil(column: "n"))
            #expect(try row.decode(column: "n", as: String?.self) == nil)
            #expect(throws: (any Error).self) { try row.decode(column: "missing", as: String.self) }
        }
    }

    @Test("several statements without binds all run; with binds they are refused and nothing changes")
    func severalStatements() async throws {
        try await withStore { store in
            try await store.write { s in
                try await s.execute(
                    "CREATE TABLE a (x INTEGER); CREATE TABLE b (y INTEGER);\n INSERT INTO a VALUES (1); ")
            }
            let tables = try await names(
                store, "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b') ORDER BY name")
            #expect(tables == ["a", "b"])
            await #expect(throws: (any Error).self) {
                try await store.write { s in
                    try await s.sql.raw("INSERT INTO a VALUES (\(bind: 2)); INSERT INTO a VALUES (3)").run()
                }
            }
            // Refused before either statement runs: even inside the same transaction nothing was added.
            let count = try await store.write { s -> Int? in
                let refused: Bool
                do {
                    try await s.sql.raw("INSERT INTO a VALUES (\(bind: 2)); INSERT INTO a VALUES (3)").run()
                    refused = false
                } catch { refused = true }
                #expect(refused)
                return try await s.sql.raw("SELECT COUNT(*) AS n FROM a").first()?.decode(column: "n", as: Int.self)
            }
            #expect(count == 1)
        }
    }

    @Test("SQLite's errors name their code and message; a broken unique key counts as a lost race")
    func errorsAreReadable() async throws {
        try await withStore { store in
            try await store.write { s in try await s.execute("CREATE TABLE u (k TEXT PRIMARY KEY)") }
            try await store.write { s in try await s.sql.raw("INSERT INTO u VALUES (\(bind: "x"))").run() }
            do {
                try await store.write { s in try await s.sql.raw("INSERT INTO u VALUES (\(bind: "x"))").run() }
                Issue.record("a duplicate key was accepted")
            } catch {
                let text = String(describing: error)
                #expect(text.contains("SQLITE_CONSTRAINT"))
                #expect(text.contains("UNIQUE constraint failed: u.k"))
                #expect(isTransientConflict(error))
            }
            do {
                try await store.write { s in try await s.execute("SELEC nonsense") }
                Issue.record("bad SQL was accepted")
            } catch {
                #expect(String(describing: error).contains("syntax error"))
                #expect(!isTransientConflict(error))
            }
        }
    }

    @Test("a failing transaction in a group rolls back alone; the others commit")
    func groupIsolation() async throws {
        try await withStore { store in
            try await store.write { s in try await s.execute("CREATE TABLE g (k INTEGER PRIMARY KEY)") }
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for k in 0..<40 {
                    group.addTask {
                        do {
                            try await store.write { s in
                                try await s.sql.raw("INSERT INTO g VALUES (\(bind: k))").run()
                                if k % 4 == 0 { throw StoreError.corrupt("refused \(k)") }
                            }
                            return true
                        } catch { return false }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 30)
            let kept = try await store.read { s in
                try await s.sql.raw("SELECT k FROM g ORDER BY k").all().map { try $0.decode(column: "k", as: Int.self) }
            }
            #expect(kept == (0..<40).filter { $0 % 4 != 0 })
        }
    }

    @Test("a write that races the close either commits durably or is refused; none is lost or half done")
    func closeDrains() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-writer-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/w.sqlite"
        let store = try await SQLiteStore.open(path: path, logger: StoreBackend.logger)
        try await store.write { s in try await s.execute("CREATE TABLE c (k INTEGER)") }
        // Writes race the close: each either commits (and is then on disk) or is refused as closed.
        let writes = Task {
            await withTaskGroup(of: Bool?.self) { group in
                for k in 0..<200 {
                    group.addTask {
                        do {
                            try await store.write { s in try await s.sql.raw("INSERT INTO c VALUES (\(bind: k))").run()
                            }
                            return true
                        } catch StoreError.closed {
                            return false
                        } catch {
                            return nil
                        }
                    }
                }
                return await group.reduce(into: [Bool?]()) { $0.append($1) }
            }
        }
        try await Task.sleep(for: .milliseconds(2))
        await store.close()
        let outcomes = await writes.value
        #expect(!outcomes.contains(nil), "every write either committed or was refused as closed")
        await #expect(throws: StoreError.closed) { try await store.write { _ in 1 } }

        let reopened = try await SQLiteStore.open(path: path, logger: StoreBackend.logger)
        let count = try await reopened.read { s in
            try await s.sql.raw("SELECT COUNT(*) AS n FROM c").first()?.decode(column: "n", as: Int.self)
        }
        #expect(count == outcomes.filter { $0 == true }.count)
        await reopened.close()
    }
}

/// The name of the thread this runs on.
private func currentThreadName() -> String? { Thread.current.name }
