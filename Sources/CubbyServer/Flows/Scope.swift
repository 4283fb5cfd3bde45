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
