import CubbyCore
import CubbyStore
import Logging
import ServiceLifecycle

/// Several server processes on one PostgreSQL database: a door command stored by one process reaches a unit whose link
/// another process holds. Storing a command notifies `UnitCommandChannel` at commit; every process listens and sends the
/// unit's pending commands (and then its state) when the unit's link is here. Nothing is polled.
///
/// A notification missed while the listening connection was down is made up for when it is back: every unit
/// connected here then gets its pending commands.
public struct UnitCommandRelay: Service {
    let store: PostgresStore
    let edges: EdgeDesk
    let logger: Logger
    /// Called each time the listener is in place (tests wait for it).
    let onListening: @Sendable () async -> Void

    public init(
        store: PostgresStore, edges: EdgeDesk, logger: Logger, onListening: @escaping @Sendable () async -> Void = {}
    ) {
        self.store = store
        self.edges = edges
        self.logger = logger
        self.onListening = onListening
    }

    /// How long the relay waits before listening again after its connection failed.
    static let retryDelay: Duration = .seconds(1)

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await store.follow(
                        channel: UnitCommandChannel.name,
                        onListening: {
                            // Whatever was stored while nobody listened goes out now.
                            for unitId in edges.hub.connectedUnits { await send(unitId) }
                            await onListening()
                        }
                    ) { unitId in await send(unitId) }
                } catch {
                    logger.warning("unit command listener failed; listening again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: Self.retryDelay)
            }
        }
    }

    /// Sends a unit connected here its pending commands and its state.
    func send(_ unitId: String) async {
        guard edges.hub.isConnected(unitId) else { return }
        do {
            for command in try await edges.pendingCommands(unitId: unitId) {
                edges.hub.send(.command(command), to: unitId)
            }
            await edges.states.push(unitId: unitId)
        } catch {
            logger.warning("unit commands not relayed", metadata: ["unit": "\(unitId)", "error": "\(error)"])
        }
    }
}
