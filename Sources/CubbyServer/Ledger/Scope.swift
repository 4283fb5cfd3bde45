import CubbyCore
import CubbyStore
import Foundation

/// Whether a principal may see a thing: organization → site → unit. Outside its scope a thing does not exist.
enum Scope {
    static func covers(_ p: Principal, unit: UnitRecord) -> Bool {
        guard unit.organizationId == p.organizationId.idString else { return false }
        switch p.role {
        case .device: return p.unitId?.idString == unit.id
        case .courier, .carrier, .admin, .superAdmin: return p.siteIds.contains { $0.idString == unit.siteId }
        case .auditor, .resident, .scim: return false
        }
    }

    /// Staff see and answer the alerts of their sites (a super-administrator's are all of them); an alert
    /// without a site is for organization-wide roles only.
    static func covers(_ p: Principal, alert: AlertRecord) -> Bool {
        guard alert.organizationId == p.organizationId.idString else { return false }
        switch p.role {
        case .superAdmin: return true
        case .admin, .auditor: return alert.siteId.map { site in p.siteIds.contains { $0.idString == site } } ?? false
        case .device, .courier, .carrier, .resident, .scim: return false
        }
    }

    /// A site of the principal's (its organization is checked where the site was read).
    static func covers(_ p: Principal, siteId: String) -> Bool {
        p.siteIds.contains { $0.idString == siteId }
    }

    static func covers(_ p: Principal, parcel: ParcelRecord) -> Bool {
        guard parcel.organizationId == p.organizationId.idString else { return false }
        switch p.role {
        case .device: return p.unitId?.idString == parcel.unitId
        case .courier, .carrier: return p.carrierId?.idString == parcel.carrierId
        case .admin, .superAdmin: return p.siteIds.contains { $0.idString == parcel.siteId }
        case .auditor, .resident, .scim: return false
        }
    }

    /// An audit event of the principal's organization that its sites cover; organization-wide events (no site) are
    /// for every staff member of the organization.
    static func covers(_ p: Principal, event: StoredAuditEvent) -> Bool {
        guard event.organizationId == p.organizationId.idString else { return false }
        guard let site = event.siteId else { return true }
        return p.siteIds.contains { $0.idString == site }
    }
}
