import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import SQLKit
import Testing

@Suite("staff emails are sealed at rest and found by their keyed hash")
struct StaffEmailSealingTests {
    /// The raw columns of an account, as a copy of the database shows them.
    func raw(_ w: TestWorld, _ id: String) async throws -> (email: String, sealed: Data?, dataKey: Data?) {
        try await w.parts.store.read { s in
            let row = try #require(
                try await s.toolHandle.raw(
                    "SELECT email, email_sealed, data_key FROM staff_accounts WHERE id = \(bind: id)"
                ).first())
            return (
                try row.decode(column: "email", as: String.self),
                try row.decode(column: "email_sealed", as: Data?.self),
                try row.decode(column: "data_key", as: Data?.self)
            )
        }
    }

    @Test(
        "an account's email is its keyed hash and a sealed copy; sign-in, lookups and lists still see the address",
        arguments: Backend.available)
    func sealed(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let member = try await w.staffMember("Grace.Hopper@Example.org", .auditor)
            let stored = try await raw(w, member.account.id)
            #expect(stored.email.hasPrefix("h:") && stored.email.count == 2 + 64)
            let sealed = try #require(stored.sealed)
            #expect(sealed.range(of: Data("grace.hopper".utf8)) == nil)
            #expect(stored.dataKey != nil)
            // The store opens it for the server: by id, by address in any case, and in the organization's list.
            let byId = try await w.parts.store.read { s in try await s.staffAccount(id: member.account.id) }
            #expect(byId?.email == "grace.hopper@example.org")
            let byEmail = try await w.parts.store.read { s in
                try await s.staffAccount(email: "GRACE.hopper@example.ORG")
            }
            #expect(byEmail?.id == member.account.id)
            let all = try await w.parts.store.read { s in
                try await s.staffAccounts(organization: w.manifest.organizationId)
            }
            #expect(all.map(\.email) == all.map(\.email).sorted())
            #expect(all.contains { $0.email == "grace.hopper@example.org" })
            // The same address again is refused, as when it was kept in clear.
            await #expect(throws: (any Error).self) {
                _ = try await w.parts.staff.createAccount(
                    organization: w.manifest.organizationId, email: "grace.hopper@example.org", role: .auditor,
                    sites: nil, actor: .system)
            }
            // Nowhere in the database file is the address in clear.
            if case .sqlite(let path) = w.settings.database {
                for file in [path, path + "-wal"] {
                    let bytes = FileManager.default.contents(atPath: file) ?? Data()
                    #expect(bytes.range(of: Data("grace.hopper@example.org".utf8)) == nil, "\(file)")
                }
            }
        }
    }

    @Test(
        "a row written in clear before sealing is found, then sealed once at the next start",
        arguments: Backend.available)
    func upgrade(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let id = EntityID.make()
            let at = Date().millisecondsSince1970
            try await w.parts.store.write { s in
                try await s.toolHandle.raw(
                    """
                    INSERT INTO staff_accounts (id, organization_id, email, role, status, totp_confirmed, failed_signins,
                      step_up_failures, locked, created_at, updated_at)
                    VALUES (\(bind: id), \(bind: w.manifest.organizationId), 'old.timer@example.org', 'auditor', 'invited',
                      \(bind: false), 0, 0, \(bind: false), \(bind: at), \(bind: at))
                    """
                ).run()
            }
            let before = try await w.parts.store.read { s in try await s.staffAccount(email: "old.timer@example.org") }
            #expect(before?.id == id && before?.emailSealed == nil)
            #expect(try await w.parts.store.write { s in try await s.sealStaffEmails() } == 1)
            #expect(try await w.parts.store.write { s in try await s.sealStaffEmails() } == 0)
            let stored = try await raw(w, id)
            #expect(stored.email.hasPrefix("h:") && stored.sealed != nil)
            let after = try await w.parts.store.read { s in try await s.staffAccount(email: "Old.Timer@example.org") }
            #expect(after?.id == id && after?.email == "old.timer@example.org")
        }
    }

    @Test("a store opened without the server's keys neither reads nor writes a staff email")
    func withoutKeys() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-nokeys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await SQLiteStore.open(path: dir.path + "/db.sqlite", logger: TestWorld.logger)
        try await Migrator.migrate(store)
        await #expect {
            _ = try await store.read { s in try await s.staffAccount(email: "a@example.org") }
        } throws: { "\($0)".contains("server's keys") }
        await store.close()
    }
}
