import Foundation

/// An authenticated caller and what it is scoped to.
public struct Principal: Sendable, Hashable {
    /// What kind of credential authenticated the call.
    public enum Role: String, Sendable, Codable, CaseIterable {
        case courier, device, admin, carrier
        /// Reads the audit log, its proofs and exports of its organization; changes nothing.
        case auditor
    }
    public var role: Role
    /// The credential's id (for audit).
    public var credentialId: UUID
    public var organizationId: UUID
    /// Courier/carrier: the carrier. Device: nil. Admin: nil.
    public var carrierId: UUID?
    /// Device: its unit.
    public var unitId: UUID?
    /// Admin: its sites; courier/carrier: the sites its carrier serves.
    public var siteIds: Set<UUID>
    /// The courier's or admin's own id, where it has one.
    public var subjectId: UUID?

    public init(
        role: Role, credentialId: UUID, organizationId: UUID, carrierId: UUID? = nil, unitId: UUID? = nil,
        siteIds: Set<UUID> = [], subjectId: UUID? = nil
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
        let kind: Actor.Kind = switch role {
        case .courier: .courier
        case .device: .device
        case .admin: .admin
        case .auditor: .auditor
        case .carrier: .carrier
        }
        return Actor(kind: kind, id: (subjectId ?? unitId ?? carrierId ?? credentialId).uuidString.lowercased(), role: role.rawValue)
    }
}
