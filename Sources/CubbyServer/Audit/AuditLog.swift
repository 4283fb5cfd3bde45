import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// The verifiable audit logs: one per organization and one for the deployment's own events. Gives committed
/// audit events gap-free leaf indexes in their log, keeps each tree's nodes, signs checkpoints, and answers
/// proofs. The single log of earlier versions stays readable, frozen at its size.
///
/// Every process may run it; sequencing takes a lock in the database (PostgreSQL advisory lock, SQLite's
/// single writer), so each log's leaf indexes stay gap-free and in the order its events became visible.
public struct AuditLog: Sendable {
    public let store: any SQLStore
    /// The key file's checkpoint key: the first key of every log opened before a rotation, and the frozen log's.
    let signingKey: Curve25519.Signing.PrivateKey
    /// The checkpoint keys as rotated; read again inside every transaction that signs.
    public let ring: SigningKeyRing
    /// The first part of every new log's origin: a log's origin is `<base>/<organization id>` or
    /// `<base>/deployment`, stored when the log opens and never changed afterwards.
    public let originBase: String
    /// The frozen log's origin when its own checkpoints do not say it (it never signed one).
    let frozenOriginFallback: String
    let clock: ServerClock
    /// Rung after the service sequenced new events (what follows the log, the SIEM forwarder, waits on it).
    public let sequenced = OutboxWake()

    public init(
        store: any SQLStore, signingKey: Curve25519.Signing.PrivateKey, originBase: String,
        frozenOrigin: String? = nil, clock: ServerClock = .system, ring: SigningKeyRing? = nil
    ) throws {
        self.store = store
        self.signingKey = signingKey
        self.ring =
            ring ?? SigningKeyRing(checkpoint: signingKey, qr: Curve25519.Signing.PrivateKey(), kek: nil)
        self.originBase = originBase
        self.frozenOriginFallback = frozenOrigin ?? Self.defaultOrigin(for: signingKey.publicKey)
        self.clock = clock
        _ = try NoteSigner(keyName: Self.origin(base: originBase, log: .deployment), privateKey: signingKey)
    }

    /// The logs of a server with `settings`: origins from `log.origin` or `public.url`, signed with its key.
    public init(
        store: any SQLStore, keys: ServerKeys, settings: ServerSettings, clock: ServerClock = .system,
        ring: SigningKeyRing? = nil
    ) throws {
        let key = keys.checkpointSigningKey
        try self.init(
            store: store, signingKey: key,
            originBase: Self.originBase(
                logOrigin: settings.logOrigin, publicURL: settings.publicURL, key: key.publicKey),
            frozenOrigin: settings.logOrigin ?? Self.defaultOrigin(for: key.publicKey), clock: clock,
            ring: ring ?? SigningKeyRing(keys))
    }

