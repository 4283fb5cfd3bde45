#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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
}
