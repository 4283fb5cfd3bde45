import CubbyCore
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

/// A door that a committed flow decided to open.
public struct DoorCommand: Sendable, Equatable {
    public var unitId: String
    public var compartmentId: String
    public var reason: DoorOpenReason
    /// The command stored in the flow's transaction, for a unit with its own edge controller; nil for a unit without
    /// one (simulated in-process, or not driven from here).
    public var stored: EdgeCommand?

    public init(unitId: String, compartmentId: String, reason: DoorOpenReason, stored: EdgeCommand?) {
        self.unitId = unitId
        self.compartmentId = compartmentId
        self.reason = reason
        self.stored = stored
    }
}

/// The server's way to command locker units.
public protocol UnitLink: Sendable {
    /// Hands a door command to its unit. Called after the transaction that decided it has committed.
    func deliver(_ command: DoorCommand) async
    /// Hands any other stored command to its unit's controller, after the transaction that stored it has committed.
    func deliver(_ command: EdgeCommand, to unitId: String) async
    /// Tells a unit that checks codes by itself that its live pickup codes changed without a door opening (codes
    /// reissued or revoked, a deadline moved), after the transaction that changed them has committed.
    func codesChanged(unitId: String) async
}

extension UnitLink {
    /// A unit without a controller of its own has nothing to carry out.
    public func deliver(_ command: EdgeCommand, to unitId: String) async {}
    /// A unit without a controller of its own asks the server for every code.
    public func codesChanged(unitId: String) async {}
}

/// Where units' door reports go.
public protocol UnitEventSink: Sendable {
    func unitReported(_ event: UnitDoorEvent) async
}

/// A link that does nothing; for servers where every unit has its own controller and for benchmarks
/// that measure the server alone.
public struct DetachedUnitLink: UnitLink {
    public init() {}
    public func deliver(_ command: DoorCommand) async {}
}
