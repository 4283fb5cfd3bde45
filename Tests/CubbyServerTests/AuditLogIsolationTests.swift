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

@Suite("One audit log per organization: no tenant learns another's activity")
struct AuditLogIsolationTests {
    @Test("two organizations on one server: each auditor sees its own tree size, events and proofs only")
    func twoOrganizations() async throws {
        try await TestWorld.with(.sqlite) { w in
            let a = w.manifest
            let b = try await DemoSeed(parts: w.parts).seed(
                server: "http://test", organizationName: "Lakeside Living", siteName: "Lakeside North",
                superAdminEmail: "ops@lakeside.example")
            let logA = AuditLogID.organization(try #require(OrganizationID(uuidString: a.organizationId)))
            let logB = AuditLogID.organization(try #require(OrganizationID(uuidString: b.organizationId)))
            let before = try await w.parts.auditLog.latestCheckpoint(logA)
            // B grows well past A.
            try await AuditLogTests.events(
                w.parts.store, 40, tag: "b", organization: UUID(uuidString: b.organizationId))
            try await w.parts.auditLog.checkpointIfDue()
            let sizeA = try await w.parts.auditLog.size(logA)
            let sizeB = try await w.parts.auditLog.size(logB)
            #expect(sizeB > sizeA + 30)
            // A witness following A sees the very same tree: B's growth changes nothing in A's log.
            #expect(try await w.parts.auditLog.latestCheckpoint(logA) == before)
            let eventB = try #require(
                try await w.parts.store.read { s in try await s.sequencedEvents(logB, from: sizeB - 1, limit: 1) }.first
            )
            let eventA = try #require(
                try await w.parts.store.read { s in try await s.sequencedEvents(logA, from: 1, limit: 1) }.first)

            try await w.test { c in
                for (token, mine, size, org) in [
                    (a.auditorToken, logA, sizeA, a.organizationId), (b.auditorToken, logB, sizeB, b.organizationId),
                ] {
                    let key = try await c.call(.get, "/api/v1/audit/key", token: token)
                    let origin = try #require(key.body.str("origin"))
                    #expect(origin.hasSuffix("/" + org))
                    #expect(origin == (try await w.parts.auditLog.identity(mine)).origin)
                    let note = try await c.call(.get, "/api/v1/audit/checkpoint", token: token)
                    let checkpoint = try NoteVerifier(verifierKey: try #require(key.body.str("key"))).openCheckpoint(
                        String(decoding: note.data, as: UTF8.self), expectedOrigin: origin)
                    #expect(checkpoint.size == UInt64(size), "the auditor sees its own organization's tree size")
                    let page = try await c.call(.get, "/api/v1/audit/events?limit=1000", token: token)
                    let listed = try #require(page.body["events"] as? [[String: Any]])
                    #expect(listed.count == Int(size))
                    #expect(listed.allSatisfy { $0["organizationId"] as? String == org })
                    #expect(listed.map { $0["index"] as? Int } == (0..<Int(size)).map { $0 })
                }
                // A's auditor: B's event and B's indexes do not exist.
                let own = try await c.call(.get, "/api/v1/audit/events/\(eventA.1.id)", token: a.auditorToken)
                #expect(own.status == 200)
                #expect((own.body["event"] as? [String: Any])?["index"] as? Int == 1)
                #expect(own.body.str("log") == "organization")
                let other = try await c.call(.get, "/api/v1/audit/events/\(eventB.1.id)", token: a.auditorToken)
                #expect(other.status == 404)
                #expect(
                    try await c.call(.get, "/api/v1/audit/events/\(eventB.1.id)", token: b.auditorToken).status == 200)
                let beyond = try await c.call(
                    .get, "/api/v1/audit/proof/inclusion?index=\(sizeB - 1)&size=\(sizeB)", token: a.auditorToken)
                #expect(beyond.status == 404)
                let grown = try await c.call(
                    .get, "/api/v1/audit/proof/consistency?from=1&to=\(sizeB)", token: a.auditorToken)
                #expect(grown.status == 404)
                #expect(
                    try await c.call(
                        .get, "/api/v1/audit/proof/inclusion?index=\(sizeB - 1)&size=\(sizeB)", token: b.auditorToken
                    ).status == 200)
                #expect(
                    try await c.call(.get, "/api/v1/audit/events/not-an-id", token: a.auditorToken).status == 404)
            }
            let reports = try await AuditVerifier.all(store: w.parts.store, publicKey: w.parts.auditLog.publicKey)
            #expect(Set(reports.map(\.log)) == [logA, logB])
            #expect(reports.allSatisfy { $0.ok })
        }
    }

    @Test("an event filed under another organization's log is found by the verifier")
    func misfiled() async throws {
        try await TestWorld.with(.sqlite) { w in
            let org = try #require(OrganizationID(uuidString: w.manifest.organizationId))
            let other = UUID()
            try await AuditLogTests.events(w.parts.store, 3, tag: "other", organization: other)
            try await w.parts.auditLog.checkpointIfDue()
            // Behind the triggers' back: the other organization's leaf 1 is moved into this organization's log.
            try await w.parts.store.write { s in
                try await s.execute("DROP TRIGGER log_leaves_no_update")
                let size = try await s.auditLog(.organization(org))!.size
                try await s.execute(
                    "UPDATE log_leaves SET log_id = '\(org.uuid.idString)', leaf_index = \(size) WHERE log_id = '\(other.idString)' AND leaf_index = 1"
                )
            }
            let reports = try await AuditVerifier.all(
                store: w.parts.store, publicKey: w.parts.auditLog.publicKey, only: .organization(org))
            let problem = try #require(reports.first?.problem)
            #expect(problem.message.contains("belongs to organization \(other.idString)"), "\(problem)")
        }
    }
}
