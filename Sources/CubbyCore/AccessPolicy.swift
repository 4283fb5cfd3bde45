#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything a caller can do through the API or the portal. Each route names exactly one.
public enum Action: String, CaseIterable, Sendable {
    // parcels and units (API)
    case announceParcel, createDropoff, readParcel, cancelParcel, removeParcel
    case pickup, reportUnitEvent, readUnit, resumePinEntry
    // audit log (API)
    case readAudit
    // management portal
    case viewDashboard, viewUsers, inviteUser, changeRole, deactivateUser
    case viewCredentials, issueCredential, revokeCredential
    /// Signing out, or out everywhere: any signed-in staff member, for itself.
    case manageOwnSession
    // residents' own pages
    case viewOwnParcels, residentSignOut
    /// A resident's own notification preferences on `/me/preferences`.
    case manageOwnPreferences
    // locker units' edge controllers
    /// Issue a one-time code with which a unit's edge controller enrolls.
    case enrollUnit
    /// Lock a unit or a whole site down from the server.
    case lockDown
    /// Lift a unit's lockdown (after a tamper signal or a lockdown by staff).
    case releaseLockdown
    /// Read open alerts.
    case readAlerts
    /// Mark an alert as answered.
    case resolveAlert
    /// Say that someone is on an open alert (it stops its escalation).
    case acknowledgeAlert
    /// Read a site's on-call list.
    case readOnCall
    /// Replace a site's on-call list and escalation delay.
    case manageOnCall
    /// Set or remove a staff member's phone number (their own, or one they manage).
    case setStaffPhone
    /// Take an available compartment out of service, or put one back in service.
    case serviceCompartment
    /// Hold the WebSocket link of a unit's edge controller.
    case edgeLink
    // provisioning: sites, locker units, compartments, carriers
    /// Create a site (organization-wide power).
    case createSite
    /// Read sites' settings.
    case readSite
    /// Change a site's name, address, time zone, languages and timings.
    case updateSite
    /// Create a locker unit at a site from a layout of columns and compartments.
    case createUnit
    /// Rename a locker unit.
    case renameUnit
    /// Retire an empty locker unit: its credentials are revoked and it takes no more parcels.
    case decommissionUnit
    /// Change an empty compartment's size, inner dimensions or accessible flag.
    case changeCompartment
    /// Create a carrier and choose the sites it serves (organization-wide power).
    case createCarrier
    /// Read carriers and the sites they serve.
    case readCarrier
    /// Rename a carrier or change the sites it serves (organization-wide power).
    case updateCarrier
    /// Deactivate a carrier: its courier and carrier credentials are revoked (organization-wide power).
    case deactivateCarrier
    // recipient directory (API and CLI)
    /// Read recipients (decrypted) and search them by email, external id or apartment.
    case readRecipient
    case createRecipient
    case updateRecipient
    /// Deactivate a recipient, or make a deactivated one active again.
    case deactivateRecipient
    /// Create, update and deactivate recipients in bulk from a CSV file.
    case importRecipients
    // SCIM 2.0 provisioning of recipients (an identity provider's scim credential)
    /// Read the SCIM service provider's configuration, resource types and schemas.
    case scimDiscovery
    /// List, find and read recipients as SCIM Users.
    case scimReadUsers
    /// Create, replace, change and deactivate recipients as SCIM Users.
    case scimWriteUsers
    // webhook subscriptions (staff: their sites or organization; carriers: their own parcels)
    /// List and read webhook subscriptions.
    case readWebhooks
    /// Create, change, delete webhook subscriptions and rotate their signing secrets.
    case manageWebhooks
    // the outbox's deliveries (recipients' channels and staff webhook subscriptions), for staff
    /// List the deliveries in reach with their state, attempts and last error, and their counts per channel.
    case readDeliveries
    /// Make a waiting delivery due now, or send a final one again with the same message id.
    case retryDelivery
    // the portal's parcel pages (staff)
    /// Search parcels and read one parcel's timeline, its stills and its events' inclusion proofs.
    case viewParcels
    /// Give a misdelivered parcel, not yet picked up, to another recipient: new codes, the old ones dead.
    case reassignParcel
    /// Move a deposited parcel's pickup deadline later, within its site's limit.
    case extendParcel
    // reports
    /// Read a site's reports: parcels per day, time to pickup, occupancy and failed codes per unit.
    case viewReports

    /// Forms that show a secret once: each carries a single-use value so a reload cannot repeat them.
    public var isSingleUseForm: Bool {
        self == .issueCredential || self == .inviteUser || self == .enrollUnit
    }

