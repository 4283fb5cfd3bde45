import Crypto
import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// The verifiable audit log: gives committed audit events gap-free leaf indexes, keeps the Merkle tree's
/// nodes, signs checkpoints, and answers proofs.
///
/// Every process may run it; sequencing takes a lock in the database (PostgreSQL advisory lock, SQLite's
/// single writer), so leaf indexes stay gap-free and in the order the events became visible.
public struct AuditLog: Sendable {
    public let store: any SQLStore
    public let signer: NoteSigner
    public let origin: String
    let clock: ServerClock

    public init(
        store: any SQLStore, signingKey: Curve25519.Signing.PrivateKey, origin: String, clock: ServerClock = .system
    ) throws {
        self.store = store
        self.origin = origin
        self.signer = try NoteSigner(keyName: origin, privateKey: signingKey)
        self.clock = clock
    }

    /// The default origin: unique per deployment because it names the key.
    public static func defaultOrigin(for key: Curve25519.Signing.PublicKey) -> String {
        let digest = SHA256.hash(data: key.rawRepresentation)
        return "cubby.audit/" + digest.prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    /// The verifier key string (`<name>+<hex key id>+<base64 key>`).
    public var verifierKey: String { signer.verifierKey }

    /// Gives pending events leaf indexes; returns how many were sequenced.
    @discardableResult
    public func sequence(batch: Int = 5000) async throws -> Int {
        let at = clock.now().millisecondsSince1970
        return try await store.write { s in
            try await s.lockLog()
            return try await Self.sequence(s, batch: batch, at: at).count
        }
    }

    /// Sequences up to `batch` pending events inside the caller's transaction (which holds the log lock).
    static func sequence(_ s: StoreSession, batch: Int, at: Int64) async throws -> (
        count: Int, frontier: MerkleFrontier
    ) {
        var frontier = MerkleFrontier()
        if let state = try await s.logState() { frontier = try MerkleFrontier(serialized: [UInt8](state.frontier)) }
        let pending = try await s.pendingLeaves(limit: batch)
        if pending.isEmpty { return (0, frontier) }
        var leaves: [LogLeaf] = []
        var nodes: [LogNode] = []
        leaves.reserveCapacity(pending.count)
        for (seq, hashData) in pending {
            guard let hash = TreeHash(bytes: hashData) else {
                throw StoreError.corrupt("event \(seq) has a malformed leaf hash")
            }
            leaves.append(LogLeaf(index: Int64(frontier.size), eventSeq: seq, hash: hashData))
            frontier.append(leafHash: hash) { id, h in
                if id.level > 0 { nodes.append(LogNode(level: id.level, index: Int64(id.index), hash: Data(h.bytes))) }
            }
        }
        try await s.appendLeaves(leaves)
        try await s.appendNodes(nodes)
        try await s.clearPending(pending.map(\.seq))
        try await s.saveLogState(size: Int64(frontier.size), frontier: Data(frontier.serialized), at: at)
        return (pending.count, frontier)
    }

    /// Signs a checkpoint of the current tree if it grew since the last one. When nothing happened for
    /// `idle`, the log first records a `log.heartbeat` event, so a witness still sees a fresh checkpoint at
    /// least that often. Returns the new checkpoint, if any.
    @discardableResult
    public func checkpointIfDue(idle: Duration = .seconds(3600)) async throws -> StoredCheckpoint? {
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        return try await store.write { s in
            try await s.lockLog()
            var (_, frontier) = try await Self.sequence(s, batch: 5000, at: nowMs)
            let latest = try await s.latestCheckpoint()
            if let latest, latest.size > Int64(frontier.size) {
                throw StoreError.corrupt("the log shrank below its last checkpoint")
            }
            if let latest, latest.size == Int64(frontier.size) {
                guard nowMs - latest.createdAt >= Milliseconds.of(idle) else { return nil }
                try await s.appendAudit(
                    AuditRecord(
                        occurredAt: now, event: .logHeartbeat, actor: .system,
                        detail: ["previousSize": String(latest.size)]))
                frontier = try await Self.sequence(s, batch: 1, at: nowMs).frontier
            }
            let root = frontier.rootHash()
            let note = try signer.sign(try Checkpoint(origin: origin, size: frontier.size, rootHash: root)).serialized
            let size = Int64(frontier.size)
            try await s.insertCheckpoint(size: size, root: Data(root.bytes), note: note, at: nowMs)
            return StoredCheckpoint(size: size, root: Data(root.bytes), note: note, createdAt: nowMs)
        }
    }

    /// The newest signed checkpoint, signing one first if none exists.
    public func latestCheckpoint() async throws -> StoredCheckpoint {
        if let c = try await store.read({ s in try await s.latestCheckpoint() }) { return c }
        _ = try await checkpointIfDue()
        guard let c = try await store.read({ s in try await s.latestCheckpoint() }) else {
            throw StoreError.corrupt("no checkpoint could be signed")
        }
        return c
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves, from O(log n) stored nodes.
    ///
    /// One database round trip: a size beyond the tree shows up as a node that is not stored yet.
    public func inclusionProof(index: UInt64, size: UInt64) async throws -> (leafHash: TreeHash, proof: InclusionProof)
    {
        guard index < size, size <= UInt64(Int64.max) else {
            throw AuditLogError.outOfRange("index must be below size")
        }
        let needed =
            try InclusionProof.nodesNeeded(leafIndex: index, treeSize: size) + [TreeNodeID(level: 0, index: index)]
        let table = try await nodeTable(needed)
        do {
            let proof = try InclusionProof(leafIndex: index, treeSize: size, nodes: table)
            return (try table.hash(of: TreeNodeID(level: 0, index: index)), proof)
        } catch MerkleTreeError.missingNode {
            let treeSize = try await store.read { s in try await s.logState()?.size ?? 0 }
            throw AuditLogError.outOfRange("size must be at most the tree's \(treeSize) leaves")
        }
    }

    /// The consistency proof between the trees of `from` and `to` leaves.
    public func consistencyProof(from: UInt64, to: UInt64) async throws -> ConsistencyProof {
        let treeSize = try await store.read { s in try await s.logState()?.size ?? 0 }
        guard from <= to, to <= UInt64(treeSize) else { throw AuditLogError.outOfRange("need from ≤ to ≤ \(treeSize)") }
        // Every tree extends the empty tree, and a tree extends itself: both proofs are empty (RFC 9162 §2.1.4).
        if from == 0 || from == to { return ConsistencyProof(oldSize: from, newSize: to, hashes: []) }
        let table = try await nodeTable(try ConsistencyProof.nodesNeeded(oldSize: from, newSize: to))
        return try ConsistencyProof(oldSize: from, newSize: to, nodes: table)
    }

    /// Fetches stored nodes in one round trip; a perfect subtree not stored as a node (it cannot happen in a
    /// log built by `sequence`) is an error, not a rescan.
    func nodeTable(_ ids: [TreeNodeID]) async throws -> TreeNodeTable {
        let rows = try await store.read { s in try await s.nodes(ids.map { ($0.level, Int64($0.index)) }) }
        var table: [TreeNodeID: TreeHash] = [:]
        for (key, data) in rows {
            guard let h = TreeHash(bytes: data) else {
                throw StoreError.corrupt("node \(key.level)/\(key.index) is malformed")
            }
            table[TreeNodeID(level: key.level, index: UInt64(key.index))] = h
        }
        return TreeNodeTable(table)
    }
}

/// Requests the log cannot answer.
public enum AuditLogError: Error, Equatable {
    case outOfRange(String)
}

/// Runs sequencing often and checkpoint signing at most once a second while events arrive.
public struct AuditLogService: Service {
    let log: AuditLog
    let interval: Duration
    let logger: Logger

    public init(log: AuditLog, interval: Duration = .seconds(1), logger: Logger) {
        self.log = log
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // Catch up in batches first, so one checkpoint covers a backlog.
                while try await log.sequence() == 5000 {}
                try await log.checkpointIfDue()
            } catch {
                logger.error("audit log sequencing failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
