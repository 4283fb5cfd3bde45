import CubbyCore
import Foundation
import Testing

@Suite("Access policy and role grants")
struct AccessPolicyTests {
    let siteA = UUID(), siteB = UUID()

    func holder(_ role: Principal.Role, _ sites: Set<UUID>?) -> RoleGrant.Holder {
        RoleGrant.Holder(id: UUID(), role: role, sites: sites)
    }

    @Test func everyActionHasAtLeastOneRoleAndStaffOnlyActionsNeedStaff() {
        for action in Action.allCases {
            let roles = AccessPolicy.table[action] ?? [:]
            #expect(!roles.isEmpty, "\(action) has no role")
        }
        let portal: [Action] = [
            .viewUsers, .inviteUser, .changeRole, .deactivateUser, .viewCredentials, .issueCredential,
            .revokeCredential, .manageOwnSession,
        ]
        for action in portal {
            for role in Principal.Role.allCases where AccessPolicy.allows(role, action) {
                #expect(role.isStaff, "\(role) may \(action)")
            }
        }
    }

    @Test func auditorsChangeNothing() {
        let reading: Set<Action> = [
            .readAudit, .viewDashboard, .manageOwnSession, .readAlerts, .readDeliveries, .readOnCall, .viewReports,
        ]
        for action in Action.allCases where AccessPolicy.allows(.auditor, action) {
            #expect(reading.contains(action), "auditor may \(action)")
        }
        // The outbox's deliveries: staff only; an auditor reads them and neither retries nor redelivers.
        for role in Principal.Role.allCases {
            #expect(AccessPolicy.allows(role, .readDeliveries) == [.admin, .superAdmin, .auditor].contains(role))
            #expect(AccessPolicy.allows(role, .retryDelivery) == [.admin, .superAdmin].contains(role))
        }
    }

    @Test func devicesAndCouriersStayInTheirLane() {
        let device = Action.allCases.filter { AccessPolicy.allows(.device, $0) }
        #expect(Set(device) == [.pickup, .reportUnitEvent, .readUnit, .readParcel, .edgeLink])
        for action in Action.allCases where AccessPolicy.allows(.device, action) {
            #expect(AccessPolicy.reach(.device, action) == .ownUnit)
        }
        #expect(AccessPolicy.reach(.courier, .createDropoff) == .sites)
        #expect(!AccessPolicy.allows(.courier, .pickup))
        #expect(!AccessPolicy.allows(.resident, .readAudit))
    }

    @Test func stepUpCoversRolesAndCredentials() {
        #expect(
            Action.changeRole.needsStepUp && Action.issueCredential.needsStepUp && Action.revokeCredential.needsStepUp)
        #expect(!Action.viewDashboard.needsStepUp)
    }

    @Test func anAdminCannotGrantARoleItDoesNotHold() {
        let admin = holder(.admin, [siteA])
        #expect(throws: GrantError.roleNotHeld) {
            try RoleGrant.checkGrant(granter: admin, target: nil, role: .superAdmin, sites: nil, activeSuperAdmins: 1)
        }
        #expect(throws: GrantError.roleNotHeld) {
            try RoleGrant.checkGrant(granter: admin, target: nil, role: .courier, sites: [siteA], activeSuperAdmins: 1)
        }
        #expect(throws: Never.self) {
            try RoleGrant.checkGrant(granter: admin, target: nil, role: .auditor, sites: [siteA], activeSuperAdmins: 1)
        }
        #expect(throws: Never.self) {
            try RoleGrant.checkGrant(granter: admin, target: nil, role: .admin, sites: [siteA], activeSuperAdmins: 1)
        }
    }

    @Test func anAdminCannotActOutsideItsSites() {
        let admin = holder(.admin, [siteA])
        #expect(throws: GrantError.outsideScope) {
            try RoleGrant.checkGrant(
                granter: admin, target: nil, role: .admin, sites: [siteA, siteB], activeSuperAdmins: 1)
        }
        #expect(throws: GrantError.outsideScope) {
            try RoleGrant.checkGrant(granter: admin, target: nil, role: .auditor, sites: nil, activeSuperAdmins: 1)
        }
        let other = holder(.admin, [siteB])
        #expect(!RoleGrant.canSee(granter: admin, target: other))
        #expect(throws: GrantError.outsideScope) {
            try RoleGrant.checkGrant(
                granter: admin, target: other, role: .auditor, sites: [siteA], activeSuperAdmins: 1)
        }
        #expect(throws: GrantError.outsideScope) {
            try RoleGrant.checkDeactivate(granter: admin, target: other, activeSuperAdmins: 1)
        }
        // Nor touch a super-administrator or an organization-wide auditor.
        #expect(!RoleGrant.canSee(granter: admin, target: holder(.superAdmin, nil)))
        #expect(!RoleGrant.canSee(granter: admin, target: holder(.auditor, nil)))
    }

    @Test func nobodyChangesTheirOwnRole() {
        let me = holder(.superAdmin, nil)
        #expect(throws: GrantError.ownAccount) {
            try RoleGrant.checkGrant(granter: me, target: me, role: .admin, sites: [siteA], activeSuperAdmins: 3)
        }
        #expect(throws: GrantError.ownAccount) {
            try RoleGrant.checkDeactivate(granter: me, target: me, activeSuperAdmins: 3)
        }
    }

    @Test func theLastSuperAdminStays() {
        let me = holder(.superAdmin, nil)
        let other = holder(.superAdmin, nil)
        #expect(throws: GrantError.lastSuperAdmin) {
            try RoleGrant.checkGrant(granter: me, target: other, role: .admin, sites: [siteA], activeSuperAdmins: 1)
        }
        #expect(throws: GrantError.lastSuperAdmin) {
            try RoleGrant.checkDeactivate(granter: me, target: other, activeSuperAdmins: 1)
        }
        #expect(throws: Never.self) { try RoleGrant.checkDeactivate(granter: me, target: other, activeSuperAdmins: 2) }
    }

    @Test func auditorsAndMachinesGrantNothing() {
        for role: Principal.Role in [.auditor, .courier, .carrier, .device, .resident] {
            #expect(throws: GrantError.roleNotHeld) {
                try RoleGrant.checkGrant(
                    granter: holder(role, [siteA]), target: nil, role: .auditor, sites: [siteA], activeSuperAdmins: 1)
            }
        }
    }
}