    /// Actions that need a TOTP code entered within the last `AccessPolicy.stepUpWindow`.
    public var needsStepUp: Bool {
        switch self {
        case .changeRole, .issueCredential, .revokeCredential, .enrollUnit, .releaseLockdown, .reassignParcel: true
        default: false
        }
    }
}

/// How far a granted action reaches. Anything outside answers "not found".
public enum Reach: String, Sendable, Equatable {
    /// Every site of the caller's organization.
    case organization
    /// The sites the caller is scoped to (an admin's sites, the sites a carrier serves).
    case sites
    /// The device's own unit.
    case ownUnit
    /// Parcels the caller's carrier handles.
    case ownCarrier
    /// Only the caller itself.
    case own
}

/// The one table of who may do what: role × action → reach. A missing entry means "forbidden".
public enum AccessPolicy {
    /// How recent a TOTP code must be for a step-up action.
    public static let stepUpWindow: TimeInterval = 5 * 60

    public static let table: [Action: [Principal.Role: Reach]] = [
        .announceParcel: [.carrier: .sites, .courier: .sites],
        .createDropoff: [.courier: .sites],
        .readParcel: [
            .courier: .ownCarrier, .carrier: .ownCarrier, .device: .ownUnit, .admin: .sites, .superAdmin: .organization,
        ],
        .cancelParcel: [.courier: .ownCarrier, .carrier: .ownCarrier, .admin: .sites, .superAdmin: .organization],
        .removeParcel: [.admin: .sites, .superAdmin: .organization],
        .pickup: [.device: .ownUnit],
        .reportUnitEvent: [.device: .ownUnit],
        .readUnit: [.device: .ownUnit, .admin: .sites, .superAdmin: .organization],
        .resumePinEntry: [.admin: .sites, .superAdmin: .organization],
        .readAudit: [.admin: .sites, .superAdmin: .organization, .auditor: .sites],
        .viewDashboard: [.admin: .sites, .superAdmin: .organization, .auditor: .sites],
        .viewUsers: [.admin: .sites, .superAdmin: .organization],
        .inviteUser: [.admin: .sites, .superAdmin: .organization],
        .changeRole: [.admin: .sites, .superAdmin: .organization],
        .deactivateUser: [.admin: .sites, .superAdmin: .organization],
        .viewCredentials: [.admin: .sites, .superAdmin: .organization],
        .issueCredential: [.admin: .sites, .superAdmin: .organization],
        .revokeCredential: [.admin: .sites, .superAdmin: .organization],
        .manageOwnSession: [.admin: .own, .superAdmin: .own, .auditor: .own],
        .viewOwnParcels: [.resident: .own],
        .residentSignOut: [.resident: .own],
        .manageOwnPreferences: [.resident: .own],
        .enrollUnit: [.admin: .sites, .superAdmin: .organization],
        .lockDown: [.admin: .sites, .superAdmin: .organization],
        .releaseLockdown: [.admin: .sites, .superAdmin: .organization],
        .readAlerts: [.admin: .sites, .superAdmin: .organization, .auditor: .sites],
        .resolveAlert: [.admin: .sites, .superAdmin: .organization],
        .acknowledgeAlert: [.admin: .sites, .superAdmin: .organization],
        .readOnCall: [.admin: .sites, .superAdmin: .organization, .auditor: .sites],
        .manageOnCall: [.admin: .sites, .superAdmin: .organization],
        .setStaffPhone: [.admin: .sites, .superAdmin: .organization],
        .serviceCompartment: [.admin: .sites, .superAdmin: .organization],
        .edgeLink: [.device: .ownUnit],
        // Provisioning. Organization-wide power is the super-administrator's (an admin key without sites is one).
        .createSite: [.superAdmin: .organization],
        .readSite: [.admin: .sites, .superAdmin: .organization],
        .updateSite: [.admin: .sites, .superAdmin: .organization],
        .createUnit: [.admin: .sites, .superAdmin: .organization],
        .renameUnit: [.admin: .sites, .superAdmin: .organization],
        .decommissionUnit: [.admin: .sites, .superAdmin: .organization],
        .changeCompartment: [.admin: .sites, .superAdmin: .organization],
        .createCarrier: [.superAdmin: .organization],
        .readCarrier: [.admin: .sites, .superAdmin: .organization],
        .updateCarrier: [.superAdmin: .organization],
        .deactivateCarrier: [.superAdmin: .organization],
        .readRecipient: [.admin: .sites, .superAdmin: .organization],
        .createRecipient: [.admin: .sites, .superAdmin: .organization],
        .updateRecipient: [.admin: .sites, .superAdmin: .organization],
        .deactivateRecipient: [.admin: .sites, .superAdmin: .organization],
        .importRecipients: [.admin: .sites, .superAdmin: .organization],
        .scimDiscovery: [.scim: .sites],
        .scimReadUsers: [.scim: .sites],
        .scimWriteUsers: [.scim: .sites],
        .readWebhooks: [.carrier: .ownCarrier, .admin: .sites, .superAdmin: .organization],
        .manageWebhooks: [.carrier: .ownCarrier, .admin: .sites, .superAdmin: .organization],
        .readDeliveries: [.admin: .sites, .superAdmin: .organization, .auditor: .sites],
        .retryDelivery: [.admin: .sites, .superAdmin: .organization],
        .viewParcels: [.admin: .sites, .superAdmin: .organization],
        .reassignParcel: [.admin: .sites, .superAdmin: .organization],
        .extendParcel: [.admin: .sites, .superAdmin: .organization],
        .viewReports: [.admin: .sites, .superAdmin: .organization, .auditor: .sites],
    ]

