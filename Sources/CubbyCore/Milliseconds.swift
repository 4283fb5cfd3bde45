#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Lengths of time in whole milliseconds: the unit in which the database, the unit's journal and the
/// edge link carry times.
public enum Milliseconds {
    public static let second: Int64 = 1_000
    public static let minute: Int64 = 60 * second
    public static let hour: Int64 = 60 * minute
    public static let day: Int64 = 24 * hour

    /// A duration in whole milliseconds, truncated.
    public static func of(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * second + attoseconds / 1_000_000_000_000_000
    }

    /// A number of seconds in milliseconds.
    public static func of(seconds: Int64) -> Int64 { seconds * second }

    /// A time interval in whole milliseconds, truncated.
    public static func of(seconds: Double) -> Int64 { Int64(seconds * Double(second)) }
}

extension Date {
    /// Whole milliseconds since 1970, truncated; the one conversion used for storage and for audit bytes.
    ///
    /// A `Date` is a `Double`, so a time made from whole milliseconds can come back a hair below them;
    /// anything within a microsecond of a whole millisecond counts as that millisecond.
    public var millisecondsSince1970: Int64 {
        let x = timeIntervalSince1970 * 1000
        let nearest = x.rounded()
        if abs(x - nearest) < 1e-3 { return Int64(nearest) }
        return Int64(x.rounded(.down))
    }

    /// The time `milliseconds` after 1970; the inverse of `millisecondsSince1970`.
    public init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }
}
