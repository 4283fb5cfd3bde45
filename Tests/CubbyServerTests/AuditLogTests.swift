import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("The verifiable audit log")
struct AuditLogTests {
    /// Writes `n` audit events, each in its own transaction.
    static func events(_ store: any SQLStore, _ n: Int, tag: String) async throws {
        for i in 0..<n {
            try await store.write { s in
                try await s.appendAudit(
                    AuditRecord(occurredAt: Date(), type: "test.\(tag)", actor: .system, detail: ["i": String(i)]))
            }
        }
    }

    @Test(
        "leaf indexes are gap-free; checkpoints are signed; every inclusion and consistency proof verifies",
        arguments: Backend.available)
    func proofs(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let log = w.parts.auditLog
            let verifier = try NoteVerifier(verifierKey: log.verifierKey)
            var checkpoints: [Checkpoint] = []
            for round in 0..<4 {
                try await Self.events(w.parts.store, 7 + round * 5, tag: "r\(round)")
                let c = try #require(try await log.checkpointIfDue())
                checkpoints.append(try verifier.openCheckpoint(c.note, expectedOrigin: log.origin))
            }
            #expect(try await log.checkpointIfDue() == nil, "no new checkpoint without new events")
            let size = try #require(checkpoints.last?.size)
            let leaves = try await w.parts.store.read { s in try await s.leavesWithEvents(from: 0, limit: 10_000) }
            #expect(leaves.map(\.index) == Array(0..<Int64(size)))
            #expect(Set(leaves.map(\.eventSeq)).count == leaves.count)
            for leaf in leaves {
                #expect(leaf.leafHash == leaf.eventLeafHash)
                #expect(leaf.leafHash == Data(AuditCanonicalEncoding.leafHash([UInt8](leaf.canonical!))))
            }
            for c in checkpoints {
                for index in stride(from: 0, to: c.size, by: 3) {
                    let (leaf, proof) = try await log.inclusionProof(index: index, size: c.size)
                    try proof.verify(leafHash: leaf, rootHash: c.rootHash)
                }
            }
            for (a, b) in zip(checkpoints, checkpoints.dropFirst()) {
                let proof = try await log.consistencyProof(from: a.size, to: b.size)
                try proof.verify(oldRoot: a.rootHash, newRoot: b.rootHash)
            }
            await #expect(throws: AuditLogError.self) { _ = try await log.inclusionProof(index: size, size: size) }
            await #expect(throws: AuditLogError.self) { _ = try await log.consistencyProof(from: 1, to: size + 1) }
        }
    }

    @Test("an idle log still signs a fresh checkpoint each hour, over a heartbeat event")
    func heartbeat() async throws {
        try await TestWorld.with(.sqlite) { w in
            let log = w.parts.auditLog
            let first = try #require(try await log.checkpointIfDue())
            w.clock.advance(3599)
            #expect(try await log.checkpointIfDue() == nil)
            w.clock.advance(2)
            let second = try #require(try await log.checkpointIfDue())
            #expect(second.size == first.size + 1)
            let last = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000).last }
            #expect(last?.type == "log.heartbeat")
        }
    }

    @Test(
        "several processes writing and sequencing at once still give one gap-free order", arguments: Backend.available)
    func concurrentWriters(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            // Other "processes": their own store connections and their own AuditLog on the same database.
            var others: [(any SQLStore, AuditLog)] = []
            for _ in 0..<3 {
                let store = try await StoreFactory.open(w.settings.database, logger: TestWorld.logger)
                let keys = try ServerKeys.load(path: w.settings.keysPath)
                others.append(
                    (
                        store,
                        try AuditLog(
                            store: store, signingKey: keys.checkpointSigningKey, origin: w.parts.auditLog.origin)
                    ))
            }
            let all = [(w.parts.store, w.parts.auditLog)] + others
            try await withThrowingTaskGroup(of: Void.self) { g in
                for (n, (store, log)) in all.enumerated() {
                    g.addTask {
                        for i in 0..<15 {
                            try await Self.events(store, 2, tag: "p\(n)-\(i)")
                            if i % 4 == 0 { try await log.sequence() }
                        }
                        try await log.sequence()
                    }
                }
                try await g.waitForAll()
            }
            try await w.parts.auditLog.sequence()
            let c = try #require(try await w.parts.auditLog.checkpointIfDue())
            let leaves = try await w.parts.store.read { s in try await s.leavesWithEvents(from: 0, limit: 100_000) }
            let eventCount = try await w.counts().audit
            #expect(leaves.count == eventCount, "every event has exactly one leaf")
            #expect(leaves.map(\.index) == Array(0..<Int64(leaves.count)), "no gaps, no repeats")
            #expect(Set(leaves.map(\.eventSeq)).count == leaves.count)
            #expect(c.size == Int64(leaves.count))
            let rebuilt = MerkleTree.rootHash(leafHashes: leaves.map { TreeHash(bytes: $0.leafHash)! })
            #expect(Data(rebuilt.bytes) == c.root)
            for (store, _) in others { await store.close() }
        }
    }

    @Test("the audit API: checkpoint as signed text, the verifier key, proofs that verify")
    func api() async throws {
        try await TestWorld.with(.sqlite) { w in
            // Every event so far is the organization's own: its provisioning.
            let provisioning = try await w.counts().audit
            try await Self.events(w.parts.store, 9, tag: "api")
            let admin = w.manifest.adminToken
            try await w.test { c in
                let keyResponse = try await c.call(.get, "/api/v1/audit/key", token: admin)
                #expect(keyResponse.status == 200)
                let key = try #require(keyResponse.body.str("key"))
                let origin = try #require(keyResponse.body.str("origin"))
                #expect(key.hasPrefix(origin + "+"))
                let cp = try await c.call(.get, "/api/v1/audit/checkpoint", token: admin)
                #expect(cp.status == 200)
                #expect(cp.headers[.contentType]?.hasPrefix("text/plain") == true)
                let checkpoint = try NoteVerifier(verifierKey: key).openCheckpoint(
                    String(decoding: cp.data, as: UTF8.self), expectedOrigin: origin)
                #expect(checkpoint.size >= 10)
                let inc = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=3&size=\(checkpoint.size)", token: admin)
                #expect(inc.status == 200)
                let proof = InclusionProof(
                    leafIndex: 3, treeSize: checkpoint.size,
                    hashes: (inc.body["proof"] as? [String] ?? []).compactMap { TreeHash(base64: $0) })
                try proof.verify(
                    leafHash: try #require(TreeHash(base64: inc.body.str("leafHash") ?? "")),
                    rootHash: checkpoint.rootHash)
                // Leaf 0 is the organization's creation; the test events above belong to no organization and are
                // not shown to the organization's administrator.
                let events = try await c.call(.get, "/api/v1/audit/events?from=0&limit=100", token: admin)
                let listed = try #require(events.body["events"] as? [[String: Any]])
                #expect(listed.count == provisioning)
                #expect(listed.first?["index"] as? Int == 0)
                #expect(listed.first?["type"] as? String == "organization.created")
                let zero = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=0&size=\(checkpoint.size)", token: admin)
                #expect(listed.first?["leafHash"] as? String == zero.body.str("leafHash"))
                let bad = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=\(checkpoint.size)&size=\(checkpoint.size)", token: admin
                )
                #expect(bad.status == 400)
                #expect(
                    try await c.call(.get, "/api/v1/audit/checkpoint", token: w.manifest.courierToken).status == 403)
                // The auditor reads the log and nothing else.
                let auditor = w.manifest.auditorToken
                #expect(try await c.call(.get, "/api/v1/audit/checkpoint", token: auditor).status == 200)
                #expect(
                    try await c.call(
                        .get, "/api/v1/audit/proof/consistency?from=1&to=\(checkpoint.size)", token: auditor
                    ).status == 200)
                #expect(try await c.call(.get, "/api/v1/units/\(w.unit)", token: auditor).status == 403)
                #expect(
                    try await c.call(.post, "/api/v1/units/\(w.unit)/pin-entry/resume", token: auditor).status == 403)
                #expect(try await c.call(.get, "/api/v1/audit/checkpoint").status == 401)
            }
        }
    }
}
