#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A still camera watching the unit's front.
public protocol Camera: Sendable {
    /// Takes one still and returns it as JPEG bytes. `caption` is stamped on it (with the time).
    func still(caption: String, at time: Date) async throws -> Data
}
