import CubbyAudit
import CubbyStore
import Foundation

/// Recomputes the audit log from the database and checks it against its own signed checkpoints.
///
/// It finds events that were altered, deleted, inserted or reordered behind the triggers' back, and
/// checkpoints that were forged, and names the first bad leaf index.
public struct AuditVerifier: Sendable {
    public let store: any SQLStore
    public let verifier: NoteVerifier
    public let origin: String

    public init(store: any SQLStore, verifier: NoteVerifier, origin: String) {
        self.store = store
        self.verifier = verifier
        self.origin = origin
    }

    /// What a verification found.
    public struct Report: Sendable {
        public var leaves: Int64 = 0
        public var checkpoints = 0
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

    /// Streams every leaf once, in batches; memory stays O(log n).
    public func run(batch: Int = 10_000) async throws -> Report {
        var report = Report()
        let checkpoints = try await store.read { s in try await s.allCheckpoints() }
        var parsed: [(StoredCheckpoint, Checkpoint)] = []
        for c in checkpoints {
            do {
                let cp = try verifier.openCheckpoint(c.note, expectedOrigin: origin)
                guard Int64(cp.size) == c.size, Data(cp.rootHash.bytes) == c.root else {
                    report.problem = Problem(
                        index: nil,
                        message: "checkpoint at size \(c.size): stored size or root differ from the signed note")
                    return report
                }
                parsed.append((c, cp))
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
        // A checkpoint of the empty tree is checked before any leaf.
        func checkCheckpoints() -> Problem? {
            while next < parsed.count, parsed[next].1.size == frontier.size {
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
        for try await rows in AuditPages.leaves(store, batch: batch) {
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
                frontier.append(leafHash: hash)
                if let p = checkCheckpoints() {
                    report.problem = p
                    return report
                }
            }
        }
        report.leaves = Int64(frontier.size)
        if next < parsed.count {
            report.problem = Problem(
                index: Int64(frontier.size),
                message:
                    "a checkpoint covers \(parsed[next].1.size) leaves but the log holds only \(frontier.size): leaves were deleted"
            )
            return report
        }
        let outside = try await store.read { s in try await s.eventsOutsideLog(limit: 1) }
        if let seq = outside.first {
            report.problem = Problem(
                index: nil,
                message: "audit event seq \(seq) is in neither the log nor its queue: inserted behind the log's back")
        }
        return report
    }
}
