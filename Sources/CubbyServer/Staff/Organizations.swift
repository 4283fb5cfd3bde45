import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// A new organization with its first super-administrator, who enrolls with the one-time link's token.
public struct NewOrganization: Sendable {
    public let id: String
    public let name: String
    public let account: StaffAccountRecord
    /// Shown once: the enrollment link carries it (valid `StaffDesk.linkLifetime`).
    public let enrollmentToken: String
}

/// Why `cubby setup` refuses.
public enum SetupError: Error, Equatable, Sendable {
    /// The database already holds organizations; more are added with `cubby organization create`.
    case alreadySetUp(organizations: Int)
}

extension StaffDesk {
    /// Longest organization name.
    public static let organizationNameLimit = 120

    /// A trimmed organization name, or a clear error.
    public static func organizationName(_ text: String) throws -> String {
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= organizationNameLimit else {
            throw StaffError.invalidInput("The organization's name must be 1–\(organizationNameLimit) characters.")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw StaffError.invalidInput("The organization's name must not contain control characters.")
        }
        return name
    }

    /// Creates an organization and its first super-administrator (invited, with an enrollment link) in one
    /// transaction, audited as `organization.created` and `staff.invited`. With `firstOnly`, refuses when any
    /// organization exists already, even when two processes try at once.
    public func createOrganization(name rawName: String, adminEmail: String, actor: Actor, firstOnly: Bool)
        async throws -> NewOrganization
    {
        let name = try Self.organizationName(rawName)
        let email = try Self.email(adminEmail)
        let token = SecretGenerator.credential(prefix: "")
        let id = Self.newId()
        let account = try await store.write { s -> StaffAccountRecord in
            try await s.serializeOrganizationCreation()
            if firstOnly {
                let count = try await s.organizationCount()
                if count > 0 { throw SetupError.alreadySetUp(organizations: count) }
            }
            let (_, at) = now()
            try await s.insertOrganization(id: id, name: name, at: at)
            try await s.appendAudit(
                record(
                    .organizationCreated, actor: actor, organization: id,
                    detail: ["organization": id, "firstOfDeployment": String(firstOnly)]))
            return try await insertInvitedAccount(
                s, organization: id, email: email, role: .superAdmin, sites: nil, token: token, actor: actor)
        }
        return NewOrganization(id: id, name: name, account: account, enrollmentToken: token)
    }

    /// Every organization of the deployment: id and name, oldest first.
    public func organizations() async throws -> [(id: String, name: String)] {
        try await store.read { s in try await s.organizations() }
    }
}
