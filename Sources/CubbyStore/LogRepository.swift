import CubbyAudit
import CubbyCore
import Foundation
import SQLKit

/// A leaf of the audit log: its index in the tree, the event it commits to, and the leaf hash.
public struct LogLeaf: Sendable, Hashable {
    public var index: Int64
    public var eventSeq: Int64
    public var hash: Data
    public init(index: Int64, eventSeq: Int64, hash: Data) {
        self.index = index
        self.eventSeq = eventSeq
        self.hash = hash
    }
}

/// A stored interior node: the root of the perfect subtree of 2^level leaves starting at index·2^level.
public struct LogNode: Sendable, Hashable {
    public var level: Int
    public var index: Int64
    public var hash: Data
    public init(level: Int, index: Int64, hash: Data) {
        self.level = level
        self.index = index
        self.hash = hash
    }
}

/// A signed checkpoint as stored.
public struct StoredCheckpoint: Sendable, Hashable {
    public var size: Int64
    public var root: Data
    public var note: String
    public var createdAt: Int64
    public init(size: Int64, root: Data, note: String, createdAt: Int64) {
        self.size = size
        self.root = root
        self.note = note
        self.createdAt = createdAt
    }
}

/// A leaf joined with its event, for verification: what the log says and what the event's bytes say.
public struct LeafWithEvent: Sendable {
    public var index: Int64
    public var eventSeq: Int64
    public var leafHash: Data
    /// Nil when the event row is missing.
    public var canonical: Data?
    public var eventLeafHash: Data?
}

/// Reads and writes of the Merkle log's tables.
extension StoreSession {
    /// Takes the log's sequencing lock until the transaction ends (PostgreSQL; SQLite has one writer).
    public func lockLog() async throws {
        if kind == .postgres { try await exec("SELECT pg_advisory_xact_lock(7423002)") }
    }

    /// The log's size and serialized frontier, if anything was sequenced yet.
    public func logState() async throws -> (size: Int64, frontier: Data)? {
        guard let row = try await sql.raw("SELECT size, frontier FROM log_state WHERE id = 1").first() else {
            return nil
        }
        return (try row.decode(column: "size", as: Int64.self), try row.decode(column: "frontier", as: Data.self))
    }

    public func saveLogState(size: Int64, frontier: Data, at: Int64) async throws {
        try await sql.raw(
            """
            INSERT INTO log_state (id, size, frontier, updated_at) VALUES (1, \(bind: size), \(bind: frontier), \(bind: at))
            ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier, updated_at = excluded.updated_at
            """
        ).run()
    }

    /// Committed events not yet in the tree, oldest first, with their leaf hashes.
    public func pendingLeaves(limit: Int) async throws -> [(seq: Int64, hash: Data)] {
        try await sql.raw(
            """
            SELECT p.seq AS seq, e.leaf_hash AS leaf_hash FROM audit_pending p JOIN audit_events e ON e.seq = p.seq
            ORDER BY p.seq LIMIT \(bind: limit)
            """
        ).all().map {
            (try $0.decode(column: "seq", as: Int64.self), try $0.decode(column: "leaf_hash", as: Data.self))
        }
    }

    public func clearPending(_ seqs: [Int64]) async throws {
        for chunk in stride(from: 0, to: seqs.count, by: 500) {
            let part = seqs[chunk..<min(seqs.count, chunk + 500)]
            try await sql.delete(from: "audit_pending").where(SQLColumn("seq"), .in, SQLBind.group(Array(part))).run()
        }
    }

    public func appendLeaves(_ leaves: [LogLeaf]) async throws {
        for chunk in stride(from: 0, to: leaves.count, by: 1000) {
            let part = leaves[chunk..<min(leaves.count, chunk + 1000)]
            var insert = sql.insert(into: "audit_leaves").columns("leaf_index", "event_seq", "leaf_hash")
            for l in part { insert = insert.values(SQLBind(l.index), SQLBind(l.eventSeq), SQLBind(l.hash)) }
            try await insert.run()
        }
    }

    public func appendNodes(_ nodes: [LogNode]) async throws {
        for chunk in stride(from: 0, to: nodes.count, by: 1000) {
            let part = nodes[chunk..<min(nodes.count, chunk + 1000)]
            var insert = sql.insert(into: "merkle_nodes").columns("level", "idx", "hash")
            for n in part { insert = insert.values(SQLBind(Int64(n.level)), SQLBind(n.index), SQLBind(n.hash)) }
            try await insert.run()
        }
    }

    /// The stored hashes of the given nodes (level 0 = leaves), keyed by (level, index); missing ones are
    /// absent. One query, one round trip, whatever the mix of leaves and interior nodes.
    public func nodes(_ wanted: [(level: Int, index: Int64)]) async throws -> [LogNodeKey: Data] {
        guard !wanted.isEmpty else { return [:] }
        let leaves = wanted.filter { $0.level == 0 }.map(\.index)
        let inner = wanted.filter { $0.level > 0 }
        // Integers only, written into the statement; row values hit the primary key.
        var parts: [String] = []
        if !leaves.isEmpty {
            parts.append(
                "SELECT 0 AS level, leaf_index AS idx, leaf_hash AS hash FROM audit_leaves WHERE leaf_index IN (\(leaves.map(String.init).joined(separator: ",")))"
            )
        }
        if !inner.isEmpty {
            let pairs = inner.map { "(\($0.level),\($0.index))" }.joined(separator: ",")
            parts.append("SELECT level, idx, hash FROM merkle_nodes WHERE (level, idx) IN (VALUES \(pairs))")
        }
        let query = SQLQueryString(parts.joined(separator: " UNION ALL "))
        var out: [LogNodeKey: Data] = [:]
        for r in try await sql.raw(query).all() {
            out[
                LogNodeKey(
                    level: try r.decode(column: "level", as: Int.self),
                    index: try r.decode(column: "idx", as: Int64.self))] =
                try r.decode(column: "hash", as: Data.self)
        }
        return out
    }

