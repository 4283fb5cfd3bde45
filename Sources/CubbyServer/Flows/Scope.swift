import CubbyCore
import CubbyStore
import Foundation

/// Whether a principal may see a thing: organization → site → unit. Outside its scope a thing does not exist.
enum Scope {
    static func covers(_ p: Principal, unit: UnitRecord) -> Bool {
        guard unit.organizationId == p.organizationId.uuidString.lowercased() else { return false }
        switch p.role {
        case .device: return p.unitId?.uuidString.lowercased() == unit.id
        case .courier, .carrier, .admin, .superAdmin: return p.siteIds.contains { $0.uuidString.lowercased() == unit.siteId }
        case .auditor, .resident: return false
        }
    }

    /// Staff see and answer the alerts of their sites (a super-administrator's are all of them); an alert
    /// without a site is for organization-wide roles only.
    static func covers(_ p: Principal, alert: AlertRecord) -> Bool {
        guard alert.organizationId == p.organizationId.uuidString.lowercased() else { return false }
        switch p.role {
        case .superAdmin: return true
        case .admin, .auditor: return alert.siteId.map { site in p.siteIds.contains { $0.uuidString.lowercased() == site } } ?? false
        case .device, .courier, .carrier, .resident: return false
        }
    }

    static func covers(_ p: Principal, parcel: ParcelRecord) -> Bool {
        guard parcel.organizationId == p.organizationId.uuidString.lowercased() else { return false }
        switch p.role {
        case .device: return p.unitId?.uuidString.lowercased() == parcel.unitId
        case .courier, .carrier: return p.carrierId?.uuidString.lowercased() == parcel.carrierId
        case .admin, .superAdmin: return p.siteIds.contains { $0.uuidString.lowercased() == parcel.siteId }
        case .auditor, .resident: return false
        }
    }
}
