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
    /// Writes `n` audit events of `organization` (nil: of none), each in its own transaction.
    static func events(_ store: any SQLStore, _ n: Int, tag: String, organization: UUID? = nil) async throws {
        for i in 0..<n {
            try await store.write { s in
                try await s.appendAudit(
                    AuditRecord(
                        occurredAt: Date(), type: "test.\(tag)", actor: .system, organizationId: organization,
                        detail: ["i": String(i)]))
            }
        }
    }

    /// The checked logs: the test organization's and the deployment's.
    enum Which: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case organization, deployment
        var testDescription: String { rawValue }
        func id(_ w: TestWorld) -> AuditLogID {
            self == .deployment ? .deployment : .organization(OrganizationID(uuidString: w.manifest.organizationId)!)
        }
        func owner(_ w: TestWorld) -> UUID? { self == .deployment ? nil : UUID(uuidString: w.manifest.organizationId) }
    }

    @Test(
        "in each log, leaf indexes are gap-free; checkpoints are signed; every inclusion and consistency proof verifies",
        arguments: Backend.available, Which.allCases)
    func proofs(_ backend: Backend, _ which: Which) async throws {
        try await TestWorld.with(backend) { w in
            let log = w.parts.auditLog
            let target = which.id(w)
            let identity = try await log.identity(target)
            let verifier = try NoteVerifier(verifierKey: identity.verifierKey)
            var checkpoints: [Checkpoint] = []
            for round in 0..<4 {
                try await Self.events(w.parts.store, 7 + round * 5, tag: "r\(round)", organization: which.owner(w))
                // The other log grows too, and stays apart.
                try await Self.events(
                    w.parts.store, 2, tag: "other\(round)", organization: which == .deployment ? which.owner(w) : nil)
                let c = try #require(try await log.checkpointIfDue()[target])
                checkpoints.append(try verifier.openCheckpoint(c.note, expectedOrigin: identity.origin))
            }
            #expect(try await log.checkpointIfDue().isEmpty, "no new checkpoint without new events")
            let size = try #require(checkpoints.last?.size)
            let leaves = try await w.parts.store.read { s in
                try await s.leavesWithEvents(target, from: 0, limit: 10_000)
            }
            #expect(leaves.map(\.index) == Array(0..<Int64(size)))
            #expect(Set(leaves.map(\.eventSeq)).count == leaves.count)
            for leaf in leaves {
                #expect(leaf.leafHash == leaf.eventLeafHash)
                #expect(leaf.leafHash == Data(AuditCanonicalEncoding.leafHash([UInt8](leaf.canonical!))))
            }
            for c in checkpoints {
                for index in stride(from: 0, to: c.size, by: 3) {
                    let (leaf, proof) = try await log.inclusionProof(target, index: index, size: c.size)
                    try proof.verify(leafHash: leaf, rootHash: c.rootHash)
                }
            }
            for (a, b) in zip(checkpoints, checkpoints.dropFirst()) {
                let proof = try await log.consistencyProof(target, from: a.size, to: b.size)
                try proof.verify(oldRoot: a.rootHash, newRoot: b.rootHash)
            }
            await #expect(throws: AuditLogError.self) {
                _ = try await log.inclusionProof(target, index: size, size: size)
            }
            await #expect(throws: AuditLogError.beyondTree(size: Int64(size))) {
                _ = try await log.inclusionProof(target, index: 1, size: size + 1)
            }
            await #expect(throws: AuditLogError.beyondTree(size: Int64(size))) {
                _ = try await log.consistencyProof(target, from: 1, to: size + 1)
            }
            let reports = try await AuditVerifier.all(store: w.parts.store, publicKey: log.publicKey)
            #expect(reports.allSatisfy { $0.ok }, "\(reports.map { String(describing: $0.problem) })")
            #expect(Set(reports.map(\.log)) == [.deployment, which == .deployment ? Which.organization.id(w) : target])
        }
    }

    @Test("an idle log still signs a fresh checkpoint each hour, over a heartbeat event of its own")
    func heartbeat() async throws {
        try await TestWorld.with(.sqlite) { w in
            let log = w.parts.auditLog
            let org = Which.organization.id(w)
            try await Self.events(w.parts.store, 1, tag: "deployment")
            let first = try await log.checkpointIfDue()
            #expect(Set(first.keys) == [org, .deployment])
            w.clock.advance(3599)
            #expect(try await log.checkpointIfDue().isEmpty)
            w.clock.advance(2)
            let second = try await log.checkpointIfDue()
            #expect(Set(second.keys) == [org, .deployment])
            for (id, c) in second {
                #expect(c.size == first[id]!.size + 1)
                let last = try await w.parts.store.read { s in
                    try await s.sequencedEvents(id, from: c.size - 1, limit: 1).first?.1
                }
                #expect(last?.type == "log.heartbeat")
                #expect(last?.organizationId == (id == .deployment ? nil : w.manifest.organizationId))
            }
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
                let keys = try await ServerKeyFile.open(w.settings).keys
                others.append(
                    (
                        store,
                        try AuditLog(
                            store: store, signingKey: keys.checkpointSigningKey, originBase: w.parts.auditLog.originBase
                        )
                    ))
            }
            let all = [(w.parts.store, w.parts.auditLog)] + others
            // The test organization, another one, and the deployment: three logs growing at once.
            let owners: [UUID?] = [UUID(uuidString: w.manifest.organizationId), UUID(), nil]
            try await withThrowingTaskGroup(of: Void.self) { g in
                for (n, (store, log)) in all.enumerated() {
                    g.addTask {
                        for i in 0..<15 {
                            try await Self.events(store, 2, tag: "p\(n)-\(i)", organization: owners[(n + i) % 3])
                            if i % 4 == 0 { try await log.sequence() }
                        }
                        try await log.sequence()
                    }
                }
                try await g.waitForAll()
            }
            try await w.parts.auditLog.sequence()
            let signed = try await w.parts.auditLog.checkpointIfDue()
            #expect(signed.count == 3)
            var total = 0
            var seqs: Set<Int64> = []
            for (id, c) in signed {
                let leaves = try await w.parts.store.read { s in
                    try await s.leavesWithEvents(id, from: 0, limit: 100_000)
                }
                #expect(leaves.map(\.index) == Array(0..<Int64(leaves.count)), "no gaps, no repeats in \(id)")
                #expect(c.size == Int64(leaves.count))
                let rebuilt = MerkleTree.rootHash(leafHashes: leaves.map { TreeHash(bytes: $0.leafHash)! })
                #expect(Data(rebuilt.bytes) == c.root)
                total += leaves.count
                seqs.formUnion(leaves.map(\.eventSeq))
            }
            let eventCount = try await w.counts().audit
            #expect(total == eventCount, "every event has exactly one leaf")
            #expect(seqs.count == total)
            for (store, _) in others { await store.close() }
        }
    }

    @Test("the audit API: checkpoint as signed text, the verifier key, proofs that verify")
    func api() async throws {
        try await TestWorld.with(.sqlite) { w in
            // Every event so far is the organization's own: its log's genesis and its provisioning.
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
                #expect(checkpoint.size == Int64(provisioning), "the genesis and the provisioning, nothing else")
                let inc = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=3&size=\(checkpoint.size)", token: admin)
                #expect(inc.status == 200)
                let proof = InclusionProof(
                    leafIndex: 3, treeSize: checkpoint.size,
                    hashes: (inc.body["proof"] as? [String] ?? []).compactMap { TreeHash(base64: $0) })
                try proof.verify(
                    leafHash: try #require(TreeHash(base64: inc.body.str("leafHash") ?? "")),
                    rootHash: checkpoint.rootHash)
                // Leaf 0 is the log's genesis, leaf 1 the organization's creation; the test events above belong to
                // no organization: they are in the deployment's log, not shown to the organization's administrator.
                let events = try await c.call(.get, "/api/v1/audit/events?from=0&limit=100", token: admin)
                let listed = try #require(events.body["events"] as? [[String: Any]])
                #expect(listed.count == provisioning)
                #expect(listed.first?["index"] as? Int == 0)
                #expect(listed.first?["type"] as? String == "log.genesis")
                #expect((listed.first?["detail"] as? [String: String])?["origin"] == origin)
                #expect(listed.dropFirst().first?["type"] as? String == "organization.created")
                let zero = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=0&size=\(checkpoint.size)", token: admin)
                #expect(listed.first?["leafHash"] as? String == zero.body.str("leafHash"))
                let bad = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=\(checkpoint.size)&size=\(checkpoint.size)", token: admin
                )
                #expect(bad.status == 400)
                let beyond = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=0&size=\(checkpoint.size + 1)", token: admin)
                #expect(beyond.status == 404)
                #expect(
                    try await c.call(.get, "/api/v1/audit/checkpoint?log=nonsense", token: admin).status == 400)
                #expect(
                    try await c.call(.get, "/api/v1/audit/checkpoint?log=frozen", token: admin).status == 404,
                    "a deployment that began with per-organization logs has no frozen log")
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
