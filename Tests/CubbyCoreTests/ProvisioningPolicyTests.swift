import CubbyCore
import Foundation
import Testing

@Suite("Who may provision sites, units, compartments and carriers")
struct ProvisioningPolicyTests {
    static let organizationWide: [Action] = [.createSite, .createCarrier, .updateCarrier, .deactivateCarrier]
    static let withinSites: [Action] = [
        .readSite, .updateSite, .createUnit, .renameUnit, .decommissionUnit, .changeCompartment, .readCarrier,
    ]

    func principal(_ role: Principal.Role, wide: Bool? = nil) -> Principal {
        Principal(
            role: role, credentialId: .make(), organizationId: .make(), siteIds: [.make()], organizationWide: wide)
    }

    @Test func organizationWidePowerNeedsTheWholeOrganization() {
        for action in Self.organizationWide {
            #expect(AccessPolicy.permits(principal(.superAdmin), action), "super-admin may \(action)")
            #expect(
                AccessPolicy.permits(principal(.admin, wide: true), action), "an organization-wide key may \(action)")
            #expect(!AccessPolicy.permits(principal(.admin), action), "an admin of some sites may not \(action)")
            #expect(!AccessPolicy.permits(principal(.admin, wide: false), action))
        }
    }

    @Test func adminsRunTheirSites() {
        for action in Self.withinSites {
            #expect(AccessPolicy.reach(.admin, action) == .sites, "\(action)")
            #expect(AccessPolicy.permits(principal(.admin), action), "\(action)")
            #expect(AccessPolicy.reach(.superAdmin, action) == .organization, "\(action)")
        }
    }

    @Test func nobodyElseProvisions() {
        for action in Self.organizationWide + Self.withinSites {
            for role in [Principal.Role.resident, .courier, .carrier, .device, .auditor] {
                #expect(!AccessPolicy.allows(role, action), "\(role) may \(action)")
                #expect(!AccessPolicy.permits(principal(role, wide: true), action), "\(role) may \(action)")
            }
        }
    }

    @Test func onlySuperAdminsAreOrganizationWideByDefault() {
        for role in Principal.Role.allCases {
            #expect(principal(role).organizationWide == (role == .superAdmin), "\(role)")
        }
    }
}
