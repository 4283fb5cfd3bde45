#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The bounds and defaults of a site's settings and of a locker unit's layout: numbers only, so that the server
/// and the unit's kiosk read the same ones.
public enum SiteSettings {
    /// The languages the kiosk speaks (`KioskLanguage` in CubbyKiosk; a test keeps the two equal).
    public static let kioskLanguages: [String] = ["en", "es"]
    public static let defaultLanguages: [String] = ["en"]

    public static let defaultPickupLifetimeSeconds: Int = 7 * 86_400
    /// A parcel waits at least a day and at most thirty.
    public static let pickupLifetimeSeconds: ClosedRange<Int> = 86_400...(30 * 86_400)
    public static let defaultReservationSeconds: Int = 600
    /// A courier's reservation lasts one minute to one hour.
    public static let reservationSeconds: ClosedRange<Int> = 60...3_600
    /// Hours after a deposit at which the recipient is reminded.
    public static let defaultReminderHours: [Int] = [24, 72]
    public static let maxReminders = 5

    public static let nameLength: ClosedRange<Int> = 1...80
    public static let addressLength: ClosedRange<Int> = 1...200
}

/// The bounds of a locker unit's layout: columns of compartments, top to bottom.
public enum UnitLayoutBounds {
    public static let columns: ClosedRange<Int> = 1...20
    public static let compartmentsPerColumn: ClosedRange<Int> = 1...20
    public static let totalCompartments: ClosedRange<Int> = 1...200
    /// Inner dimensions in millimetres.
    public static let widthMm: ClosedRange<Int> = 100...1_200
    public static let heightMm: ClosedRange<Int> = 50...2_000
    public static let depthMm: ClosedRange<Int> = 100...1_000
    public static let labelLength: ClosedRange<Int> = 1...8
}
