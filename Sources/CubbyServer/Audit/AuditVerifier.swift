import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// Recomputes an audit log from the database and checks it against its own signed checkpoints.
///
/// It finds events that were altered, deleted, inserted or reordered behind the triggers' back, checkpoints
/// that were forged, events filed in another organization's log, and a genesis that does not link the log to
/// the frozen one, and names the first bad leaf index.
public struct AuditVerifier: Sendable {
    public let store: any SQLStore
    public let log: AuditLogID
    public let verifier: NoteVerifier
    public let origin: String
    /// What the genesis event must say about the frozen log (nil: that there is none).
    public let frozen: FrozenLog?

    /// The frozen log as a new log's genesis names it.
    public struct FrozenLog: Sendable, Equatable {
        public var origin: String
        public var size: Int64
        public var root: Data
        public init(origin: String, size: Int64, root: Data) {
            self.origin = origin
            self.size = size
            self.root = root
        }
    }

    /// Checkpoint keys the deployment log's verified history holds (its first key and each rotation's): a log opened
    /// after a rotation starts with the key its genesis names, which must be one of them.
    public let knownKeys: [Curve25519.Signing.PublicKey]

    /// A verifier of one log; `verifier` holds the key the log's history starts with (the key file's).
    public init(
        store: any SQLStore, log: AuditLogID, verifier: NoteVerifier, origin: String, frozen: FrozenLog? = nil,
        knownKeys: [Curve25519.Signing.PublicKey] = []
    ) {
        self.store = store
        self.log = log
        self.verifier = verifier
        self.origin = origin
        self.frozen = frozen
        self.knownKeys = knownKeys
    }

    /// What a verification found.
    public struct Report: Sendable {
        public var log: AuditLogID
        public var origin: String
        public var leaves: Int64 = 0
        public var checkpoints = 0
        /// The recomputed root hash of the whole log.
        public var root = Data()
        /// The checkpoint keys in the order the log's history puts them in force: its first key, then each rotation's.
        public var keys: [Curve25519.Signing.PublicKey] = []
        /// The first problem, with the leaf index it concerns when there is one.
        public var problem: Problem?
        public var ok: Bool { problem == nil }
    }