    /// Leaves from `from` in index order with their events, for recomputing the tree.
    public func leavesWithEvents(from: Int64, limit: Int) async throws -> [LeafWithEvent] {
        try await sql.raw(
            """
            SELECT l.leaf_index AS leaf_index, l.event_seq AS event_seq, l.leaf_hash AS leaf_hash,
              e.canonical AS canonical, e.leaf_hash AS event_leaf_hash
            FROM audit_leaves l LEFT JOIN audit_events e ON e.seq = l.event_seq
            WHERE l.leaf_index >= \(bind: from) ORDER BY l.leaf_index LIMIT \(bind: limit)
            """
        ).all().map {
            LeafWithEvent(
                index: try $0.decode(column: "leaf_index", as: Int64.self),
                eventSeq: try $0.decode(column: "event_seq", as: Int64.self),
                leafHash: try $0.decode(column: "leaf_hash", as: Data.self),
                canonical: try $0.decode(column: "canonical", as: Data?.self),
                eventLeafHash: try $0.decode(column: "event_leaf_hash", as: Data?.self))
        }
    }

    /// Events in leaf-index order from `from`, each with its leaf index.
    public func sequencedEvents(from: Int64, limit: Int, organization: String?) async throws -> [(
        Int64, StoredAuditEvent
    )] {
        let orgFilter: SQLQueryString = organization.map { " AND e.organization_id = \(bind: $0)" } ?? ""
        let rows = try await sql.raw(
            """
            SELECT l.leaf_index AS leaf_index, e.* FROM audit_leaves l JOIN audit_events e ON e.seq = l.event_seq
            WHERE l.leaf_index >= \(bind: from)\(orgFilter) ORDER BY l.leaf_index LIMIT \(bind: limit)
            """
        ).all()
        return try rows.map {
            (
                try $0.decode(column: "leaf_index", as: Int64.self),
                try $0.decode(model: StoredAuditEvent.self, keyDecodingStrategy: ColumnNames.decoding)
            )
        }
    }

    public func insertCheckpoint(size: Int64, root: Data, note: String, at: Int64) async throws {
        try await sql.raw(
            "INSERT INTO checkpoints (size, root, note, created_at) VALUES (\(bind: size), \(bind: root), \(bind: note), \(bind: at))"
        ).run()
    }

    public func latestCheckpoint() async throws -> StoredCheckpoint? {
        try await checkpoints(query: "SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1").first
    }

    /// All checkpoints, smallest tree first.
    public func allCheckpoints() async throws -> [StoredCheckpoint] {
        try await checkpoints(query: "SELECT * FROM checkpoints ORDER BY size")
    }

    private func checkpoints(query: SQLQueryString) async throws -> [StoredCheckpoint] {
        try await sql.raw(query).all().map {
            StoredCheckpoint(
                size: try $0.decode(column: "size", as: Int64.self), root: try $0.decode(column: "root", as: Data.self),
                note: try $0.decode(column: "note", as: String.self),
                createdAt: try $0.decode(column: "created_at", as: Int64.self))
        }
    }
}

/// The address of a tree node.
public struct LogNodeKey: Hashable, Sendable {
    public var level: Int
    public var index: Int64
    public init(level: Int, index: Int64) {
        self.level = level
        self.index = index
    }
}

extension StoreSession {
    /// Audit events that are neither a leaf of the log nor waiting to become one: rows that bypassed the log.
    public func eventsOutsideLog(limit: Int) async throws -> [Int64] {
        try await sql.raw(
            """
            SELECT e.seq AS seq FROM audit_events e
            WHERE NOT EXISTS (SELECT 1 FROM audit_leaves l WHERE l.event_seq = e.seq)
              AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.seq = e.seq)
            ORDER BY e.seq LIMIT \(bind: limit)
            """
        ).all().map { try $0.decode(column: "seq", as: Int64.self) }
    }

    /// The first leaf index whose event happened at or after `millis` (nil if none).
    public func firstLeaf(atOrAfter millis: Int64) async throws -> Int64? {
        try await sql.raw(
            """
            SELECT MIN(l.leaf_index) AS i FROM audit_leaves l JOIN audit_events e ON e.seq = l.event_seq
            WHERE e.occurred_at >= \(bind: millis)
            """
        ).first()?.decode(column: "i", as: Int64?.self)
    }
}

extension StoredAuditEvent {
    /// The event's detail map, decoded from its stored JSON.
    public var detailMap: [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(detail.utf8))) ?? [:]
    }

    /// The event as exports and bundles see it, at leaf `index`.
    public func exportRow(index: Int64) -> AuditExportRow {
        AuditExportRow(
            index: index, id: id, occurredAt: AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: occurredAt)),
            occurredAtMillis: occurredAt,
            type: type, outcome: outcome, actorKind: actorKind, actorId: actorId, actorRole: actorRole,
            organizationId: organizationId,
            siteId: siteId, unitId: unitId, compartmentId: compartmentId, parcelId: parcelId,
            trackingNumber: trackingNumber,
            detail: detailMap, canonical: [UInt8](canonical), leafHash: [UInt8](leafHash))
    }
}
