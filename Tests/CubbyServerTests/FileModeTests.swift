import CubbyCore
import CubbyEdge
import CubbyStore
import Foundation
import Testing

/// The database and a unit's journal hold parcels, audit events and code hashes: only the service's user reads them.
@Suite("the database and the units' journals are private files (0600)")
struct FileModeTests {
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-modes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Paths among the file and its SQLite companions that exist and are not 0600.
    static func wider(_ path: String) throws -> [String] {
        try [path, path + "-wal", path + "-shm"].filter { FileManager.default.fileExists(atPath: $0) }
            .filter { try mode($0) != 0o600 }
    }

    @Test("a new SQLite database, its WAL and its shared-memory file are created 0600")
    func newDatabase() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cubby.sqlite"
        let store = try await SQLiteStore.open(path: path, logger: TestWorld.logger)
        try await Migrator.migrate(store)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try Self.wider(path) == [])
        await store.close()
        #expect(try Self.mode(path) == 0o600)
    }

    @Test("an existing database left 0644 is narrowed to 0600 when opened")
    func existingDatabase() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cubby.sqlite"
        let first = try await SQLiteStore.open(path: path, logger: TestWorld.logger)
        try await Migrator.migrate(first)
        await first.close()
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        }
        #expect(try Self.mode(path) == 0o644)
        let again = try await SQLiteStore.open(path: path, logger: TestWorld.logger)
        #expect(try await again.read { s in try await s.organizationCount() } == 0)
        #expect(try Self.wider(path) == [])
        await again.close()
    }

    @Test("a unit's journal and its WAL are created 0600")
    func journal() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/journal.sqlite"
        let journal = try await EdgeJournal.open(path: path, logger: TestWorld.logger)
        _ = try await journal.append(.started)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try Self.wider(path) == [])
        await journal.close()
        #expect(try Self.mode(path) == 0o600)
    }
}
