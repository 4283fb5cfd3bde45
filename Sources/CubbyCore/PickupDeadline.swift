#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How far staff may move a deposited parcel's pickup deadline: a parcel waits at most twice its site's pickup
/// lifetime after its deposit, and never longer than the longest pickup lifetime a site may set
/// (``SiteSettings/pickupLifetimeSeconds``), so repeated extensions cannot keep a compartment indefinitely.
public enum PickupDeadline {
    /// The days one extension may add.
    public static let extensionDays: ClosedRange<Int> = 1...30

    /// The latest deadline of a parcel deposited at `depositedAt` (Unix milliseconds) at a site whose parcels wait
    /// `siteLifetimeSeconds`.
    public static func latest(depositedAt: Int64, siteLifetimeSeconds: Int64) -> Int64 {
        let longest = Int64(SiteSettings.pickupLifetimeSeconds.upperBound)
        return depositedAt + min(2 * siteLifetimeSeconds, longest) * 1000
    }
}

/// Why staff's change to a parcel is refused (besides its state).
public enum ParcelChangeError: Error, Equatable, Sendable {
    /// The new pickup deadline would be later than ``PickupDeadline/latest(depositedAt:siteLifetimeSeconds:)``
    /// (Unix milliseconds).
    case beyondSiteLimit(latest: Int64)

    /// The error code of the API.
    public var code: String { "beyond_site_limit" }
}
