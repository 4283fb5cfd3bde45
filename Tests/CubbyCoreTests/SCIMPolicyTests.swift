import CubbyCore
import Testing

@Suite("The scim role")
struct SCIMPolicyTests {
    static let scimActions: Set<Action> = [.scimDiscovery, .scimReadUsers, .scimWriteUsers]

    @Test func scimHoldsItsOwnActionsAndNothingElse() {
        let held = Set(Action.allCases.filter { AccessPolicy.allows(.scim, $0) })
        #expect(held == Self.scimActions)
        for action in Self.scimActions {
            #expect(AccessPolicy.reach(.scim, action) == .sites)
            for role in Principal.Role.allCases where role != .scim {
                #expect(!AccessPolicy.allows(role, action), "\(role) may \(action)")
            }
        }
        #expect(!Principal.Role.scim.isStaff)
    }

    @Test func theActorIsTheCredential() {
        let credential = CredentialID.make()
        let p = Principal(role: .scim, credentialId: credential, organizationId: .make(), siteIds: [.make()])
        #expect(p.actor.kind == .scim && p.actor.id == credential.uuid.idString && p.actor.role == "scim")
    }
}
