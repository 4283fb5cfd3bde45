#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a change to sites, units, compartments or carriers is refused by the state of what it changes.
public enum ProvisioningError: Error, Equatable, Sendable, CaseIterable {
    /// A unit still holds a parcel that is reserved, deposited or expired in it.
    case unitNotEmpty
    /// The unit is decommissioned: it takes no parcels, enrollment or link.
    case unitDecommissioned
    /// The compartment holds or awaits a parcel, or is not available.
    case compartmentNotEmpty
    /// The carrier is deactivated: no credentials, announcements or drop-offs.
    case carrierDeactivated

    /// The stable code the API answers with.
    public var code: String {
        switch self {
        case .unitNotEmpty: "unit_not_empty"
        case .unitDecommissioned: "unit_decommissioned"
        case .compartmentNotEmpty: "compartment_not_empty"
        case .carrierDeactivated: "carrier_deactivated"
        }
    }

    public var message: String {
        switch self {
        case .unitNotEmpty:
            "the unit still holds parcels (reserved, deposited or expired); remove or let them be picked up first"
        case .unitDecommissioned: "the unit is decommissioned and takes no parcels"
        case .compartmentNotEmpty: "the compartment holds or awaits a parcel; change it only while it is empty"
        case .carrierDeactivated: "the carrier is deactivated"
        }
    }
}
