import Foundation
import SQLKit

/// A wrapping key of the key ring as the database holds it.
public struct RingKeyRow: Sendable, Equatable {
    public var id: String
    /// The key sealed under the key file's root; nil once destroyed.
    public var sealedKey: Data?
    /// `primary`, `active` or `retired`.
    public var state: String
    public var createdAt: Int64
    public var promotedAt: Int64?
    public var retiredAt: Int64?
}

/// A column that holds wrapped data keys. Every such column is listed in `all`: a rotation re-wraps exactly these,
/// and `cubby keys status` counts exactly these, so a table that gains a data key column is added here.
public struct DataKeyColumn: Sendable, Hashable {
    public let table: String
    public let column: String
    /// The table's primary key (text), the order in which a rotation walks it.
    public let idColumn: String

    public static let recipients = DataKeyColumn(table: "recipients", column: "data_key", idColumn: "id")
    public static let staff = DataKeyColumn(table: "staff_accounts", column: "data_key", idColumn: "id")

    /// Every column of wrapped data keys, in the order a rotation walks them.
    public static let all: [DataKeyColumn] = [.recipients, .staff]

    public static func named(_ table: String) -> DataKeyColumn? { all.first { $0.table == table } }
}

/// One row of a rotation (table `key_rotations`).
public struct KeyRotationRow: Sendable, Equatable {
    public var id: String
    public var newKey: String
    /// `propagating` (the new key is known, not yet primary), `sweeping`, `grace`, `resweeping`, `done`.
    public var phase: String
    public var cursorTable: String?
    public var cursorId: String?
    public var sweep: Int
    public var rewrapped: Int
    public var skipped: Int
    public var destroyed: String?
    public var startedAt: Int64
    public var updatedAt: Int64
    public var leaseUntil: Int64
    public var promoteAt: Int64?
    public var graceUntil: Int64?
    public var finishedAt: Int64?

    public init(
        id: String, newKey: String, phase: String, startedAt: Int64, leaseUntil: Int64, promoteAt: Int64?
    ) {
        self.id = id
        self.newKey = newKey
        self.phase = phase
        self.sweep = 0
        self.rewrapped = 0
        self.skipped = 0
        self.startedAt = startedAt
        self.updatedAt = startedAt
        self.leaseUntil = leaseUntil
        self.promoteAt = promoteAt
    }
}

extension StoreSession {
    // MARK: the ring

    public func ringKeys() async throws -> [RingKeyRow] {
        try await sql.raw(
            "SELECT id, sealed_key, state, created_at, promoted_at, retired_at FROM key_ring ORDER BY created_at, id"
        ).all().map(Self.ringKey)
    }

    /// The primary key; on PostgreSQL in a write transaction it stays share-locked until commit, so a rotation that
    /// promotes another key waits for every transaction that is wrapping under this one.
    public func primaryRingKey(lock: Bool) async throws -> RingKeyRow? {
        let suffix: SQLQueryString = lock && kind == .postgres ? " FOR SHARE" : ""
        return try await sql.raw(
            "SELECT id, sealed_key, state, created_at, promoted_at, retired_at FROM key_ring WHERE state = 'primary'"
                + suffix
        ).first().map(Self.ringKey)
    }

    public func ringKey(id: String) async throws -> RingKeyRow? {
        try await sql.raw(
            "SELECT id, sealed_key, state, created_at, promoted_at, retired_at FROM key_ring WHERE id = \(bind: id)"
        ).first().map(Self.ringKey)
    }

    /// Inserts a key unless its id or (for a primary) the primary's place is taken; whether it was inserted.
    @discardableResult
    public func insertRingKey(id: String, sealedKey: Data, state: String, at: Int64) async throws -> Bool {
        let promoted: Int64? = state == "primary" ? at : nil
        return try await !sql.raw(
            """
            INSERT INTO key_ring (id, sealed_key, state, created_at, promoted_at)
            VALUES (\(bind: id), \(bind: sealedKey), \(bind: state), \(bind: at), \(bind: promoted))
            ON CONFLICT DO NOTHING RETURNING id
            """
        ).all().isEmpty
    }

