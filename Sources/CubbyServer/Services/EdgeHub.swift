import CubbyCore
import Foundation
import Logging
import Synchronization

/// The units whose edge controllers are connected to this process, and a way to send to each.
public final class EdgeHub: Sendable {
    struct Connection {
        let id: UUID
        let continuation: AsyncStream<EdgeDownMessage>.Continuation
    }
    private let connections = Mutex<[String: Connection]>([:])

    public init() {}

    /// Registers a unit's new connection (ending an older one of the same unit); returns the messages to send on it.
    func register(unitId: String) -> (UUID, AsyncStream<EdgeDownMessage>) {
        let (stream, continuation) = AsyncStream.makeStream(of: EdgeDownMessage.self)
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

    /// Whether the unit's controller is connected to this process.
    public func isConnected(_ unitId: String) -> Bool { connections.withLock { $0[unitId] != nil } }
}

/// Door commands for units: over the edge link for units with their own controller, otherwise to the
/// fallback (the in-process simulator, or nothing).
public final class EdgeUnitLink: UnitLink {
    let hub: EdgeHub
    let fallback: any UnitLink
    let logger: Logger
    private let edges = Mutex<EdgeDesk?>(nil)

    public init(hub: EdgeHub, fallback: any UnitLink, logger: Logger) {
        self.hub = hub
        self.fallback = fallback
        self.logger = logger
    }

    func attach(_ desk: EdgeDesk) { edges.withLock { $0 = desk } }

    public func openDoor(unitId: String, compartmentId: String, reason: DoorOpenReason) async {
        guard let edges = edges.withLock({ $0 }) else { return await fallback.openDoor(unitId: unitId, compartmentId: compartmentId, reason: reason) }
        do {
            guard try await edges.hasEdge(unitId: unitId) else {
                return await fallback.openDoor(unitId: unitId, compartmentId: compartmentId, reason: reason)
            }
            let command = try await edges.command(
                unitId: unitId, kind: .open, compartmentId: compartmentId, reason: reason.rawValue, lifetime: EdgeDesk.openCommandLifetime)
            hub.send(.command(command), to: unitId)
            await edges.pushState(unitId: unitId)
        } catch {
            logger.error("door command not stored", metadata: ["unit": "\(unitId)", "error": "\(error)"])
        }
    }
}
