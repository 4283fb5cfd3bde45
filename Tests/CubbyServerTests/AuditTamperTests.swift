import CubbyAudit
import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Testing

@Suite("cubby audit verify finds tampering done behind the triggers' back")
struct AuditTamperTests {
    enum Tamper: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case alterEvent, deleteEvent, insertEvent, reorderEvents, rewriteLeafConsistently, forgeCheckpoint, truncateTail
        var testDescription: String { rawValue }
    }

    /// A log of 40 events in 3 checkpoints, then the edit, then the verifier's report.
    func tampered(_ tamper: Tamper?) async throws -> AuditVerifier.Report {
        try await TestWorld.with(.sqlite) { w in
            let log = w.parts.auditLog
            for round in 0..<3 {
                for i in 0..<13 {
                    try await w.parts.store.write { s in
                        try await s.appendAudit(
                            AuditRecord(
                                occurredAt: Date(), type: "test.r\(round)", actor: .system, detail: ["i": String(i)]))
                    }
                }
                try #require(try await log.checkpointIfDue() != nil)
            }
            let seqOfLeaf = { (i: Int64) async throws -> Int64 in
                try await w.parts.store.read { s in try await s.leavesWithEvents(from: i, limit: 1).first!.eventSeq }
            }
            let s7 = try await seqOfLeaf(7)
            let s8 = try await seqOfLeaf(8)
            let s39 = try await seqOfLeaf(39)
            let store = w.parts.store
            // Editing the file directly: the triggers go first.
            let drop = [
                "DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete",
                "DROP TRIGGER audit_events_pending",
                "DROP TRIGGER audit_leaves_no_update", "DROP TRIGGER audit_leaves_no_delete",
                "DROP TRIGGER checkpoints_no_update", "DROP TRIGGER checkpoints_no_delete",
            ]
            if tamper != nil { try await store.write { s in for d in drop { try await s.execute(d) } } }
            switch tamper {
            case nil: break
            case .alterEvent:
                try await store.write { s in
                    try await s.execute(
                        "UPDATE audit_events SET canonical = CAST(REPLACE(CAST(canonical AS TEXT), 'test.r0', 'test.rX') AS BLOB) WHERE seq = \(s7)"
                    )
                }
            case .deleteEvent:
                try await store.write { s in try await s.execute("DELETE FROM audit_events WHERE seq = \(s7)") }
            case .insertEvent:
                try await store.write { s in
                    try await s.execute(
                        "INSERT INTO audit_events (id, occurred_at, type, outcome, actor_kind, detail, canonical, leaf_hash) SELECT 'forged', occurred_at, type, outcome, actor_kind, detail, canonical, leaf_hash FROM audit_events WHERE seq = \(s8)"
                    )
                }
            case .reorderEvents:
                try await store.write { s in
                    try await s.execute("UPDATE audit_events SET seq = -1 WHERE seq = \(s7)")
                    try await s.execute("UPDATE audit_events SET seq = \(s7) WHERE seq = \(s8)")
                    try await s.execute("UPDATE audit_events SET seq = \(s8) WHERE seq = -1")
                }
            case .rewriteLeafConsistently:
                // Change an event and every stored hash that covers it, but not the signed checkpoints.
                try await store.write { s in
                    try await s.execute(
                        "UPDATE audit_events SET canonical = CAST(REPLACE(CAST(canonical AS TEXT), 'test.r0', 'test.rX') AS BLOB) WHERE seq = \(s7)"
                    )
                }
                let canonical = try await store.read { s in
                    try await s.leavesWithEvents(from: 7, limit: 1).first!.canonical!
                }
                let hex = Data(AuditCanonicalEncoding.leafHash([UInt8](canonical))).map { String(format: "%02x", $0) }
                    .joined()
                try await store.write { s in
                    try await s.execute("UPDATE audit_events SET leaf_hash = X'\(hex)' WHERE seq = \(s7)")
                    try await s.execute("UPDATE audit_leaves SET leaf_hash = X'\(hex)' WHERE leaf_index = 7")
                }
            case .forgeCheckpoint:
                // The middle checkpoint (27 leaves: the seeding event and 2 × 13) claims 28 leaves instead.
                try await store.write { s in
                    try await s.execute(
                        "UPDATE checkpoints SET note = REPLACE(note, char(10) || '27' || char(10), char(10) || '28' || char(10)) WHERE size = 27"
                    )
                }
                let notes = try await store.read { s in try await s.allCheckpoints().map(\.note) }
                try #require(notes.contains { $0.contains("\n28\n") }, "the forgery took place")
            case .truncateTail:
                try await store.write { s in
                    try await s.execute("DELETE FROM audit_leaves WHERE leaf_index = 39")
                    try await s.execute("DELETE FROM audit_events WHERE seq = \(s39)")
                }
            }
            return try await AuditVerifier(store: store, verifier: log.signer.verifier, origin: log.origin).run()
        }
    }

    @Test("an untouched log verifies")
    func intact() async throws {
        let report = try await tampered(nil)
        #expect(report.ok, "\(String(describing: report.problem))")
        #expect(report.leaves == 40)
        #expect(report.checkpoints == 3)
    }

    @Test("each kind of tampering is found, with the first bad index", arguments: Tamper.allCases)
    func found(_ tamper: Tamper) async throws {
        let report = try await tampered(tamper)
        let problem = try #require(report.problem, "tampering went unnoticed")
        switch tamper {
        case .alterEvent, .deleteEvent, .reorderEvents:
            #expect(problem.index == 7, "\(problem)")
        case .rewriteLeafConsistently:
            #expect(problem.index != nil && problem.index! <= 7, "\(problem)")
            #expect(problem.message.contains("checkpoint"))
        case .insertEvent:
            #expect(problem.message.contains("inserted"), "\(problem)")
        case .forgeCheckpoint:
            #expect(problem.message.contains("checkpoint"), "\(problem)")
        case .truncateTail:
            #expect(problem.index == 39, "\(problem)")
        }
    }
}