    /// The origin base of a deployment that names none: unique per deployment because it names the key. It is
    /// also the single log's origin in earlier versions.
    public static func defaultOrigin(for key: Curve25519.Signing.PublicKey) -> String {
        let digest = SHA256.hash(data: key.rawRepresentation)
        return "cubby.audit/" + digest.prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    /// The origin base for the settings: `log.origin` when set; else the public address's host and
    /// `/cubby/audit`; else the key's default.
    public static func originBase(logOrigin: String?, publicURL: String?, key: Curve25519.Signing.PublicKey) -> String {
        if let logOrigin { return logOrigin }
        if let publicURL, let host = URLComponents(string: publicURL)?.host, !host.isEmpty {
            let port = URLComponents(string: publicURL)?.port.map { ":\($0)" } ?? ""
            return host.lowercased() + port + "/cubby/audit"
        }
        return defaultOrigin(for: key)
    }

    static func origin(base: String, log: AuditLogID) -> String { base + "/" + log.originSuffix }

    /// The signer of the log whose origin is `origin` with the checkpoint key in force (as last read): one key, a
    /// key name per log.
    public func signer(origin: String) throws -> NoteSigner {
        try NoteSigner(keyName: origin, privateKey: ring.current(.checkpoint).privateKey)
    }

    /// The key file's checkpoint key: where every log's key history starts (the trust anchor of `cubby audit verify`).
    public var publicKey: Curve25519.Signing.PublicKey { signingKey.publicKey }

    /// A log's origin and the verifier key (`<origin>+<hex key id>+<base64 key>`) of the checkpoint key in force,
    /// opening the log if needed.
    public func identity(_ log: AuditLogID) async throws -> (origin: String, verifierKey: String) {
        let state = try await openedState(log)
        guard let origin = state.origin else { throw StoreError.corrupt("\(log) has no origin") }
        let now = clock.now().millisecondsSince1970
        // The frozen log was signed by the key file's key alone; the others by the key in force.
        if log == .frozen { return (origin, try NoteSigner(keyName: origin, privateKey: signingKey).verifierKey) }
        try await store.read { s in try await ring.refresh(s, now: now) }
        return (origin, try signer(origin: origin).verifierKey)
    }

    /// A log's key history up to its checkpoint of `size` leaves: each checkpoint-key rotation recorded in it, with
    /// the first checkpoint that covers it and the event's inclusion proof there.
    ///
    /// A log opened after a rotation begins with the deployment log's rotations up to the key its genesis names.
    public func keyHistory(_ log: AuditLogID, size: Int64) async throws -> [LogKeyRotation] {
        var history: [LogKeyRotation] = []
        if log != .deployment, log != .frozen, let named = try await genesisKey(log) {
            let (deploymentSize, origin) = try await store.read { s in
                (try await s.latestCheckpoint(.deployment)?.size ?? 0, try await s.auditLog(.deployment)?.origin)
            }
            for var step in try await ownKeyHistory(.deployment, size: deploymentSize) {
                step.origin = origin
                history.append(step)
                let canonical = Data(base64Encoded: step.canonical) ?? Data()
                if try KeyRotationEvent.parse(canonical)?.newKey.rawRepresentation == named { break }
            }
        }
        return history + (try await ownKeyHistory(log, size: size))
    }

    /// The checkpoint key a log's genesis names (a log opened after a rotation), nil when it names none.
    func genesisKey(_ log: AuditLogID) async throws -> Data? {
        let first = try await store.read { s in try await s.sequencedEvents(log, from: 0, limit: 1).first }
        guard let first, first.0 == 0,
            let object = try? JSONSerialization.jsonObject(with: first.1.canonical) as? [String: Any],
            let detail = object["detail"] as? [String: String], let key = detail["signingKey"]
        else { return nil }
        return Data(base64Encoded: key)
    }

    /// The rotations a log recorded itself.
    func ownKeyHistory(_ log: AuditLogID, size: Int64) async throws -> [LogKeyRotation] {
        let events = try await store.read { s in
            try await s.leavesOfType(log, type: KeyRotationEvent.type, below: size)
        }
        var history: [LogKeyRotation] = []
        for (index, canonical) in events {
            guard let rotation = try KeyRotationEvent.parse(canonical), rotation.purpose == "checkpoint" else {
                continue
            }
            guard let covering = try await store.read({ s in try await s.firstCheckpoint(log, above: index) }) else {
                continue
            }
            let proof = try await inclusionProof(log, index: UInt64(index), size: UInt64(covering.size))
            history.append(
                LogKeyRotation(
                    index: UInt64(index), canonical: canonical, checkpoint: covering.note, proof: proof.proof.hashes))
        }
        return history
    }

    /// Gives pending events leaf indexes in their logs; returns how many were sequenced.
    @discardableResult
    public func sequence(batch: Int = 5000) async throws -> Int {
        let at = clock.now()
        return try await store.write { s in
            try await s.lockLog()
            return try await sequence(s, batch: batch, at: at)
        }
    }

    /// Sequences up to `batch` pending events inside the caller's transaction (which holds the log lock).
    func sequence(_ s: StoreSession, batch: Int, at: Date) async throws -> Int {
        var logs = try await logStates(s, at: at)
        let pending = try await s.pendingLeaves(limit: batch)
        if pending.isEmpty { return 0 }
        var byLog: [AuditLogID: [(seq: Int64, hash: Data)]] = [:]
        var order: [AuditLogID] = []
        for p in pending {
            let log: AuditLogID
            if let org = p.organizationId {
                guard let id = OrganizationID(uuidString: org) else {
                    throw StoreError.corrupt("event \(p.seq) names a malformed organization")
                }
                log = .organization(id)
            } else {
                log = .deployment
            }
            if byLog[log] == nil { order.append(log) }
            byLog[log, default: []].append((p.seq, p.hash))
        }
        var cleared = pending.map(\.seq)
        for log in order {
            var entries = byLog[log] ?? []
            var frontier: MerkleFrontier
            if let state = logs[log] {
                frontier = try MerkleFrontier(serialized: [UInt8](state.frontier))
            } else {
                let genesis = try await open(s, log, frozen: logs[.frozen], at: at)
                entries.insert(genesis, at: 0)
                cleared.append(genesis.seq)
                frontier = MerkleFrontier()
            }
            try await append(s, log, entries, frontier: &frontier, at: at)
            logs[log] = AuditLogState(
                log: log, origin: nil, size: Int64(frontier.size), frontier: Data(frontier.serialized), createdAt: 0,
                updatedAt: 0)
        }
        try await s.clearPending(cleared)
        return pending.count
    }

    /// Appends leaves to one log and stores the perfect subtrees they complete.
    func append(
        _ s: StoreSession, _ log: AuditLogID, _ entries: [(seq: Int64, hash: Data)], frontier: inout MerkleFrontier,
        at: Date
    ) async throws {
        var leaves: [LogLeaf] = []
        var nodes: [LogNode] = []
        leaves.reserveCapacity(entries.count)
        for (seq, hashData) in entries {
            guard let hash = TreeHash(bytes: hashData) else {
                throw StoreError.corrupt("event \(seq) has a malformed leaf hash")
            }
            leaves.append(LogLeaf(index: Int64(frontier.size), eventSeq: seq, hash: hashData))
            frontier.append(leafHash: hash) { id, h in
                if id.level > 0 { nodes.append(LogNode(level: id.level, index: Int64(id.index), hash: Data(h.bytes))) }
            }
        }
        try await s.appendLeaves(log, leaves)
        try await s.appendNodes(log, nodes)
        try await s.saveLogState(
            log, size: Int64(frontier.size), frontier: Data(frontier.serialized), at: at.millisecondsSince1970)
    }

    /// Every log's state, after freezing the log of earlier versions for good if that was not done yet: its
    /// origin is read from its own newest checkpoint, and its final size gets a signed checkpoint.
    func logStates(_ s: StoreSession, at: Date) async throws -> [AuditLogID: AuditLogState] {
        var states = Dictionary(try await s.auditLogs().map { ($0.log, $0) }, uniquingKeysWith: { a, _ in a })
        if var frozen = states[.frozen], frozen.root == nil {
            let frontier = try MerkleFrontier(serialized: [UInt8](frozen.frontier))
            guard Int64(frontier.size) == frozen.size else { throw StoreError.corrupt("the frozen log's state") }
            let latest = try await s.latestCheckpoint(.frozen)
            let origin =
                latest.flatMap { $0.note.split(separator: "\n").first.map(String.init) } ?? frozenOriginFallback
            let root = frontier.rootHash()
            if (latest?.size ?? -1) < frozen.size {
                let note = try NoteSigner(keyName: origin, privateKey: signingKey).sign(
                    try Checkpoint(origin: origin, size: frontier.size, rootHash: root)
                ).serialized
                try await s.insertCheckpoint(
                    .frozen, size: frozen.size, root: Data(root.bytes), note: note, at: at.millisecondsSince1970)
            }
            try await s.freezeLog(origin: origin, root: Data(root.bytes), at: at.millisecondsSince1970)
            frozen.origin = origin
            frozen.root = Data(root.bytes)
            states[.frozen] = frozen
        }
        return states
    }

    /// Opens a log: stores its origin and appends its genesis event, which names the frozen log (origin, size,
    /// root hash) when there is one, so the history stays linked. Returns the genesis event's queue entry, to
    /// become leaf 0.
    func open(
        _ s: StoreSession, _ log: AuditLogID, frozen: AuditLogState?, at: Date, base: String? = nil
    ) async throws -> (seq: Int64, hash: Data) {
        let origin = Self.origin(base: base ?? originBase, log: log)
        try await s.openAuditLog(
            log, origin: origin, frontier: Data(MerkleFrontier().serialized), at: at.millisecondsSince1970)
        var detail = ["origin": origin]
        // A log opened after a rotation starts with the key in force, which its genesis names; the deployment log's
        // history shows how that key follows the key file's.
        try await ring.refresh(s, now: at.millisecondsSince1970)
        if ring.hasRotated(.checkpoint) {
            let key = ring.current(.checkpoint)
            detail["signingKey"] = key.publicKey.rawRepresentation.base64EncodedString()
            detail["signingKeyId"] = key.id
        }
        if let frozen, let frozenOrigin = frozen.origin, let root = frozen.root {
            detail["frozenOrigin"] = frozenOrigin
            detail["frozenSize"] = String(frozen.size)
            detail["frozenRoot"] = Data(root).base64EncodedString()
        }
        var organization: UUID? = nil
        if case .organization(let id) = log { organization = id.uuid }
        let record = AuditRecord(
            occurredAt: at, event: .logGenesis, actor: .system, organizationId: organization, detail: detail)
        try await s.appendAudit(record)
        guard let seq = try await s.auditSeq(eventId: record.id.idString) else {
            throw StoreError.corrupt("the genesis event of \(log) was not stored")
        }
        return (seq, Data(AuditCanonicalEncoding.leafHash(AuditCanonicalEncoding.encode(record))))
    }

    /// A log's state, opening it first (with its genesis event) if it has not opened yet.
    func openedState(_ log: AuditLogID) async throws -> AuditLogState {
        if let state = try await store.read({ s in try await s.auditLog(log) }), state.origin != nil { return state }
        let at = clock.now()
        return try await store.write { s in
            try await s.lockLog()
            _ = try await sequence(s, batch: 5000, at: at)
            return try await openInside(s, log, at: at)
        }
    }

    /// A log's state, opening it inside the caller's transaction (which holds the log lock) if it has not opened.
    /// `sharedBase` opens it under the origin base the deployment's other logs were opened with, whatever this
    /// process's settings say (a command run with fewer options than the servers).
    func openInside(_ s: StoreSession, _ log: AuditLogID, at: Date, sharedBase: Bool = false) async throws
        -> AuditLogState
    {
        let states = try await logStates(s, at: at)
        if let state = states[log] { return state }
        guard log != .frozen else { throw AuditLogError.noSuchLog }
        var base: String? = nil
        if sharedBase {
            base =
                states.values.lazy.compactMap { st -> String? in
                    guard st.log != .frozen, let origin = st.origin, origin.hasSuffix("/" + st.log.originSuffix) else {
                        return nil
                    }
                    return String(origin.dropLast(st.log.originSuffix.count + 1))
                }.first
        }
        var frontier = MerkleFrontier()
        let genesis = try await open(s, log, frozen: states[.frozen], at: at, base: base)
        try await append(s, log, [genesis], frontier: &frontier, at: at)
        try await s.clearPending([genesis.seq])
        guard let state = try await s.auditLog(log) else { throw StoreError.corrupt("\(log) did not open") }
        return state
    }

    /// Signs a checkpoint of every log that grew since its last one. When a log saw nothing for `idle`, it first
    /// records a `log.heartbeat` event, so a witness still sees a fresh checkpoint at least that often. Returns
    /// the new checkpoints.
    @discardableResult
    public func checkpointIfDue(idle: Duration = .seconds(3600)) async throws -> [AuditLogID: StoredCheckpoint] {
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        return try await store.write { s in
            try await s.lockLog()
            _ = try await sequence(s, batch: 5000, at: now)
            var states = try await logStates(s, at: now)
            var heartbeats: [AuditRecord] = []
            for (log, state) in states where log != .frozen {
                guard let lastSize = state.checkpointSize, let lastAt = state.checkpointAt else { continue }
                if lastSize > state.size { throw StoreError.corrupt("\(log) shrank below its last checkpoint") }
                if lastSize == state.size, nowMs - lastAt >= Milliseconds.of(idle) {
                    var organization: UUID? = nil
                    if case .organization(let id) = log { organization = id.uuid }
                    heartbeats.append(
                        AuditRecord(
                            occurredAt: now, event: .logHeartbeat, actor: .system, organizationId: organization,
                            detail: ["previousSize": String(lastSize)]))
                }
            }
            if !heartbeats.isEmpty {
                try await s.appendAudit(heartbeats)
                while try await sequence(s, batch: 5000, at: now) == 5000 {}
                states = try await logStates(s, at: now)
            }
            var signed: [AuditLogID: StoredCheckpoint] = [:]
            var refreshed = false
            for (log, state) in states where log != .frozen && state.size > (state.checkpointSize ?? 0) {
                guard let origin = state.origin else { throw StoreError.corrupt("\(log) has no origin") }
                if !refreshed {
                    // Under the log lock: a rotation and its events commit together, so this set matches the tree.
                    try await ring.refresh(s, now: nowMs)
                    refreshed = true
                }
                let frontier = try MerkleFrontier(serialized: [UInt8](state.frontier))
                let root = frontier.rootHash()
                let previous = try await s.latestCheckpoint(log).flatMap { try? SignedNote(parsing: $0.note) }
                let text = try Checkpoint(origin: origin, size: frontier.size, rootHash: root).text
                let note = try SignedNote(
                    text: text,
                    signatures: try ring.checkpointSigners(origin: origin, previous: previous, at: nowMs).map {
                        try $0.signature(forText: text)
                    }
                ).serialized
                try await s.insertCheckpoint(log, size: state.size, root: Data(root.bytes), note: note, at: nowMs)
                signed[log] = StoredCheckpoint(size: state.size, root: Data(root.bytes), note: note, createdAt: nowMs)
            }
            return signed
        }
    }

    /// A log's newest signed checkpoint, opening the log and signing one first if it has none.
    public func latestCheckpoint(_ log: AuditLogID) async throws -> StoredCheckpoint {
        if let c = try await store.read({ s in try await s.latestCheckpoint(log) }) { return c }
        guard log != .frozen else { throw AuditLogError.noSuchLog }
        _ = try await openedState(log)
        _ = try await checkpointIfDue()
        guard let c = try await store.read({ s in try await s.latestCheckpoint(log) }) else {
            throw StoreError.corrupt("no checkpoint could be signed for \(log)")
        }
        return c
    }

    /// The number of leaves in a log (0 when it has not opened).
    public func size(_ log: AuditLogID) async throws -> Int64 {
        try await store.read { s in try await s.auditLog(log)?.size ?? 0 }
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves of one log, from O(log n) stored nodes.
    ///
    /// One database round trip: a size beyond the tree shows up as a node that is not stored yet.
    public func inclusionProof(_ log: AuditLogID, index: UInt64, size: UInt64) async throws -> (
        leafHash: TreeHash, proof: InclusionProof
    ) {
        guard index < size, size <= UInt64(Int64.max) else {
            throw AuditLogError.outOfRange("index must be below size")
        }
        let needed =
            try InclusionProof.nodesNeeded(leafIndex: index, treeSize: size) + [TreeNodeID(level: 0, index: index)]
        let table = try await nodeTable(log, needed)
        do {
            let proof = try InclusionProof(leafIndex: index, treeSize: size, nodes: table)
            return (try table.hash(of: TreeNodeID(level: 0, index: index)), proof)
        } catch MerkleTreeError.missingNode {
            throw AuditLogError.beyondTree(size: try await self.size(log))
        }
    }

    /// The consistency proof between the trees of `from` and `to` leaves of one log.
    public func consistencyProof(_ log: AuditLogID, from: UInt64, to: UInt64) async throws -> ConsistencyProof {
        guard from <= to else { throw AuditLogError.outOfRange("need from ≤ to") }
        let treeSize = try await size(log)
        guard to <= UInt64(treeSize) else { throw AuditLogError.beyondTree(size: treeSize) }
        // Every tree extends the empty tree, and a tree extends itself: both proofs are empty (RFC 9162 §2.1.4).
        if from == 0 || from == to { return ConsistencyProof(oldSize: from, newSize: to, hashes: []) }
        let table = try await nodeTable(log, try ConsistencyProof.nodesNeeded(oldSize: from, newSize: to))
        return try ConsistencyProof(oldSize: from, newSize: to, nodes: table)
    }

    /// Fetches stored nodes in one round trip; a perfect subtree not stored as a node (it cannot happen in a
    /// log built by `sequence`) is an error, not a rescan.
    func nodeTable(_ log: AuditLogID, _ ids: [TreeNodeID]) async throws -> TreeNodeTable {
        let rows = try await store.read { s in try await s.nodes(log, ids.map { ($0.level, Int64($0.index)) }) }
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
    /// The request contradicts itself (an index at or past the size it names).
    case outOfRange(String)
    /// The request names leaves the log does not hold (yet): to its reader they do not exist.
    case beyondTree(size: Int64)
    /// There is no such log (a frozen log in a deployment that started with per-organization logs).
    case noSuchLog
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
        // A raised alert is sequenced at once, so its events reach the SIEM without waiting for the next round.
        let bell = Doorbell()
        log.store.alertWake.add(bell)
        defer { log.store.alertWake.remove(bell) }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // Catch up in batches first, so one checkpoint covers a backlog.
                var sequenced = 0
                while true {
                    let n = try await log.sequence()
                    sequenced += n
                    if n < 5000 { break }
                }
                if sequenced > 0 { log.sequenced.ring() }
                try await log.checkpointIfDue()
            } catch {
                logger.error("audit log sequencing failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { await bell.wait(upTo: interval) }
        }
    }
}
