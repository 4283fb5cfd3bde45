#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A signal from the unit's sensors other than the lock boards' own lock and item sensors.
public enum SensorSignal: Sendable, Equatable, Codable {
    /// A tamper sensor fired.
    case tamper(TamperKind, detail: String)
    /// The cabinet's service door opened (true) or closed (false).
    case serviceDoor(open: Bool)
    /// Mains power failed (false) or returned (true); the unit runs on its battery meanwhile.
    case mainsPower(on: Bool)
    /// The network link went down (false) or came back (true).
    case network(up: Bool)
}

/// What kind of tampering a sensor reports.
public enum TamperKind: String, Sendable, Codable, CaseIterable {
    /// The accelerometer saw a blow.
    case impact
    /// A door or panel is being levered.
    case pry
    /// A door opened without an unlock command.
    case forcedDoor = "forced_door"
    /// The service door opened while no service was announced.
    case serviceDoor = "service_door"
}

/// The unit's sensor inputs as one stream.
public protocol SensorPanel: Sendable {
    /// Signals in the order they happen. Finishes when the panel shuts down.
    var signals: AsyncStream<SensorSignal> { get }
}

/// Sensors driven by hand: the demo's and the tests' way to shake, pry or unplug a unit.
public final class SimulatedSensorPanel: SensorPanel {
    public let signals: AsyncStream<SensorSignal>
    private let continuation: AsyncStream<SensorSignal>.Continuation

    public init() {
        (signals, continuation) = AsyncStream.makeStream(of: SensorSignal.self)
    }

    /// Raises a signal as the real sensor would.
    public func raise(_ signal: SensorSignal) {
        continuation.yield(signal)
    }

}
