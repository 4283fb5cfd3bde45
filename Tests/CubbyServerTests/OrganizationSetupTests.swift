import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyStore
import Foundation
import Logging
import Testing

@testable import CubbyServer

/// A deployment with an empty database: no organization, no site, nothing seeded.
struct EmptyDeployment: Sendable {
    let dir: String
    let parts: CubbyServerParts

    static func with<T: Sendable>(_ backend: Backend, _ body: (EmptyDeployment) async throws -> T) async throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-empty-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let location: DatabaseLocation =
            switch backend {
            case .sqlite: .sqlite(path: dir + "/cubby.sqlite")
            case .postgres: try await TestPostgres.freshDatabase()
            }
        var settings = ServerSettings(database: location, keysPath: dir + "/keys.json", simulateUnits: false)
        settings.keyProvider = try TestKEK.file(in: dir)
        let parts = try await buildParts(
            settings: settings, passwordHasher: .forTesting(iterations: 1000), logger: TestWorld.logger)
        let deployment = EmptyDeployment(dir: dir, parts: parts)
        do {
            let result = try await body(deployment)
            await parts.store.close()
            try? FileManager.default.removeItem(atPath: dir)
            return result
        } catch {
            await parts.store.close()
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    func organizationCount() async throws -> Int { try await parts.store.read { s in try await s.organizationCount() } }

    func auditTypes() async throws -> [String] {
        try await parts.store.read { s in try await s.auditEvents(from: 0, limit: 1000).map(\.type) }
    }
}

/// `cubby setup` and `cubby organization create`: an organization and its first super-administrator from nothing.
@Suite("Organization setup")
struct OrganizationSetupTests {
    @Test(arguments: Backend.available)
    func setupCreatesTheOrganizationAndItsFirstSuperAdministratorOnce(backend: Backend) async throws {
        try await EmptyDeployment.with(backend) { d in
            let staff = d.parts.staff
            let new = try await staff.createOrganization(
                name: "  Harbor Property Group ", adminEmail: "Ops@Example.org", actor: .console, firstOnly: true)
            #expect(new.name == "Harbor Property Group")
            #expect(new.account.email == "ops@example.org")
            #expect(new.account.role == Principal.Role.superAdmin.rawValue)
            #expect(new.account.status == "invited")
            #expect(new.account.organizationId == new.id)
            let link = try await d.parts.store.read { s in
                try await s.enrollmentLink(hash: d.parts.keys.enrollmentHash(new.enrollmentToken))
            }
            #expect(link?.accountId == new.account.id)
            #expect(try await d.auditTypes() == ["organization.created", "staff.invited"])

            // Setup runs once: the second refuses and changes nothing.
            await #expect(throws: SetupError.alreadySetUp(organizations: 1)) {
                try await staff.createOrganization(
                    name: "Another", adminEmail: "other@example.org", actor: .console, firstOnly: true)
            }
            #expect(try await d.organizationCount() == 1)
            #expect(try await d.parts.store.read { s in try await s.staffAccount(email: "other@example.org") } == nil)

            // A deployment that hosts several adds organizations with their own super-administrators.
            let second = try await staff.createOrganization(
                name: "Campus Mail", adminEmail: "mail@campus.example", actor: .console, firstOnly: false)
            #expect(second.id != new.id)
            #expect(try await staff.organizations().map(\.name) == ["Harbor Property Group", "Campus Mail"])
        }
    }

    @Test(arguments: Backend.available)
    func badInputCreatesNothing(backend: Backend) async throws {
        try await EmptyDeployment.with(backend) { d in
            let staff = d.parts.staff
            _ = try await staff.createOrganization(
                name: "First", adminEmail: "taken@example.org", actor: .console, firstOnly: true)
            let cases: [(name: String, email: String)] = [
                ("", "a@example.org"), ("   ", "a@example.org"), (String(repeating: "x", count: 121), "a@example.org"),
                ("Tab\tName", "a@example.org"), ("Good name", "not-an-email"), ("Good name", ""),
                // The email of an existing account: the organization is not created either.
                ("Good name", "TAKEN@example.org"),
            ]
            for c in cases {
                await #expect(throws: StaffError.self, "\(c)") {
                    try await staff.createOrganization(
                        name: c.name, adminEmail: c.email, actor: .console, firstOnly: false)
                }
            }
            #expect(try await d.organizationCount() == 1)
            #expect(try await d.auditTypes() == ["organization.created", "staff.invited"])
        }
    }

    @Test(arguments: Backend.available)
    func twoSetupsAtOnceMakeOneOrganization(backend: Backend) async throws {
        try await EmptyDeployment.with(backend) { d in
            let staff = d.parts.staff
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        (try? await staff.createOrganization(
                            name: "Org \(i)", adminEmail: "first\(i)@example.org", actor: .console, firstOnly: true))
                            != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            let count = try await d.organizationCount()
            #expect(count == 1)
        }
    }

    @Test(arguments: Backend.available)
    func anAdminKeyWithoutSitesHasTheOrganizationsReachAndOneWithSitesOnlyThose(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let org = try #require(OrganizationID(uuidString: w.manifest.organizationId))
            let console = Principal(role: .superAdmin, credentialId: .make(), organizationId: org)
            let (_, wide) = try await w.parts.staff.issueCredential(
                console, actor: .console, .init(kind: .admin, label: "setup script", days: 30))
            let (_, scoped) = try await w.parts.staff.issueCredential(
                console, actor: .console,
                .init(kind: .admin, label: "site script", days: 30, sites: [w.manifest.siteId]))
            let authenticator = w.parts.edges.authenticator
            let widePrincipal = try await authenticator.principal(forHeader: "Bearer \(wide)")
            #expect(widePrincipal.role == .superAdmin)
            #expect(widePrincipal.siteIds.map(\.idString) == [w.manifest.siteId])
            let scopedPrincipal = try await authenticator.principal(forHeader: "Bearer \(scoped)")
            #expect(scopedPrincipal.role == .admin)
            #expect(scopedPrincipal.siteIds.map(\.idString) == [w.manifest.siteId])

            // A site-scoped administrator cannot give a key the organization's reach.
            let siteAdmin = Principal(
                role: .admin, credentialId: .make(), organizationId: org,
                siteIds: [try #require(SiteID(uuidString: w.manifest.siteId))])
            await #expect(throws: DomainError.self) {
                try await w.parts.staff.issueCredential(
                    siteAdmin, actor: .console, .init(kind: .admin, label: "too wide", days: 30))
            }
        }
    }
}
