import CubbyCore
import CubbyDemo
import CubbyStore
import Foundation
import Testing

@testable import CubbyServer

@Suite("The scim credential kind")
struct SCIMCredentialTests {
    /// A database built at schema version 13 with a credential of every kind then known, migrated to the newest
    /// version: every row and column survives the rebuild of the table, and its constraints hold.
    @Test(arguments: Backend.available)
    func migrationKeepsEveryCredential(backend: Backend) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-mig-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let location: DatabaseLocation =
            backend == .sqlite ? .sqlite(path: dir + "/old.sqlite") : try await TestPostgres.freshDatabase()
        let store = try await StoreFactory.open(location, logger: TestWorld.logger)
        do {
            try await Migrator.migrate(store, through: 13)
            #expect(try await Migrator.appliedVersions(store).last == 13)
            let org = UUID().uuidString.lowercased()
            let site = UUID().uuidString.lowercased()
            var rows: [CredentialRecord] = []
            for (i, kind) in ["courier", "device", "admin", "carrier", "auditor"].enumerated() {
                var c = CredentialRecord(
                    id: UUID().uuidString.lowercased(), kind: kind, tokenHash: Data(repeating: UInt8(i + 1), count: 32),
                    organizationId: org, carrierId: kind == "carrier" || kind == "courier" ? "carrier-\(i)" : nil,
                    courierId: kind == "courier" ? "courier-\(i)" : nil, unitId: kind == "device" ? "unit-\(i)" : nil,
                    siteIds: kind == "auditor" ? site : nil, label: "label \(kind)", createdAt: Int64(1000 + i),
                    expiresAt: Int64(9000 + i), enrolled: kind == "device")
                if kind == "admin" { c.revokedAt = 5000 }
                rows.append(c)
            }
            let written = rows
            try await store.write { s in
                try await s.insertOrganization(id: org, name: "Org", at: 0)
                for c in written { try await s.insertCredential(c) }
            }
            let applied = try await Migrator.migrate(store)
            #expect(applied.contains(14))
            let read = try await store.read { s in try await s.credentials(organization: org) }
            #expect(read.sorted { $0.id < $1.id } == rows.sorted { $0.id < $1.id })

            // The new kind is accepted; an unknown kind and a repeated token hash are still refused.
            let scim = CredentialRecord(
                id: UUID().uuidString.lowercased(), kind: "scim", tokenHash: Data(repeating: 0xEE, count: 32),
                organizationId: org, siteIds: site, label: "Okta", createdAt: 1)
            try await store.write { s in try await s.insertCredential(scim) }
            var bogus = scim
            bogus.id = UUID().uuidString.lowercased()
            bogus.tokenHash = Data(repeating: 0xEF, count: 32)
            bogus.kind = "bogus"
            let refused = bogus
            await #expect(throws: (any Error).self) {
                try await store.write { s in try await s.insertCredential(refused) }
            }
            var again = rows[0]
            again.id = UUID().uuidString.lowercased()
            let duplicate = again
            await #expect(throws: (any Error).self) {
                try await store.write { s in try await s.insertCredential(duplicate) }
            }
            #expect(try await store.read { s in try await s.credentials(organization: org) }.count == 6)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    @Test func aScimCredentialNamesExactlyOneSite() async throws {
        try await TestWorld.with(.sqlite) { w in
            let second = try await w.secondSite()
            let org = w.manifest.organizationId
            let p = Principal(
                role: .superAdmin, credentialId: .make(), organizationId: OrganizationID(UUID(uuidString: org)!),
                siteIds: [SiteID(uuidString: w.manifest.siteId)!, SiteID(uuidString: second)!])
            for sites in [nil, [], [w.manifest.siteId, second]] as [[String]?] {
                await #expect(throws: StaffError.self) {
                    try await w.parts.staff.issueCredential(
                        p, actor: .console, .init(kind: .scim, label: "IdP", days: 30, sites: sites))
                }
            }
            await #expect(throws: DomainError.self) {
                try await w.parts.staff.issueCredential(
                    p, actor: .console, .init(kind: .scim, label: "IdP", days: 30, sites: [UUID().uuidString]))
            }
            let (c, token) = try await w.parts.staff.issueCredential(
                p, actor: .console, .init(kind: .scim, label: "IdP", days: 30, sites: [second]))
            #expect(token.hasPrefix("cby_scim_") && c.kind == "scim" && c.siteIds == second)
            let principal = try await w.scimPrincipal(token)
            #expect(principal.role == .scim && principal.siteIds == [SiteID(uuidString: second)!])
            #expect(principal.actor.kind == .scim && principal.actor.id == c.id)
            // Revoked like any other: its next request fails.
            _ = try await w.parts.staff.revokeCredential(p, actor: .console, id: c.id)
            await #expect(throws: APIError.self) { try await w.scimPrincipal(token) }
        }
    }
}
