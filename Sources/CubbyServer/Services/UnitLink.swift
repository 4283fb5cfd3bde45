import Foundation

/// A door event reported by a locker unit.
public struct UnitDoorEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case doorOpened = "door_opened"
        case doorClosed = "door_closed"
    }
    public var kind: Kind
    public var unitId: String
    public var compartmentId: String
    /// The item sensor when the door closed.
    public var itemPresent: Bool?
    public var occurredAt: Date

    public init(kind: Kind, unitId: String, compartmentId: String, itemPresent: Bool?, occurredAt: Date) {
        self.kind = kind
        self.unitId = unitId
        self.compartmentId = compartmentId
        self.itemPresent = itemPresent
        self.occurredAt = occurredAt
    }
}

/// Why a door is opened.
public enum DoorOpenReason: String, Sendable {
    case dropoff, pickup, removal
}

/// The server's way to command locker units. The in-process simulator implements it now; the edge
/// controller's WebSocket link implements it later.
public protocol UnitLink: Sendable {
    /// Tells the unit to open a compartment's door. Called after the state change has committed.
    func openDoor(unitId: String, compartmentId: String, reason: DoorOpenReason) async
}

/// Where units' reports go: the parcel flows.
public protocol UnitEventSink: Sendable {
    func unitReported(_ event: UnitDoorEvent) async
}

/// A link that does nothing; for servers where every unit has its own controller and for benchmarks
/// that measure the server alone.
public struct DetachedUnitLink: UnitLink {
    public init() {}
    public func openDoor(unitId: String, compartmentId: String, reason: DoorOpenReason) async {}
}
