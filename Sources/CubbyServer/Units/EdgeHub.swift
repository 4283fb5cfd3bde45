import CubbyCore
import Foundation
import Synchronization

/// The units whose edge controllers are connected to this process, and a way to send to each.
public final class EdgeHub: Sendable {
    struct Connection {
        let id: UUID
        let continuation: AsyncStream<EdgeDownMessage>.Continuation
    }
    private let connections = Mutex<[String: Connection]>([:])

    public init() {}

    /// Registers a unit's new connection (ending an older one of the same unit); returns the messages to send on it,
    /// beginning with `first`, ahead of anything sent to the unit from then on.
    func register(unitId: String, first: [EdgeDownMessage] = []) -> (UUID, AsyncStream<EdgeDownMessage>) {
        let (stream, continuation) = AsyncStream.makeStream(of: EdgeDownMessage.self)
        for message in first { continuation.yield(message) }
        let id = UUID()
        let old = connections.withLock { c -> Connection? in
            let old = c[unitId]
            c[unitId] = Connection(id: id, continuation: continuation)
            return old
        }
        old?.continuation.finish()
        return (id, stream)
    }

    func unregister(unitId: String, id: UUID) {
        let gone = connections.withLock { c -> Connection? in
            guard c[unitId]?.id == id else { return nil }
            return c.removeValue(forKey: unitId)
        }
        gone?.continuation.finish()
    }

    /// Queues a message for a connected unit; does nothing when the unit is not connected here.
    public func send(_ message: EdgeDownMessage, to unitId: String) {
        connections.withLock { $0[unitId] }?.continuation.yield(message)
    }

    /// Ends the unit's connection to this process, if it has one (a decommissioned unit).
    func end(unitId: String) {
        connections.withLock { $0.removeValue(forKey: unitId) }?.continuation.finish()
    }

    /// Whether the unit's controller is connected to this process.
    public func isConnected(_ unitId: String) -> Bool { connections.withLock { $0[unitId] != nil } }

    /// The units whose controllers are connected to this process.
    public var connectedUnits: [String] { connections.withLock { Array($0.keys) } }
}

/// Door commands for units: over the edge link for units with their own controller (the command is already stored,
/// and goes to the connection at once), otherwise to the fallback (the in-process simulator, or nothing).
public struct EdgeUnitLink: UnitLink {
    let states: UnitStates
    let fallback: any UnitLink

    public init(states: UnitStates, fallback: any UnitLink) {
        self.states = states
        self.fallback = fallback
    }

    public func deliver(_ command: DoorCommand) async {
        guard let stored = command.stored else { return await fallback.deliver(command) }
        states.hub.send(.command(stored), to: command.unitId)
        // Its codes changed (a pickup spends them): the unit gets its new state behind the command.
        await states.push(unitId: command.unitId)
    }

    public func deliver(_ command: EdgeCommand, to unitId: String) async {
        states.hub.send(.command(command), to: unitId)
        await states.push(unitId: unitId)
    }

    /// A unit connected to this process gets its new state now; one connected elsewhere at its next refresh.
    public func codesChanged(unitId: String) async {
        await states.push(unitId: unitId)
    }
}