    /// Makes an active key the primary; the former primary stays active (it still opens what it wrapped).
    public func promoteRingKey(id: String, at: Int64) async throws {
        try await sql.raw("UPDATE key_ring SET state = 'active' WHERE state = 'primary' AND id <> \(bind: id)").run()
        try await sql.raw(
            "UPDATE key_ring SET state = 'primary', promoted_at = \(bind: at) WHERE id = \(bind: id) AND state = 'active'"
        ).run()
    }

    /// Retires an active key and deletes its key material.
    public func destroyRingKey(id: String, at: Int64) async throws {
        try await sql.raw(
            """
            UPDATE key_ring SET state = 'retired', sealed_key = NULL, retired_at = \(bind: at)
            WHERE id = \(bind: id) AND state = 'active'
            """
        ).run()
    }

    static func ringKey(_ row: any SQLRow) throws -> RingKeyRow {
        RingKeyRow(
            id: try row.decode(column: "id", as: String.self),
            sealedKey: try row.decode(column: "sealed_key", as: Data?.self),
            state: try row.decode(column: "state", as: String.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            promotedAt: try row.decode(column: "promoted_at", as: Int64?.self),
            retiredAt: try row.decode(column: "retired_at", as: Int64?.self))
    }

    // MARK: wrapped data keys

    /// The `header` (format and key id) as SQL over the column's first bytes.
    private func head(_ c: DataKeyColumn, _ count: Int) -> SQLQueryString {
        kind == .postgres
            ? "substring(\(ident: c.column) from 1 for \(literal: count))"
            : "substr(\(ident: c.column), 1, \(literal: count))"
    }

    /// Up to `limit` wrapped data keys of `c` after id `after` that do not start with `header` (are not wrapped by
    /// that key), in id order.
    public func dataKeys(_ c: DataKeyColumn, after: String?, notStartingWith header: Data, limit: Int) async throws
        -> [(id: String, wrapped: Data)]
    {
        let afterClause: SQLQueryString = after.map { " AND \(ident: c.idColumn) > \(bind: $0)" } ?? ""
        let query: SQLQueryString =
            "SELECT \(ident: c.idColumn) AS id, \(ident: c.column) AS wrapped FROM \(ident: c.table) WHERE \(ident: c.column) IS NOT NULL"
            + afterClause + " AND " + head(c, header.count) + " <> \(bind: header)"
            + " ORDER BY \(ident: c.idColumn) LIMIT \(literal: limit)"
        return try await sql.raw(query).all().map {
            (try $0.decode(column: "id", as: String.self), try $0.decode(column: "wrapped", as: Data.self))
        }
    }

    /// Writes re-wrapped data keys in one statement, each only where the row still holds the key that was read
    /// (a row changed or erased meanwhile is left alone); the number of rows written.
    public func rewrapDataKeys(_ c: DataKeyColumn, _ rows: [(id: String, old: Data, new: Data)]) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        let pg = kind == .postgres
        var values: [SQLQueryString] = []
        values.reserveCapacity(rows.count)
        for (i, r) in rows.enumerated() {
            values.append(
                pg && i == 0
                    ? "(CAST(\(bind: r.id) AS TEXT), CAST(\(bind: r.old) AS BYTEA), CAST(\(bind: r.new) AS BYTEA))"
                    : "(\(bind: r.id), \(bind: r.old), \(bind: r.new))")
        }
        let t = c.table
        let query: SQLQueryString =
            "WITH v(k_id, k_old, k_new) AS (VALUES " + values.joined(separator: ", ") + ") "
            + "UPDATE \(ident: t) SET \(ident: c.column) = v.k_new FROM v "
            + "WHERE \(ident: t).\(ident: c.idColumn) = v.k_id AND \(ident: t).\(ident: c.column) = v.k_old "
            // The ids once more as a list, so that the planner looks the rows up by primary key instead of scanning
            // the whole table to join it with the values (PostgreSQL's choice without it).
            + "AND \(ident: t).\(ident: c.idColumn) IN (\(binds: rows.map(\.id))) "
            + "RETURNING \(ident: t).\(ident: c.idColumn)"
        return try await sql.raw(query).all().count
    }

