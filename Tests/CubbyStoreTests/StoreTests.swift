import CubbyCore
import CubbyStore
import Foundation
import Logging
import SQLKit
import Testing

/// A store on a fresh SQLite file, or a fresh PostgreSQL database when `CUBBY_TEST_POSTGRES_URL` is set.
enum StoreBackend: String, CaseIterable, Sendable {
    case sqlite, postgres

    static var available: [StoreBackend] {
        ProcessInfo.processInfo.environment["CUBBY_TEST_POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }

    static let logger: Logger = {
        var l = Logger(label: "cubby-store-test")
        l.logLevel = .critical
        return l
    }()

    /// Opens a fresh store; on PostgreSQL with at most `poolSize` connections (the suites run side by side, and the
    /// test cluster's `max_connections` is theirs to share).
    func open(poolSize: Int = 4) async throws -> (any SQLStore, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        switch self {
        case .sqlite:
            return (try await StoreFactory.open(.sqlite(path: dir + "/t.sqlite"), logger: Self.logger), dir)
        case .postgres:
            let url = ProcessInfo.processInfo.environment["CUBBY_TEST_POSTGRES_URL"]!
            let location = try await PostgresStore.createScratchDatabase(
                server: try DatabaseLocation(parsing: url), prefix: "cubby_s_", logger: Self.logger)
            return (try await StoreFactory.open(location, poolSize: poolSize, logger: Self.logger), dir)
        }
    }
}

@Suite("Store: migrations and the append-only audit table")
struct StoreTests {
    @Test("migrations apply once and are idempotent", arguments: StoreBackend.available)
    func migrationsIdempotent(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await Migrator.migrate(store)
        #expect(first == Migrator.versions)
        let second = try await Migrator.migrate(store)
        #expect(second.isEmpty)
        #expect(try await Migrator.appliedVersions(store) == Migrator.versions)
        await store.close()
    }

    @Test("concurrent migrators agree on one schema", arguments: StoreBackend.available)
    func concurrentMigrators(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { g in
            for _ in 0..<4 { g.addTask { try await Migrator.migrate(store) } }
            return try await g.reduce(into: [Int]()) { $0 += $1 }
        }
        #expect(applied.sorted() == Migrator.versions, "each migration applied exactly once")
        await store.close()
    }

    @Test("audit events can be neither updated nor deleted", arguments: StoreBackend.available)
    func auditAppendOnly(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store)
        let record = AuditRecord(
            occurredAt: Date(), type: "test.event", actor: .system, trackingNumber: "T1", detail: ["k": "v"])
        try await store.write { s in try await s.appendAudit(record) }
        #expect(try await store.read { s in try await s.auditCount() } == 1)

        await #expect(throws: (any Error).self) {
            try await store.write { s in try await s.execute("UPDATE audit_events SET type = 'forged'") }
        }
        await #expect(throws: (any Error).self) {
            try await store.write { s in try await s.execute("DELETE FROM audit_events") }
        }
        if backend == .postgres {
            await #expect(throws: (any Error).self) {
                try await store.write { s in try await s.execute("TRUNCATE audit_events") }
            }
        }
        let events = try await store.read { s in try await s.auditEvents(from: 0, limit: 10) }
        #expect(events.count == 1)
        #expect(events.first?.type == "test.event")
        await store.close()
    }

    @Test("a failed transaction leaves nothing behind", arguments: StoreBackend.available)
    func rollback(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store)
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await store.write { s in
                try await s.insertOrganization(id: UUID().uuidString.lowercased(), name: "gone", at: 0)
                try await s.appendAudit(AuditRecord(occurredAt: Date(), type: "x", actor: .system))
                throw Boom()
            }
        }
        #expect(try await store.read { s in try await s.organizationCount() } == 0)
        #expect(try await store.read { s in try await s.auditCount() } == 0)
        await store.close()
    }

    @Test("database locations parse and bad ones are refused")
    func locations() throws {
        #expect(try DatabaseLocation(parsing: "sqlite:./x.db") == .sqlite(path: "./x.db"))
        #expect(try DatabaseLocation(parsing: "sqlite:///tmp/x.db") == .sqlite(path: "/tmp/x.db"))
        #expect(
            try DatabaseLocation(parsing: "postgres://u:p%40ss@127.0.0.1:5433/db")
                == .postgres(host: "127.0.0.1", port: 5433, username: "u", password: "p@ss", database: "db"))
        #expect(throws: StoreError.self) { try DatabaseLocation(parsing: "mysql://x/y") }
        #expect(throws: StoreError.self) { try DatabaseLocation(parsing: "sqlite:") }
        #expect(throws: StoreError.self) { try DatabaseLocation(parsing: "postgres://127.0.0.1") }
        // A password never appears in the description.
        let pg = try DatabaseLocation(parsing: "postgres://u:secret@h/db")
        #expect(!pg.description.contains("secret"))
    }
}

@Suite(
    "Store: PostgreSQL's connections are bounded by the pool size",
    .enabled(if: StoreBackend.available.contains(.postgres)))
