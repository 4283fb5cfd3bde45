#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// An authenticated caller and what it is scoped to.
public struct Principal: Sendable, Hashable {
    /// What kind of credential authenticated the call.
    public enum Role: String, Sendable, Codable, CaseIterable {
        /// A recipient, on its own pages.
        case resident
        /// Drops off at the sites its carrier serves.
        case courier
        /// A carrier's integration (API key): announces parcels and reads their status.
        case carrier
        /// A locker unit.
        case device
        /// Runs its sites.
        case admin
        /// Runs its whole organization.
        case superAdmin = "super-admin"
        /// Reads the audit log, its proofs and exports of its organization; changes nothing.
        case auditor
        /// An identity provider's SCIM client: provisions the recipients of one site, and nothing else.
        case scim

        /// Roles held by people who sign in to the management portal with two factors.
        public static let staff: [Role] = [.superAdmin, .admin, .auditor]

        public var isStaff: Bool { Self.staff.contains(self) }
    }
    public var role: Role
    /// The credential's id (for audit).
    public var credentialId: CredentialID
    public var organizationId: OrganizationID
    /// Courier/carrier: the carrier. Device: nil. Admin: nil.
    public var carrierId: CarrierID?
    /// Device: its unit.
    public var unitId: UnitID?
    /// Admin and auditor: its sites (every site of the organization when it is not limited);
    /// super-admin: every site of the organization; courier/carrier: the sites its carrier serves; scim: its one site.
    public var siteIds: Set<SiteID>
    /// The courier's or admin's own id, where it has one.
    public var subjectId: PersonID?
    /// Whether the principal reaches its whole organization rather than some of its sites: a super-administrator,
    /// or an admin key without a site list (it authenticates as one).
    public var organizationWide: Bool { role == .superAdmin }

    public init(
        role: Role, credentialId: CredentialID, organizationId: OrganizationID, carrierId: CarrierID? = nil,
        unitId: UnitID? = nil,
        siteIds: Set<SiteID> = [], subjectId: PersonID? = nil
    ) {
        self.role = role
        self.credentialId = credentialId
        self.organizationId = organizationId
        self.carrierId = carrierId
        self.unitId = unitId
        self.siteIds = siteIds
        self.subjectId = subjectId
    }

    /// The audit actor for this principal.
    public var actor: Actor {
        let kind: Actor.Kind =
            switch role {
            case .courier: .courier
            case .device: .device
            case .admin, .superAdmin: .admin
            case .auditor: .auditor
            case .resident: .recipient
            case .carrier: .carrier
            case .scim: .scim
            }
        return Actor(
            kind: kind, id: (subjectId?.uuid ?? unitId?.uuid ?? carrierId?.uuid ?? credentialId.uuid).idString,
            role: role.rawValue)
    }
}