    /// How far `role` may perform `action`, or nil when it may not at all.
    public static func reach(_ role: Principal.Role, _ action: Action) -> Reach? {
        table[action]?[role]
    }

    public static func allows(_ role: Principal.Role, _ action: Action) -> Bool {
        reach(role, action) != nil
    }

    /// Throws `forbidden` unless the principal's role may perform `action`.
    public static func require(_ p: Principal, _ action: Action) throws {
        guard allows(p.role, action) else {
            throw DomainError.forbidden("\(p.role.rawValue) may not \(action.rawValue)")
        }
    }
}

/// Why a change to a staff member's role or standing is refused.
public enum GrantError: Error, Equatable, Sendable {
    /// Nobody changes its own role or deactivates itself.
    case ownAccount
    /// The granter does not hold the role it tries to give, or the role is not a staff role.
    case roleNotHeld
    /// Sites outside the granter's own, or the whole organization by someone scoped to sites.
    case outsideScope
    /// The organization would be left without an active super-administrator.
    case lastSuperAdmin

    public var message: String {
        switch self {
        case .ownAccount: "You cannot change your own role or deactivate your own account."
        case .roleNotHeld: "You can only give a role you hold yourself."
        case .outsideScope: "You can only give access to sites you run yourself."
        case .lastSuperAdmin: "The organization's last super-administrator cannot be removed or demoted."
        }
    }
}

/// The rules for giving and taking staff roles: no one gains what the granter does not have.
public enum RoleGrant {
    /// A staff member as the rules see it.
    public struct Holder: Sendable, Equatable {
        public var id: UUID
        public var role: Principal.Role
        /// nil: the whole organization.
        public var sites: Set<UUID>?

        public init(id: UUID, role: Principal.Role, sites: Set<UUID>?) {
            self.id = id
            self.role = role
            self.sites = sites
        }
    }

    /// Whether `granter` (with `granterSites`, nil for the whole organization) may manage `target` at all.
    /// An account outside the granter's reach is reported as not existing by the caller.
    public static func canSee(granter: Holder, target: Holder) -> Bool {
        switch granter.role {
        case .superAdmin: return true
        case .admin:
            guard target.role != .superAdmin, let mine = granter.sites, let theirs = target.sites else { return false }
            return theirs.isSubset(of: mine)
        default: return false
        }
    }

    /// Checks giving `role` over `sites` (nil = organization) to `target` (nil when inviting someone new).
    public static func checkGrant(
        granter: Holder, target: Holder?, role: Principal.Role, sites: Set<UUID>?, activeSuperAdmins: Int
    ) throws(GrantError) {
        guard role.isStaff else { throw .roleNotHeld }
        if let target {
            if target.id == granter.id { throw .ownAccount }
            if !canSee(granter: granter, target: target) { throw .outsideScope }
            if target.role == .superAdmin && role != .superAdmin && activeSuperAdmins <= 1 { throw .lastSuperAdmin }
        }
        switch granter.role {
        case .superAdmin:
            return
        case .admin:
            // An admin gives only roles it holds or below it (admin, auditor), and only over its own sites.
            guard role == .admin || role == .auditor else { throw .roleNotHeld }
            guard let mine = granter.sites, let sites, !sites.isEmpty, sites.isSubset(of: mine) else {
                throw .outsideScope
            }
        default:
            throw .roleNotHeld
        }
    }

    /// Checks deactivating `target`.
    public static func checkDeactivate(granter: Holder, target: Holder, activeSuperAdmins: Int) throws(GrantError) {
        if target.id == granter.id { throw .ownAccount }
        guard granter.role == .superAdmin || granter.role == .admin else { throw .roleNotHeld }
        if !canSee(granter: granter, target: target) { throw .outsideScope }
        if target.role == .superAdmin && activeSuperAdmins <= 1 { throw .lastSuperAdmin }
    }
}
