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

    /// The organization's provisioning, then 39 events in 3 checkpoints, then the edit, then the verifier's report
    /// and the index of the 7th of the 39 (the one edited).
    func tampered(_ tamper: Tamper?, in which: AuditLogTests.Which) async throws -> (
        report: AuditVerifier.Report, target: Int64, seeded: Int64
    ) {
        try await TestWorld.with(.sqlite) { w in
            let log = w.parts.auditLog
            let org = which.owner(w)
            let logID = which.id(w)
            if which == .deployment {
                // The deployment's log opens with its genesis, as an organization's does.
                _ = try await log.identity(.deployment)
            }
            // The organization's log so far: its genesis and its provisioning.
            try await log.sequence()
            let seeded = try await log.size(logID)
            let target = seeded + 6
            for round in 0..<3 {
                for i in 0..<13 {
                    try await w.parts.store.write { s in
                        try await s.appendAudit(
                            AuditRecord(
                                occurredAt: Date(), type: "test.r\(round)", actor: .system, organizationId: org,
                                detail: ["i": String(i)]))
                    }
                }
                try #require(try await log.checkpointIfDue()[logID] != nil)
            }
            let key = "log_id = '\(logID.storageKey)'"
            let seqOfLeaf = { (i: Int64) async throws -> Int64 in
                try await w.parts.store.read { s in
                    try await s.leavesWithEvents(logID, from: i, limit: 1).first!.eventSeq
                }
            }
            let s7 = try await seqOfLeaf(target)
            let s8 = try await seqOfLeaf(target + 1)
            let s39 = try await seqOfLeaf(seeded + 38)
            let store = w.parts.store
            // Editing the file directly: the triggers go first.
            let drop = [
                "DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete",
                "DROP TRIGGER audit_events_pending",
                "DROP TRIGGER log_leaves_no_update", "DROP TRIGGER log_leaves_no_delete",
                "DROP TRIGGER log_checkpoints_no_update", "DROP TRIGGER log_checkpoints_no_delete",
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
                    try await s.leavesWithEvents(logID, from: target, limit: 1).first!.canonical!
                }
                let hex = Data(AuditCanonicalEncoding.leafHash([UInt8](canonical))).map { String(format: "%02x", $0) }
                    .joined()
                try await store.write { s in
                    try await s.execute("UPDATE audit_events SET leaf_hash = X'\(hex)' WHERE seq = \(s7)")
                    try await s.execute(
                        "UPDATE log_leaves SET leaf_hash = X'\(hex)' WHERE \(key) AND leaf_index = \(target)")
                }
            case .forgeCheckpoint:
                // The middle checkpoint (the provisioning's events and 2 × 13) claims one leaf more.
                let middle = seeded + 26
                try await store.write { s in
                    try await s.execute(
                        "UPDATE log_checkpoints SET note = REPLACE(note, char(10) || '\(middle)' || char(10), char(10) || '\(middle + 1)' || char(10)) WHERE \(key) AND size = \(middle)"
                    )
                }
                let notes = try await store.read { s in try await s.allCheckpoints(logID).map(\.note) }
                try #require(notes.contains { $0.contains("\n\(middle + 1)\n") }, "the forgery took place")
            case .truncateTail:
                try await store.write { s in
                    try await s.execute("DELETE FROM log_leaves WHERE \(key) AND leaf_index = \(seeded + 38)")
                    try await s.execute("DELETE FROM audit_events WHERE seq = \(s39)")
                }
            }
            let reports = try await AuditVerifier.all(store: store, publicKey: log.publicKey)
            let report = try #require(reports.first { !$0.ok } ?? reports.first { $0.log == logID })
            return (report, target, seeded)
        }
    }

    @Test("an untouched log verifies", arguments: AuditLogTests.Which.allCases)
    func intact(_ which: AuditLogTests.Which) async throws {
        let (report, _, seeded) = try await tampered(nil, in: which)
        #expect(report.ok, "\(String(describing: report.problem))")
        #expect(report.leaves == seeded + 39)
        #expect(report.checkpoints == 3)
    }

    @Test(
        "each kind of tampering is found in each log, with the first bad index",
        arguments: Tamper.allCases, AuditLogTests.Which.allCases)
    func found(_ tamper: Tamper, _ which: AuditLogTests.Which) async throws {
        let (report, target, seeded) = try await tampered(tamper, in: which)
        let problem = try #require(report.problem, "tampering went unnoticed")
        switch tamper {
        case .alterEvent, .deleteEvent, .reorderEvents:
            #expect(problem.index == target, "\(problem)")
        case .rewriteLeafConsistently:
            #expect(problem.index != nil && problem.index! <= target, "\(problem)")
            #expect(problem.message.contains("checkpoint"))
        case .insertEvent:
            #expect(problem.message.contains("inserted"), "\(problem)")
        case .forgeCheckpoint:
            #expect(problem.message.contains("checkpoint"), "\(problem)")
        case .truncateTail:
            #expect(problem.index == seeded + 38, "\(problem)")
        }
    }
}