    /// A failed check.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var index: Int64?
        public var message: String
        public var description: String { index.map { "leaf \($0): \(message)" } ?? message }
    }

    /// The top-level fields of an event's canonical bytes that say which log it belongs in.
    struct Placement: Decodable {
        var type: String
        var org: String?
        var detail: [String: String]?
    }

    /// Streams every leaf once, in batches; memory stays O(log n).
    public func run(batch: Int = 10_000) async throws -> Report {
        var report = Report(log: log, origin: origin)
        let checkpoints = try await store.read { s in try await s.allCheckpoints(log) }
        var parsed: [(StoredCheckpoint, Checkpoint, SignedNote)] = []
        for c in checkpoints {
            do {
                let note = try SignedNote(parsing: c.note)
                let cp = try Checkpoint(text: note.text)
                guard cp.origin == origin else { throw CheckpointError.unexpectedOrigin(cp.origin) }
                guard Int64(cp.size) == c.size, Data(cp.rootHash.bytes) == c.root else {
                    report.problem = Problem(
                        index: nil,
                        message: "checkpoint at size \(c.size): stored size or root differ from the signed note")
                    return report
                }
                parsed.append((c, cp, note))
            } catch {
                report.problem = Problem(
                    index: nil, message: "checkpoint at size \(c.size): signature does not verify (\(error))")
                return report
            }
        }
        report.checkpoints = parsed.count
        var next = 0
        var frontier = MerkleFrontier()
        var lastGood: Int64 = 0
        // The key in force for the next checkpoint, the keys rotations since the last checkpoint replaced (each must
        // sign it, vouching for its successor), and every key replaced so far with the leaf of its rotation.
        var current = verifier
        var vouching: [(key: NoteVerifier, index: Int64)] = []
        var retired: [(key: NoteVerifier, index: Int64)] = []
        report.keys = [verifier.publicKey]
        func keyId(_ v: NoteVerifier) -> String { SigningKeySeal.keyId(v.publicKey) }
        // A checkpoint is good when the key in force for its size signed it, and so did every key replaced since the
        // checkpoint before; checked when the tree reaches its size, since rotations inside the tree decide the key.
        func checkSignatures(_ note: SignedNote, size: UInt64) -> Problem? {
            do { try current.verify(note) } catch {
                if let old = retired.last(where: { (try? $0.key.verify(note)) != nil }) {
                    return Problem(
                        index: nil,
                        message:
                            "checkpoint at size \(size) is signed only by the retired key \(keyId(old.key)), which the rotation at leaf \(old.index) replaced; the key in force is \(keyId(current))"
                    )
                }
                return Problem(
                    index: nil,
                    message:
                        "checkpoint at size \(size) is not signed by the log's key for that size (\(keyId(current))): signature does not verify (\(error))"
                )
            }
            for old in vouching where (try? old.key.verify(note)) == nil {
                return Problem(
                    index: old.index,
                    message:
                        "the rotation from key \(keyId(old.key)) is not vouched for: the first checkpoint covering it (size \(size)) lacks that key's signature"
                )
            }
            vouching = []
            return nil
        }
        // A checkpoint of the empty tree is checked before any leaf.
        func checkCheckpoints() -> Problem? {
            while next < parsed.count, parsed[next].1.size == frontier.size {
                if let p = checkSignatures(parsed[next].2, size: frontier.size) { return p }
                if frontier.rootHash() != parsed[next].1.rootHash {
                    return Problem(
                        index: lastGood,
                        message:
                            "the tree of \(frontier.size) leaves differs from its signed checkpoint; the first bad leaf is at or after index \(lastGood)"
                    )
                }
                lastGood = Int64(frontier.size)
                next += 1
            }
            return nil
        }
        if let p = checkCheckpoints() {
            report.problem = p
            return report
        }
        let decoder = JSONDecoder()
        for try await rows in AuditPages.leaves(store, log: log, batch: batch) {
            for row in rows {
                let expected = Int64(frontier.size)
                guard row.index == expected else {
                    report.problem = Problem(
                        index: expected, message: "leaf missing: the next stored leaf has index \(row.index)")
                    return report
                }
                guard let canonical = row.canonical else {
                    report.problem = Problem(
                        index: row.index, message: "the event of this leaf (seq \(row.eventSeq)) was deleted")
                    return report
                }
                let recomputed = TreeHash.leaf(canonical)
                guard let hash = TreeHash(bytes: row.leafHash), hash == recomputed else {
                    report.problem = Problem(
                        index: row.index,
                        message: "the event's bytes (seq \(row.eventSeq)) do not hash to the leaf: altered or reordered"
                    )
                    return report
                }
                guard row.eventLeafHash == row.leafHash else {
                    report.problem = Problem(
                        index: row.index, message: "the event's stored leaf hash differs from the log's")
                    return report
                }
                if log != .frozen {
                    // Leaf 0 (the genesis, whose detail is checked) is decoded whole; the others only read.
                    let placement =
                        row.index == 0
                        ? try? decoder.decode(Placement.self, from: canonical)
                        : CanonicalFields.strings(canonical, ["type", "org"]).flatMap { fields in
                            fields["type"].map { Placement(type: $0, org: fields["org"], detail: nil) }
                        } ?? (try? decoder.decode(Placement.self, from: canonical))
                    if let problem = check(placement, at: row.index) {
                        report.problem = problem
                        return report
                    }
                    // A log opened after a rotation starts with the key its genesis names.
                    if row.index == 0, let named = placement?.detail?["signingKey"] {
                        guard let raw = Data(base64Encoded: named),
                            let key = knownKeys.first(where: { $0.rawRepresentation == raw })
                        else {
                            report.problem = Problem(
                                index: 0,
                                message:
                                    "the genesis names the signing key \(named), which is not in the deployment log's key history"
                            )
                            return report
                        }
                        current = try NoteVerifier(keyName: origin, publicKey: key)
                        report.keys = [key]
                    }
                    if placement?.type == KeyRotationEvent.type {
                        let rotation: KeyRotationEvent?
                        do { rotation = try KeyRotationEvent.parse(canonical) } catch {
                            report.problem = Problem(index: row.index, message: "\(error)")
                            return report
                        }
                        if let rotation, rotation.purpose == SigningKeyPurpose.checkpoint.rawValue {
                            guard rotation.oldKey.rawRepresentation == current.publicKey.rawRepresentation else {
                                report.problem = Problem(
                                    index: row.index,
                                    message:
                                        "a log.key_rotated event replaces the key \(SigningKeySeal.keyId(rotation.oldKey)), but the key in force is \(keyId(current)): forged"
                                )
                                return report
                            }
                            vouching.append((current, row.index))
                            retired.append((current, row.index))
                            current = try NoteVerifier(keyName: origin, publicKey: rotation.newKey)
                            report.keys.append(rotation.newKey)
                        }
                    }
                }
                frontier.append(leafHash: hash)
                if let p = checkCheckpoints() {
                    report.problem = p
                    return report
                }
            }
        }
        report.leaves = Int64(frontier.size)
        report.root = Data(frontier.rootHash().bytes)
        if next < parsed.count {
            report.problem = Problem(
                index: Int64(frontier.size),
                message:
                    "a checkpoint covers \(parsed[next].1.size) leaves but the log holds only \(frontier.size): leaves were deleted"
            )
        }
        return report
    }

    /// An event's place in this log: it belongs to the log's organization (or to none, in the deployment log),
    /// and leaf 0 is the genesis naming this log's origin and the frozen log.
    func check(_ placement: Placement?, at index: Int64) -> Problem? {
        guard let placement else { return Problem(index: index, message: "the event's canonical bytes do not parse") }
        let owner: String? =
            switch log {
            case .organization(let id): id.uuid.idString
            default: nil
            }
        guard placement.org == owner else {
            return Problem(
                index: index,
                message:
                    "the event belongs to \(placement.org.map { "organization \($0)" } ?? "no organization"), not in \(log)"
            )
        }
        let isGenesis = placement.type == AuditEventType.logGenesis.rawValue
        guard isGenesis == (index == 0) else {
            return Problem(
                index: index,
                message: isGenesis ? "a second genesis event" : "the log does not begin with its genesis event")
        }
        guard isGenesis else { return nil }
        let detail = placement.detail ?? [:]
        guard detail["origin"] == origin else {
            return Problem(
                index: 0, message: "the genesis names the origin \(detail["origin"] ?? "none"), not \(origin)")
        }
        let named = detail["frozenOrigin"].map {
            FrozenLog(
                origin: $0, size: Int64(detail["frozenSize"] ?? "") ?? -1,
                root: Data(base64Encoded: detail["frozenRoot"] ?? "") ?? Data())
        }
        guard named == frozen else {
            return Problem(
                index: 0,
                message:
                    "the genesis names the frozen log as \(named.map { "\($0.origin) of \($0.size) leaves" } ?? "absent"), but it is \(frozen.map { "\($0.origin) of \($0.size) leaves" } ?? "absent")"
            )
        }
        return nil
    }

    /// The schema version that gave each organization its own log.
    static let organizationLogsVersion = 15

    /// Verifies every log of the deployment, the frozen one first (its recomputed root must be the one every
    /// genesis names), then checks that no event lies outside all logs. `trusted` replaces the key file's key.
    public static func all(
        store: any SQLStore, publicKey: Curve25519.Signing.PublicKey, only: AuditLogID? = nil, batch: Int = 10_000
    ) async throws -> [Report] {
        guard try await Migrator.appliedVersions(store).contains(Self.organizationLogsVersion) else {
            // A database of an earlier version, not yet opened by this one: its one log is checked as it is.
            guard let latest = try await store.read({ s in try await s.latestCheckpoint(.frozen) }),
                let origin = latest.note.split(separator: "\n").first.map(String.init)
            else { return [] }
            return [
                try await AuditVerifier(
                    store: store, log: .frozen, verifier: try NoteVerifier(keyName: origin, publicKey: publicKey),
                    origin: origin
                ).run(batch: batch)
            ]
        }
        let states = try await store.read { s in try await s.auditLogs() }
        var frozen: FrozenLog? = nil
        var reports: [Report] = []
        if let f = states.first(where: { $0.log == .frozen }) {
            // Sealed on the server's first start after the upgrade; before that its origin is its checkpoints'.
            let latest = try await store.read { s in try await s.latestCheckpoint(.frozen) }
            guard let origin = f.origin ?? latest?.note.split(separator: "\n").first.map(String.init) else {
                throw AuditLogError.noSuchLog
            }
            if only == nil || only == .frozen {
                var r = try await AuditVerifier(
                    store: store, log: .frozen, verifier: try NoteVerifier(keyName: origin, publicKey: publicKey),
                    origin: origin
                ).run(batch: batch)
                if r.ok, r.leaves != f.size || (f.root.map { $0 != r.root } ?? false) {
                    r.problem = Problem(
                        index: nil,
                        message:
                            "the frozen log recomputes to \(r.leaves) leaves and another root than it was frozen with (\(f.size) leaves)"
                    )
                }
                reports.append(r)
            }
            if let root = f.root { frozen = FrozenLog(origin: origin, size: f.size, root: root) }
        }
        // The deployment log first: its key history (every checkpoint key, each vouched for by the one before) is
        // where a log opened after a rotation finds the key its genesis names.
        var knownKeys = [publicKey]
        let ordered = states.filter { $0.log == .deployment } + states.filter { $0.log != .deployment }
        for state in ordered where state.log != .frozen {
            guard let origin = state.origin else { continue }
            let wanted = only == nil || only == state.log
            guard wanted || (state.log == .deployment && only != .frozen) else { continue }
            let report = try await AuditVerifier(
                store: store, log: state.log, verifier: try NoteVerifier(keyName: origin, publicKey: publicKey),
                origin: origin, frozen: frozen, knownKeys: knownKeys
            ).run(batch: batch)
            if state.log == .deployment, report.ok { knownKeys = report.keys }
            if wanted { reports.append(report) }
        }
        if only == nil {
            let outside = try await store.read { s in try await s.eventsOutsideLog(limit: 1) }
            if let seq = outside.first {
                var r = Report(log: .deployment, origin: "every log")
                r.problem = Problem(
                    index: nil,
                    message: "audit event seq \(seq) is in no log nor in the queue: inserted behind the logs' back")
                reports.append(r)
            }
        }
        return reports
    }
}