    /// How many wrapped data keys of `c` each wrapping key wraps: by key id in hex, "" for the key file's root
    /// (format 1).
    public func dataKeyCounts(_ c: DataKeyColumn) async throws -> [String: Int] {
        let idExpression: SQLQueryString =
            kind == .postgres
            ? "CASE WHEN octet_length(\(ident: c.column)) = 60 THEN '' ELSE encode(substring(\(ident: c.column) from 2 for 8), 'hex') END"
            : "CASE WHEN length(\(ident: c.column)) = 60 THEN '' ELSE lower(hex(substr(\(ident: c.column), 2, 8))) END"
        let query: SQLQueryString =
            "SELECT " + idExpression
            + " AS k, COUNT(*) AS n FROM \(ident: c.table) WHERE \(ident: c.column) IS NOT NULL GROUP BY 1"
        var out: [String: Int] = [:]
        for row in try await sql.raw(query).all() {
            out[try row.decode(column: "k", as: String.self), default: 0] += try row.decode(column: "n", as: Int.self)
        }
        return out
    }

    // MARK: rotations

    /// Makes transactions that start or take over a rotation wait for each other (PostgreSQL; SQLite has one writer).
    public func serializeKeyRotations() async throws {
        if kind == .postgres { try await exec("SELECT pg_advisory_xact_lock(7423030)") }
    }

    /// The unfinished rotation, if there is one.
    public func openKeyRotation() async throws -> KeyRotationRow? {
        try await sql.raw("SELECT * FROM key_rotations WHERE in_progress = 1").first().map(Self.rotation)
    }

    public func keyRotation(id: String) async throws -> KeyRotationRow? {
        try await sql.raw("SELECT * FROM key_rotations WHERE id = \(bind: id)").first().map(Self.rotation)
    }

    /// The last finished rotation, if any.
    public func lastKeyRotation() async throws -> KeyRotationRow? {
        try await sql.raw("SELECT * FROM key_rotations ORDER BY started_at DESC, id DESC LIMIT 1").first().map(
            Self.rotation)
    }

    public func insertKeyRotation(_ r: KeyRotationRow) async throws {
        try await sql.raw(
            """
            INSERT INTO key_rotations (id, in_progress, new_key, phase, started_at, updated_at, lease_until, promote_at)
            VALUES (\(bind: r.id), 1, \(bind: r.newKey), \(bind: r.phase), \(bind: r.startedAt), \(bind: r.updatedAt),
              \(bind: r.leaseUntil), \(bind: r.promoteAt))
            """
        ).run()
    }

    public func saveKeyRotation(_ r: KeyRotationRow) async throws {
        let open: Int? = r.phase == "done" ? nil : 1
        try await sql.raw(
            """
            UPDATE key_rotations SET in_progress = \(bind: open), phase = \(bind: r.phase),
              cursor_table = \(bind: r.cursorTable), cursor_id = \(bind: r.cursorId), sweep = \(bind: r.sweep),
              rewrapped = \(bind: r.rewrapped), skipped = \(bind: r.skipped), destroyed = \(bind: r.destroyed),
              updated_at = \(bind: r.updatedAt), lease_until = \(bind: r.leaseUntil), promote_at = \(bind: r.promoteAt),
              grace_until = \(bind: r.graceUntil), finished_at = \(bind: r.finishedAt)
            WHERE id = \(bind: r.id)
            """
        ).run()
    }

    static func rotation(_ row: any SQLRow) throws -> KeyRotationRow {
        var r = KeyRotationRow(
            id: try row.decode(column: "id", as: String.self),
            newKey: try row.decode(column: "new_key", as: String.self),
            phase: try row.decode(column: "phase", as: String.self),
            startedAt: try row.decode(column: "started_at", as: Int64.self),
            leaseUntil: try row.decode(column: "lease_until", as: Int64.self),
            promoteAt: try row.decode(column: "promote_at", as: Int64?.self))
        r.cursorTable = try row.decode(column: "cursor_table", as: String?.self)
        r.cursorId = try row.decode(column: "cursor_id", as: String?.self)
        r.sweep = try row.decode(column: "sweep", as: Int.self)
        r.rewrapped = try row.decode(column: "rewrapped", as: Int.self)
        r.skipped = try row.decode(column: "skipped", as: Int.self)
        r.destroyed = try row.decode(column: "destroyed", as: String?.self)
        r.updatedAt = try row.decode(column: "updated_at", as: Int64.self)
        r.graceUntil = try row.decode(column: "grace_until", as: Int64?.self)
        r.finishedAt = try row.decode(column: "finished_at", as: Int64?.self)
        return r
    }
}
