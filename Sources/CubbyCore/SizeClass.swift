/// The size class of a compartment or a parcel, smallest first.
///
/// A parcel fits any compartment of its own class or larger; best-fit assignment picks the smallest that fits.
public enum SizeClass: String, Codable, Sendable, CaseIterable, Comparable {
    case small = "S"
    case medium = "M"
    case large = "L"
    case extraLarge = "XL"

    /// Position in the ordering smallest → largest.
    public var rank: Int {
        switch self {
        case .small: 0
        case .medium: 1
        case .large: 2
        case .extraLarge: 3
        }
    }

    public static func < (lhs: SizeClass, rhs: SizeClass) -> Bool { lhs.rank < rhs.rank }

    /// Whether a parcel of this class fits a compartment of class `compartment`.
    public func fits(in compartment: SizeClass) -> Bool { self <= compartment }

    /// Typical inner dimensions (millimetres) of a compartment of this class, used for seeding.
    public var typicalInnerDimensions: Dimensions {
        switch self {
        case .small: Dimensions(width: 400, height: 100, depth: 550)
        case .medium: Dimensions(width: 400, height: 200, depth: 550)
        case .large: Dimensions(width: 400, height: 400, depth: 550)
        case .extraLarge: Dimensions(width: 400, height: 800, depth: 550)
        }
    }
}

/// Inner dimensions of a compartment in millimetres.
public struct Dimensions: Codable, Sendable, Hashable {
    public var width: Int
    public var height: Int
    public var depth: Int

    public init(width: Int, height: Int, depth: Int) {
        self.width = width
        self.height = height
        self.depth = depth
    }
}
