#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a compartment is doing.
public enum CompartmentState: String, Codable, Sendable, CaseIterable {
    case available
    case reserved
    case occupied
    case outOfService = "out_of_service"
}

/// Whether the compartment's door is open.
public enum DoorState: String, Codable, Sendable {
    case open
    case closed
}

/// One compartment of a locker unit.
public struct Compartment: Codable, Sendable, Hashable, Identifiable {
    public var id: UUID
    public var unitId: UUID
    /// What is printed on the door, e.g. `A07`.
    public var label: String
    public var size: SizeClass
    public var inner: Dimensions
    /// Within wheelchair reach (ADA / EN 81-70 reach range).
    public var accessible: Bool
    public var state: CompartmentState
    public var door: DoorState
    /// The parcel that holds it, if any.
    public var parcelId: UUID?

    public init(
        id: UUID, unitId: UUID, label: String, size: SizeClass, inner: Dimensions, accessible: Bool,
        state: CompartmentState = .available, door: DoorState = .closed, parcelId: UUID? = nil
    ) {
        self.id = id
        self.unitId = unitId
        self.label = label
        self.size = size
        self.inner = inner
        self.accessible = accessible
        self.state = state
        self.door = door
        self.parcelId = parcelId
    }
}
