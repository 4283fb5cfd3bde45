import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation
import Testing

@Suite("A database written with one deployment-wide audit log, upgraded to one log per organization")
struct AuditUpgradeTests {
    /// `Tests/Fixtures/audit-before-organization-logs/sqlite`, made by `scripts/make-audit-fixture.sh` with the
    /// version before (schema 14): 8 events sequenced under checkpoints of 7 and 8 leaves, 1 still queued.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/audit-before-organization-logs/sqlite").path

    struct WitnessState: Decodable {
        var key: String
        var size: UInt64
        var rootHash: String
    }

    @Test("the frozen log keeps verifying; new logs begin with a genesis that names it; nothing is rewritten")
    func upgrade() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-upgrade-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for file in ["cubby.sqlite", "keys.json"] {
            try FileManager.default.copyItem(atPath: Self.fixture + "/" + file, toPath: dir + "/" + file)
        }
        let lakeside = try String(contentsOfFile: Self.fixture + "/lakeside.id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let harbor = try String(contentsOfFile: Self.fixture + "/harbor.id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let witness = try JSONDecoder().decode(
            WitnessState.self, from: Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/witness.json")))
        var settings = ServerSettings(database: .sqlite(path: dir + "/cubby.sqlite"), keysPath: dir + "/keys.json")
        // The fixture's version-2 key file is sealed on this first start.
        settings.keyProvider = try TestKEK.file(in: dir)
        let parts = try await buildParts(settings: settings, logger: TestWorld.logger)
        do {
            let log = parts.auditLog
            let oldLeaves = try await parts.store.read { s in try await s.leavesWithEvents(.frozen, from: 0, limit: 100)
            }
            #expect(oldLeaves.count == 8)
            // The first start seals the frozen log at its size and gives the queued event its organization's log.
            try await log.sequence()
            try await log.checkpointIfDue()
            let frozen = try #require(try await parts.store.read { s in try await s.auditLog(.frozen) })
            #expect(frozen.size == 8)
            #expect(frozen.origin == (try NoteVerifier(verifierKey: witness.key)).keyName)
            let final = try await log.latestCheckpoint(.frozen)
            #expect(final.size == 8)
            #expect(final.root == frozen.root)
            #expect(
                try await parts.store.read { s in try await s.leavesWithEvents(.frozen, from: 0, limit: 100) }.map(
                    \.leafHash) == oldLeaves.map(\.leafHash), "the frozen log's leaves are as they were")

            // A witness that followed the single log: the frozen log's final checkpoint extends what it saw.
            let verifier = try NoteVerifier(verifierKey: witness.key)
            let finalCheckpoint = try verifier.openCheckpoint(final.note, expectedOrigin: verifier.keyName)
            let proof = try await log.consistencyProof(.frozen, from: witness.size, to: finalCheckpoint.size)
            try proof.verify(
                oldRoot: try #require(TreeHash(base64: witness.rootHash)), newRoot: finalCheckpoint.rootHash)

            // Lakeside's queued event opened its log; its leaf 0 is the genesis naming the frozen log.
            let lakesideLog = AuditLogID.organization(try #require(OrganizationID(uuidString: lakeside)))
            let events = try await parts.store.read { s in try await s.sequencedEvents(lakesideLog, from: 0, limit: 10)
            }
            #expect(events.map(\.1.type) == ["log.genesis", "carrier.created"])
            let genesis = try #require(events.first?.1.detailMap)
            #expect(genesis["frozenOrigin"] == frozen.origin)
            #expect(genesis["frozenSize"] == "8")
            #expect(genesis["frozenRoot"] == frozen.root?.base64EncodedString())
            #expect(genesis["origin"] == (try await log.identity(lakesideLog)).origin)
            // Harbor had nothing queued: its log opens when it is first asked for, with the same genesis.
            let harborLog = AuditLogID.organization(try #require(OrganizationID(uuidString: harbor)))
            _ = try await log.latestCheckpoint(harborLog)

            var reports = try await AuditVerifier.all(store: parts.store, publicKey: log.publicKey)
            #expect(Set(reports.map(\.log)) == [.frozen, lakesideLog, harborLog])
            #expect(reports.allSatisfy { $0.ok }, "\(reports.compactMap(\.problem))")
            // Its own checkpoints of 7 and 8 leaves: the last one already covered its final size.
            #expect(reports.first { $0.log == .frozen }?.checkpoints == 2)

            // The frozen log takes no new leaf, and its history is still guarded.
            await #expect(throws: (any Error).self) {
                try await parts.store.write { s in
                    try await s.execute(
                        "INSERT INTO audit_leaves (leaf_index, event_seq, leaf_hash) VALUES (8, 999, X'00')")
                }
            }
            try await parts.store.write { s in
                try await s.execute("DROP TRIGGER audit_events_no_update")
                try await s.execute(
                    "UPDATE audit_events SET canonical = CAST(REPLACE(CAST(canonical AS TEXT), 'staff.invited', 'staff.inviteX') AS BLOB) WHERE seq = (SELECT event_seq FROM audit_leaves WHERE leaf_index = 3)"
                )
            }
            reports = try await AuditVerifier.all(store: parts.store, publicKey: log.publicKey, only: .frozen)
            let problem = try #require(reports.first?.problem)
            #expect(problem.index == 3, "\(problem)")
        } catch {
            await parts.store.close()
            throw error
        }
        await parts.store.close()
    }
}
