import CubbyCore

/// Every action an API route performs, and the one table of roles allowed to perform it.
///
/// Scope (which unit, parcel or site) is checked by the flows; this table decides the role.
public enum APIAction: String, CaseIterable, Sendable {
    case announceParcel, createDropoff, readParcel, cancelParcel, removeParcel
    case pickup, reportUnitEvent, readUnit, resumePinEntry, readAudit

    /// Roles allowed to perform the action.
    public var allowedRoles: Set<Principal.Role> {
        switch self {
        case .announceParcel: [.carrier, .courier]
        case .createDropoff: [.courier]
        case .readParcel: [.courier, .carrier, .device, .admin]
        case .cancelParcel: [.courier, .carrier, .admin]
        case .removeParcel: [.admin]
        case .pickup: [.device]
        case .reportUnitEvent: [.device]
        case .readUnit: [.device, .admin]
        case .resumePinEntry: [.admin]
        case .readAudit: [.admin, .auditor]
        }
    }
}
