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

/// One audit log's state: its origin, size and frontier (and, for the frozen log, its final root).
public struct AuditLogState: Sendable, Hashable {
    public var log: AuditLogID
    /// Nil only for the frozen log before its origin was read from its checkpoints.
    public var origin: String?
    public var size: Int64
    public var frontier: Data
    /// The frozen log's root hash, recorded once it is frozen for good.
    public var root: Data?
    /// The size and signing time of the newest checkpoint (nil before the first).
    public var checkpointSize: Int64?
    public var checkpointAt: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(
        log: AuditLogID, origin: String?, size: Int64, frontier: Data, root: Data? = nil, checkpointSize: Int64? = nil,
        checkpointAt: Int64? = nil, createdAt: Int64, updatedAt: Int64
    ) {
        self.log = log
        self.origin = origin
        self.size = size
        self.frontier = frontier
        self.root = root
        self.checkpointSize = checkpointSize
        self.checkpointAt = checkpointAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where a log's leaves, nodes and checkpoints are stored: the frozen log keeps the tables it had; every other
/// log has rows keyed by its id in tables shared by all logs.
struct LogTables {
    let leaves: String
    let nodes: String
    let checkpoints: String
    /// `log_id = '…' AND ` for the shared tables, empty for the frozen log's own.
    let key: SQLQueryString

    init(_ log: AuditLogID) {
        if log == .frozen {
            (leaves, nodes, checkpoints, key) = ("audit_leaves", "merkle_nodes", "checkpoints", "")
        } else {
            (leaves, nodes, checkpoints) = ("log_leaves", "log_nodes", "log_checkpoints")
            key = "log_id = \(bind: log.storageKey) AND "
        }
    }
}

/// Reads and writes of the Merkle logs' tables.
extension StoreSession {
    /// Takes the logs' sequencing lock until the transaction ends (PostgreSQL; SQLite has one writer).
    public func lockLog() async throws {
        if kind == .postgres { try await exec("SELECT pg_advisory_xact_lock(7423002)") }
    }

    /// Every log's state.
    public func auditLogs() async throws -> [AuditLogState] {
        try await sql.raw("SELECT * FROM audit_logs ORDER BY created_at, id").all().compactMap(Self.logState)
    }

    /// One log's state, or nil when it has not opened yet.
    public func auditLog(_ log: AuditLogID) async throws -> AuditLogState? {
        try await sql.raw("SELECT * FROM audit_logs WHERE id = \(bind: log.storageKey)").first().flatMap(Self.logState)
    }

    private static func logState(_ row: any SQLRow) throws -> AuditLogState? {
        guard let log = AuditLogID(storageKey: try row.decode(column: "id", as: String.self)) else { return nil }
        return AuditLogState(
            log: log, origin: try row.decode(column: "origin", as: String?.self),
            size: try row.decode(column: "size", as: Int64.self),
            frontier: try row.decode(column: "frontier", as: Data.self),
            root: try row.decode(column: "root", as: Data?.self),
            checkpointSize: try row.decode(column: "checkpoint_size", as: Int64?.self),
            checkpointAt: try row.decode(column: "checkpoint_at", as: Int64?.self),
            createdAt: try row.decode(column: "created_at", as: Int64.self),
            updatedAt: try row.decode(column: "updated_at", as: Int64.self))
    }

    /// Opens a new, empty log with its origin.
    public func openAuditLog(_ log: AuditLogID, origin: String, frontier: Data, at: Int64) async throws {
        let (kind, organization): (String, String?) =
            switch log {
            case .frozen: ("frozen", nil)
            case .deployment: ("deployment", nil)
            case .organization(let id): ("organization", id.uuid.idString)
            }
        try await sql.raw(
            """
            INSERT INTO audit_logs (id, kind, organization_id, origin, size, frontier, created_at, updated_at)
            VALUES (\(bind: log.storageKey), \(bind: kind), \(bind: organization), \(bind: origin), 0, \(bind: frontier), \(bind: at), \(bind: at))
            """
        ).run()
    }

    /// Records the frozen log's origin and final root, once.
    public func freezeLog(origin: String, root: Data, at: Int64) async throws {
        try await sql.raw(
            """
            UPDATE audit_logs SET origin = \(bind: origin), root = \(bind: root), updated_at = \(bind: at)
            WHERE id = 'frozen' AND root IS NULL
            """
        ).run()
    }

    public func saveLogState(_ log: AuditLogID, size: Int64, frontier: Data, at: Int64) async throws {
        try await sql.raw(
            """
            UPDATE audit_logs SET size = \(bind: size), frontier = \(bind: frontier), updated_at = \(bind: at)
            WHERE id = \(bind: log.storageKey)
            """
        ).run()
    }

    /// Committed events not yet in a tree, oldest first, with their leaf hashes and organizations.
    public func pendingLeaves(limit: Int) async throws -> [(seq: Int64, hash: Data, organizationId: String?)] {
        try await sql.raw(
            """
            SELECT p.seq AS seq, e.leaf_hash AS leaf_hash, e.organization_id AS organization_id
            FROM audit_pending p JOIN audit_events e ON e.seq = p.seq ORDER BY p.seq LIMIT \(bind: limit)
            """
        ).all().map {
            (
                try $0.decode(column: "seq", as: Int64.self), try $0.decode(column: "leaf_hash", as: Data.self),
                try $0.decode(column: "organization_id", as: String?.self)
            )
        }
    }

    /// The stored sequence number of the event with `id`.
    public func auditSeq(eventId: String) async throws -> Int64? {
        try await sql.raw("SELECT seq FROM audit_events WHERE id = \(bind: eventId)").first()?.decode(
            column: "seq", as: Int64.self)
    }

    public func clearPending(_ seqs: [Int64]) async throws {
        for chunk in stride(from: 0, to: seqs.count, by: 500) {
            let part = seqs[chunk..<min(seqs.count, chunk + 500)]
            try await sql.delete(from: "audit_pending").where(SQLColumn("seq"), .in, SQLBind.group(Array(part))).run()
        }
    }

    public func appendLeaves(_ log: AuditLogID, _ leaves: [LogLeaf]) async throws {
        for chunk in stride(from: 0, to: leaves.count, by: 1000) {
            let part = leaves[chunk..<min(leaves.count, chunk + 1000)]
            var insert = sql.insert(into: "log_leaves").columns("log_id", "leaf_index", "event_seq", "leaf_hash")
            for l in part {
                insert = insert.values(SQLBind(log.storageKey), SQLBind(l.index), SQLBind(l.eventSeq), SQLBind(l.hash))
            }
            try await insert.run()
        }
    }

    public func appendNodes(_ log: AuditLogID, _ nodes: [LogNode]) async throws {
        for chunk in stride(from: 0, to: nodes.count, by: 1000) {
            let part = nodes[chunk..<min(nodes.count, chunk + 1000)]
            var insert = sql.insert(into: "log_nodes").columns("log_id", "level", "idx", "hash")
            for n in part {
                insert = insert.values(
                    SQLBind(log.storageKey), SQLBind(Int64(n.level)), SQLBind(n.index), SQLBind(n.hash))
            }
            try await insert.run()
        }
    }

    /// The stored hashes of the given nodes of one log (level 0 = leaves), keyed by (level, index); missing ones
    /// are absent. One query, one round trip, whatever the mix of leaves and interior nodes.
    public func nodes(_ log: AuditLogID, _ wanted: [(level: Int, index: Int64)]) async throws -> [LogNodeKey: Data] {
        guard !wanted.isEmpty else { return [:] }
        let t = LogTables(log)
        let leaves = wanted.filter { $0.level == 0 }.map(\.index)
        let inner = wanted.filter { $0.level > 0 }
        // Integers only, written into the statement; row values hit the primary key.
        var query: SQLQueryString = ""
        if !leaves.isEmpty {
            query +=
                "SELECT 0 AS level, leaf_index AS idx, leaf_hash AS hash FROM \(unsafeRaw: t.leaves) WHERE \(t.key)leaf_index IN (\(unsafeRaw: leaves.map(String.init).joined(separator: ",")))"
        }
        if !inner.isEmpty {
            if !leaves.isEmpty { query += " UNION ALL " }
            let pairs = inner.map { "(\($0.level),\($0.index))" }.joined(separator: ",")
            query +=
                "SELECT level, idx, hash FROM \(unsafeRaw: t.nodes) WHERE \(t.key)(level, idx) IN (VALUES \(unsafeRaw: pairs))"
        }
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

    /// A log's leaves from `from` in index order with their events, for recomputing its tree.
    public func leavesWithEvents(_ log: AuditLogID, from: Int64, limit: Int) async throws -> [LeafWithEvent] {
        let t = LogTables(log)
        return try await sql.raw(
            """
            SELECT l.leaf_index AS leaf_index, l.event_seq AS event_seq, l.leaf_hash AS leaf_hash,
              e.canonical AS canonical, e.leaf_hash AS event_leaf_hash
            FROM \(unsafeRaw: t.leaves) l LEFT JOIN audit_events e ON e.seq = l.event_seq
            WHERE \(t.key)l.leaf_index >= \(bind: from) ORDER BY l.leaf_index LIMIT \(bind: limit)
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

    /// A log's events in leaf-index order from `from`, each with its leaf index; in the frozen log, which holds
    /// every organization's events, only those of `organization` when one is given.
    public func sequencedEvents(_ log: AuditLogID, from: Int64, limit: Int, organization: String? = nil) async throws
        -> [(Int64, StoredAuditEvent)]
    {
        let t = LogTables(log)
        let orgFilter: SQLQueryString = organization.map { " AND e.organization_id = \(bind: $0)" } ?? ""
        let rows = try await sql.raw(
            """
            SELECT l.leaf_index AS leaf_index, e.* FROM \(unsafeRaw: t.leaves) l JOIN audit_events e ON e.seq = l.event_seq
            WHERE \(t.key)l.leaf_index >= \(bind: from)\(orgFilter) ORDER BY l.leaf_index LIMIT \(bind: limit)
            """
        ).all()
        return try rows.map {
            (
                try $0.decode(column: "leaf_index", as: Int64.self),
                try $0.decode(model: StoredAuditEvent.self, keyDecodingStrategy: ColumnNames.decoding)
            )
        }
    }

    /// The event with `id`, the log that holds it and its leaf index there; nil when it is not (yet) a leaf.
    public func auditEventLeaf(id: String) async throws -> (log: AuditLogID, index: Int64, event: StoredAuditEvent)? {
        for (table, logColumn): (String, String) in [("log_leaves", "l.log_id"), ("audit_leaves", "'frozen'")] {
            let row = try await sql.raw(
                """
                SELECT \(unsafeRaw: logColumn) AS log_key, l.leaf_index AS leaf_index, e.* FROM audit_events e
                JOIN \(unsafeRaw: table) l ON l.event_seq = e.seq WHERE e.id = \(bind: id)
                """
            ).first()
            if let row, let log = AuditLogID(storageKey: try row.decode(column: "log_key", as: String.self)) {
                return (
                    log, try row.decode(column: "leaf_index", as: Int64.self),
                    try row.decode(model: StoredAuditEvent.self, keyDecodingStrategy: ColumnNames.decoding)
                )
            }
        }
        return nil
    }

    public func insertCheckpoint(_ log: AuditLogID, size: Int64, root: Data, note: String, at: Int64) async throws {
        if log == .frozen {
            try await sql.raw(
                "INSERT INTO checkpoints (size, root, note, created_at) VALUES (\(bind: size), \(bind: root), \(bind: note), \(bind: at))"
            ).run()
        } else {
            try await sql.raw(
                "INSERT INTO log_checkpoints (log_id, size, root, note, created_at) VALUES (\(bind: log.storageKey), \(bind: size), \(bind: root), \(bind: note), \(bind: at))"
            ).run()
            try await sql.raw(
                "UPDATE audit_logs SET checkpoint_size = \(bind: size), checkpoint_at = \(bind: at) WHERE id = \(bind: log.storageKey)"
            ).run()
        }
    }

    public func latestCheckpoint(_ log: AuditLogID) async throws -> StoredCheckpoint? {
        let t = LogTables(log)
        return try await checkpoints(
            "SELECT * FROM \(unsafeRaw: t.checkpoints) WHERE \(t.key)1 = 1 ORDER BY size DESC LIMIT 1"
        ).first
    }

    /// All of a log's checkpoints, smallest tree first.
    public func allCheckpoints(_ log: AuditLogID) async throws -> [StoredCheckpoint] {
        let t = LogTables(log)
        return try await checkpoints("SELECT * FROM \(unsafeRaw: t.checkpoints) WHERE \(t.key)1 = 1 ORDER BY size")
    }

    private func checkpoints(_ query: SQLQueryString) async throws -> [StoredCheckpoint] {
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
              AND NOT EXISTS (SELECT 1 FROM log_leaves l WHERE l.event_seq = e.seq)
              AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.seq = e.seq)
            ORDER BY e.seq LIMIT \(bind: limit)
            """
        ).all().map { try $0.decode(column: "seq", as: Int64.self) }
    }

    /// The first leaf index of a log whose event happened at or after `millis` (nil if none).
    public func firstLeaf(_ log: AuditLogID, atOrAfter millis: Int64) async throws -> Int64? {
        let t = LogTables(log)
        return try await sql.raw(
            """
            SELECT MIN(l.leaf_index) AS i FROM \(unsafeRaw: t.leaves) l JOIN audit_events e ON e.seq = l.event_seq
            WHERE \(t.key)e.occurred_at >= \(bind: millis)
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
