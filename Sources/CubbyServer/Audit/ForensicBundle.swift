import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import ZIPFoundation

/// Which audit events an export or a bundle takes: a time range (turned into a range of leaves) and, within it, one
/// unit, one event type and one actor, each optional.
public struct AuditFilter: Sendable, Equatable {
    /// Events at or after this time (ms since 1970), and before `toMs`.
    public var fromMs: Int64?
    public var toMs: Int64?
    public var unitId: String?
    public var type: String?
    /// An actor's id: a staff account, a credential, a unit.
    public var actorId: String?

    public init(
        fromMs: Int64? = nil, toMs: Int64? = nil, unitId: String? = nil, type: String? = nil, actorId: String? = nil
    ) {
        self.fromMs = fromMs
        self.toMs = toMs
        self.unitId = unitId
        self.type = type
        self.actorId = actorId
    }

    public func matches(_ e: StoredAuditEvent) -> Bool {
        (unitId == nil || e.unitId == unitId) && (type == nil || e.type == type)
            && (actorId == nil || e.actorId == actorId)
    }

    /// The leaves of `log` the time range covers: `from..<to`.
    public func leaves(_ store: any SQLStore, log: AuditLogID) async throws -> (from: Int64, to: Int64) {
        // A time after the last event is the end of the log, for either bound.
        var from: Int64 = 0
        var to: Int64 = .max
        if let ms = fromMs { from = try await store.read { s in try await s.firstLeaf(log, atOrAfter: ms) } ?? .max }
        if let ms = toMs { to = try await store.read { s in try await s.firstLeaf(log, atOrAfter: ms) } ?? .max }
        return (from, to)
    }

    /// The filter as audit detail fields (only those that are set).
    public var detail: [String: String] {
        var d: [String: String] = [:]
        if let fromMs { d["from"] = AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: fromMs)) }
        if let toMs { d["to"] = AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: toMs)) }
        if let unitId { d["unit"] = unitId }
        if let type { d["eventType"] = type }
        if let actorId { d["actor"] = actorId }
        return d
    }
}

/// A forensic bundle of one log's events, built from the database: the events a filter takes (and a reader may see),
/// each with its inclusion proof under the newest checkpoint, that checkpoint, the log's key, and the evidence files
/// the events name. The console (`cubby audit bundle`) and the portal both make theirs here.
public struct ForensicBundleBuilder: Sendable {
    let log: AuditLog
    let store: any SQLStore
    /// Open the stills, which the database holds sealed.
    let keys: LockerKeys

    public init(log: AuditLog, store: any SQLStore, keys: LockerKeys) {
        self.log = log
        self.store = store
        self.keys = keys
    }

    public struct Built: Sendable {
        public var bundle: EvidenceBundle
        public var events: Int
        public var firstIndex: Int64?
        public var lastIndex: Int64?
        public var checkpointSize: Int64
        public var evidenceFiles: Int
        public var verifierKey: String
    }

    /// Why a bundle could not be made.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case noEvents(checkpointSize: Int64)
        case tooMany(Int)
        case missingEvidence(index: Int64, sha256: String, directory: String)
        case archive

        public var description: String {
            switch self {
            case .noEvents(let size): "no events in that range under the latest checkpoint (\(size) leaves)"
            case .tooMany(let n): "more than \(n) events: choose a shorter range"
            case .missingEvidence(let index, let hash, let dir):
                "event \(index) refers to evidence \(hash), which is neither in the database nor in \(dir)"
            case .archive: "the ZIP archive could not be written"
            }
        }
    }

    /// Builds the bundle of `target`'s leaves `from..<to` that `include` takes, at most `limit` events. What was
    /// committed is sequenced and put under a fresh checkpoint first.
    public func build(
        _ target: AuditLogID, organization: String?, from: Int64, to: Int64, limit: Int = 100_000,
        evidenceDirectory: String? = nil, include: @Sendable (StoredAuditEvent) -> Bool = { _ in true }
    ) async throws -> Built {
        while try await log.sequence() > 0 {}
        try await log.checkpointIfDue()
        let checkpoint = try await log.latestCheckpoint(target)
        let identity = try await log.identity(target)
        let end = min(to, checkpoint.size)
        guard from < end else { throw Failure.noEvents(checkpointSize: checkpoint.size) }
        var items: [EvidenceBundle.Item] = []
        var evidence: [String: Data] = [:]
        for try await batch in AuditPages.events(store, log: target, from: from, to: end, organization: organization) {
            for (index, e) in batch where include(e) {
                guard items.count < limit else { throw Failure.tooMany(limit) }
                let row = e.exportRow(index: index)
                let proof = try await log.inclusionProof(target, index: UInt64(index), size: UInt64(checkpoint.size))
                items.append(EvidenceBundle.Item(row: row, proof: proof.proof.hashes))
                guard let hash = row.detail[EvidenceBundle.evidenceKey], evidence[hash] == nil else { continue }
                // Units' stills are in the database; other evidence may be files named by their hash.
                if let stored = try await store.read({ s in try await s.evidence(sha256: hash) }) {
                    evidence[hash] = try keys.openEvidence(stored.bytes, sha256: hash)
                } else if let dir = evidenceDirectory, let data = FileManager.default.contents(atPath: dir + "/" + hash)
                {
                    evidence[hash] = data
                } else {
                    throw Failure.missingEvidence(index: index, sha256: hash, directory: evidenceDirectory ?? "—")
                }
            }
        }
        guard !items.isEmpty else { throw Failure.noEvents(checkpointSize: checkpoint.size) }
        let bundle = try EvidenceBundle.make(
            items: items, treeSize: UInt64(checkpoint.size), checkpointNote: checkpoint.note,
            verifierKey: identity.verifierKey, evidence: evidence,
            keyHistory: target == .frozen ? [] : try await log.keyHistory(target, size: checkpoint.size))
        return Built(
            bundle: bundle, events: items.count, firstIndex: items.first?.row.index, lastIndex: items.last?.row.index,
            checkpointSize: checkpoint.size, evidenceFiles: evidence.count, verifierKey: identity.verifierKey)
    }

    /// The bundle's files as a ZIP archive (deflated, in name order).
    public static func zip(_ bundle: EvidenceBundle) throws -> Data {
        let archive = try Archive(accessMode: .create)
        for name in bundle.files.keys.sorted() {
            let data = bundle.files[name]!
            try archive.addEntry(
                with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate
            ) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        guard let data = archive.data else { throw Failure.archive }
        return data
    }
}
