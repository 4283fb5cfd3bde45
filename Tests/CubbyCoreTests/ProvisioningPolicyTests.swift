import CubbyCore
import Foundation
import Testing

@Suite("Who may provision sites, units, compartments and carriers")
struct ProvisioningPolicyTests {
    static let organizationWide: [Action] = [.createSite, .createCarrier, .updateCarrier, .deactivateCarrier]
    static let withinSites: [Action] = [
        .readSite, .updateSite, .createUnit, .renameUnit, .decommissionUnit, .changeCompartment, .readCarrier,
    ]

    @Test func organizationWidePowerIsTheSuperAdministrators() {
        for action in Self.organizationWide {
            #expect(AccessPolicy.reach(.superAdmin, action) == .organization, "super-admin may \(action)")
            #expect(!AccessPolicy.allows(.admin, action), "an admin of some sites may not \(action)")
        }
    }

    @Test func adminsRunTheirSites() {
        for action in Self.withinSites {
            #expect(AccessPolicy.reach(.admin, action) == .sites, "\(action)")
            #expect(AccessPolicy.reach(.superAdmin, action) == .organization, "\(action)")
        }
    }

    @Test func nobodyElseProvisions() {
        for action in Self.organizationWide + Self.withinSites {
            for role in [Principal.Role.resident, .courier, .carrier, .device, .auditor] {
                #expect(!AccessPolicy.allows(role, action), "\(role) may \(action)")
            }
        }
    }

    @Test func onlySuperAdministratorsAreOrganizationWide() {
        for role in Principal.Role.allCases {
            let p = Principal(role: role, credentialId: .make(), organizationId: .make(), siteIds: [.make()])
            #expect(p.organizationWide == (role == .superAdmin), "\(role)")
        }
    }
}