struct PoolSizeTests {
    /// The most connections to the store's database seen by any of `readers` concurrent reads, each of which
    /// holds its connection a moment before counting.
    static func peakConnections(poolSize: Int, readers: Int) async throws -> Int {
        let (store, dir) = try await StoreBackend.postgres.open(poolSize: poolSize)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let peak = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<readers {
                group.addTask {
                    try await store.read { s in
                        try await s.toolHandle.raw("SELECT pg_sleep(0.3)").run()
                        let row = try await s.toolHandle.raw(
                            "SELECT count(*)::bigint AS n FROM pg_stat_activity WHERE datname = current_database()"
                        ).first()
                        return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
                    }
                }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
        await store.close()
        return peak
    }

    @Test("twelve concurrent reads through a pool of 2 hold at most 2 connections; through a pool of 6, more")
    func bounded() async throws {
        let small = try await Self.peakConnections(poolSize: 2, readers: 12)
        #expect(small >= 1 && small <= 2, "pool of 2: \(small) connections")
        let larger = try await Self.peakConnections(poolSize: 6, readers: 12)
        #expect(larger > 2 && larger <= 6, "pool of 6: \(larger) connections")
    }
}

@Suite("Store: transactions committed together")
struct GroupCommitTests {
    @Test(
        "concurrent transactions: failing ones roll back alone, the rest all commit", arguments: StoreBackend.available)
    func isolation(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store)
        struct Refused: Error {}
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { g in
            for i in 0..<60 {
                g.addTask {
                    do {
                        try await store.write { s in
                            try await s.insertOrganization(id: "org-\(i)", name: "n\(i)", at: Int64(i))
                            if i % 3 == 0 { throw Refused() }
                        }
                        return (i, true)
                    } catch {
                        return (i, false)
                    }
                }
            }
            return await g.reduce(into: [(Int, Bool)]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0.1 }.count == 40)
        #expect(outcomes.allSatisfy { $0.1 == ($0.0 % 3 != 0) })
        #expect(try await store.read { s in try await s.organizationCount() } == 40)
        // A duplicate key fails its own transaction only.
        await #expect(throws: (any Error).self) {
            try await store.write { s in try await s.insertOrganization(id: "org-1", name: "again", at: 0) }
        }
        try await store.write { s in try await s.insertOrganization(id: "org-new", name: "fine", at: 0) }
        #expect(try await store.read { s in try await s.organizationCount() } == 41)
        await store.close()
    }

    @Test("a committed write survives closing and reopening the database file")
    func durableAcrossReopen() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-durable-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try await StoreFactory.open(.sqlite(path: dir + "/d.sqlite"), logger: StoreBackend.logger)
        try await Migrator.migrate(first)
        try await first.write { s in try await s.insertOrganization(id: "kept", name: "k", at: 1) }
        await first.close()
        let second = try await StoreFactory.open(.sqlite(path: dir + "/d.sqlite"), logger: StoreBackend.logger)
        #expect(try await second.read { s in try await s.organizationCount() } == 1)
        #expect(try await Migrator.migrate(second).isEmpty)
        await second.close()
    }
}

@Suite("Store: stored states are read strictly")
struct StrictStateTests {
    @Test(
        "a parcel or compartment whose stored state is not one this version knows fails the read, never turns into another state",
        arguments: StoreBackend.available)
    func unknownStatesFailLoudly(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store)
        let (org, site, unit, carrier, recipient, compartment, parcel) = (
            EntityID.make(), EntityID.make(), EntityID.make(), EntityID.make(), EntityID.make(), EntityID.make(),
            EntityID.make()
        )
        try await store.write { s in
            try await s.insertOrganization(id: org, name: "o", at: 0)
            try await s.insertSite(SiteRecord(id: site, organizationId: org, name: "s", createdAt: 0))
            try await s.insertUnit(UnitRecord(id: unit, organizationId: org, siteId: site, name: "u", createdAt: 0))
            try await s.insertCompartment(
                CompartmentRecord(
                    id: compartment, unitId: unit, label: "A01", size: .small,
                    inner: SizeClass.small.typicalInnerDimensions, accessible: false))
            try await s.insertCarrier(CarrierRecord(id: carrier, organizationId: org, name: "c", createdAt: 0))
            try await s.insertRecipient(
                RecipientRecord(
                    id: recipient, organizationId: org, siteId: site, needsAccessible: false, dataKey: nil,
                    contact: nil, createdAt: 0))
            try await s.insertParcel(
                ParcelRecord(
                    id: parcel, organizationId: org, siteId: site, unitId: unit, carrierId: carrier,
                    recipientId: recipient,
                    trackingNumber: "T1", size: .small, state: .announced, createdAt: 0))
        }
        #expect(try await store.read { s in try await s.parcel(parcel)?.state } == .announced)
        #expect(try await store.read { s in try await s.compartment(compartment)?.state } == .available)

        // A value written behind the schema's back (a newer version's state, a hand edit): the checks are lifted to plant it.
        try await store.write { s in
            if s.kind == .sqlite {
                try await s.toolHandle.raw("PRAGMA ignore_check_constraints = ON").run()
            } else {
                try await s.toolHandle.raw("ALTER TABLE parcels DROP CONSTRAINT IF EXISTS parcels_state_check").run()
                try await s.toolHandle.raw(
                    "ALTER TABLE compartments DROP CONSTRAINT IF EXISTS compartments_state_check"
                ).run()
            }
            try await s.toolHandle.raw("UPDATE parcels SET state = 'lost_in_transit' WHERE id = \(bind: parcel)").run()
            try await s.toolHandle.raw("UPDATE compartments SET state = 'flooded' WHERE id = \(bind: compartment)")
                .run()
            if s.kind == .sqlite { try await s.toolHandle.raw("PRAGMA ignore_check_constraints = OFF").run() }
        }
        await #expect(throws: (any Error).self) { try await store.read { s in try await s.parcel(parcel) } }
        await #expect(throws: (any Error).self) { try await store.read { s in try await s.compartment(compartment) } }
        await store.close()
    }
}
