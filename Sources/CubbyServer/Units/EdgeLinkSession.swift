import CubbyCore
import Foundation
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// One edge controller's WebSocket link: state and commands down, journaled events and requests up.
struct EdgeLinkSession {
    let unitId: String
    /// The credential the controller authenticated with.
    let credentialId: String
    let edges: EdgeDesk
    let logger: Logger
    var hub: EdgeHub { edges.hub }
    /// How often the unit's state is sent again (its codes' expiries move on without any event). Commands are never
    /// polled: those waiting go out when the link comes up, this process's own as their transaction commits, and other
    /// processes' through `UnitCommandRelay`.
    static let stateRefresh: Duration = .seconds(30)

    static let encoder = JSONEncoder()

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        // The unit's state goes first, ahead of any command sent to the new connection: a unit without its state knows
        // no compartment, and would answer a command with `unknown_compartment`.
        let first: [EdgeDownMessage] = [
            .state(try await edges.state(unitId: unitId)), .ack(seq: try await edges.lastSeq(unitId: unitId)),
        ]
        let (connection, messages) = hub.register(unitId: unitId, first: first)
        defer { hub.unregister(unitId: unitId, id: connection) }
        logger.info("edge controller connected", metadata: ["unit": "\(unitId)"])
        do { try await edges.unitLinked(unitId: unitId) } catch {
            logger.warning("the unit's return was not recorded", metadata: ["unit": "\(unitId)", "error": "\(error)"])
        }
        // Commands stored while the unit was away (or while this connection was being set up), then the state as it
        // is now.
        for command in try await edges.pendingCommands(unitId: unitId) { hub.send(.command(command), to: unitId) }
        await edges.states.push(unitId: unitId)
        do {
            let revoked = try await edges.linkConnected(unitId: unitId, credentialId: credentialId)
            if !revoked.isEmpty {
                logger.info(
                    "earlier enrolled credentials revoked",
                    metadata: ["unit": "\(unitId)", "count": "\(revoked.count)"])
            }
        } catch {
            logger.warning(
                "earlier enrolled credentials not revoked", metadata: ["unit": "\(unitId)", "error": "\(error)"])
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // A command reaches this link both from whoever issued it and from the poll: write it once.
                var written = Set<String>()
                for await message in messages {
                    if case .command(let command) = message, !written.insert(command.id).inserted { continue }
                    try await outbound.writeTextMessage(
                        String(decoding: try Self.encoder.encode(message), as: UTF8.self))
                }
                // Replaced by a newer connection of the same unit.
                try? await outbound.close(.normalClosure, reason: "replaced")
            }
            group.addTask { try await refreshState() }
            for try await message in inbound.messages(maxSize: EdgeLink.maxMessageBytes) {
                guard case .text(let text) = message,
                    let up = try? JSONDecoder().decode(EdgeUpMessage.self, from: Data(text.utf8))
                else {
                    logger.warning("edge sent an unreadable message", metadata: ["unit": "\(unitId)"])
                    continue
                }
                await handle(up)
            }
            group.cancelAll()
        }
        logger.info("edge controller disconnected", metadata: ["unit": "\(unitId)"])
    }

    func refreshState() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: Self.stateRefresh)
            if let state = try? await edges.state(unitId: unitId) { hub.send(.state(state), to: unitId) }
        }
    }

    func handle(_ message: EdgeUpMessage) async {
        switch message {
        case .hello(let version, let lastSeq):
            logger.debug(
                "edge hello", metadata: ["unit": "\(unitId)", "version": "\(version)", "lastSeq": "\(lastSeq)"])
        case .event(let event, let photo):
            do {
                let bytes = try photo.map { text -> Data in
                    guard let d = Data(base64Encoded: text) else {
                        throw DomainError.invalidRequest("photo is not base64")
                    }
                    return d
                }
                let applied = try await edges.apply(unitId: unitId, event: event, photo: bytes)
                hub.send(.ack(seq: event.seq), to: unitId)
                if applied.stateChanged { await edges.states.push(unitId: unitId) }
            } catch {
                // Not acknowledged: the unit sends it again.
                logger.error(
                    "edge event not applied",
                    metadata: ["unit": "\(unitId)", "seq": "\(event.seq)", "error": "\(error)"])
            }
        case .commandAck(let id, let outcome):
            try? await edges.acknowledge(unitId: unitId, commandId: id, outcome: outcome)
        case .courierCheck(let requestId, let token):
            let name = await edges.courierName(token: token, unitId: unitId)
            hub.send(.courier(requestId: requestId, displayName: name), to: unitId)
        case .dropoff(let requestId, let token, let tracking, let recipient, let size):
            hub.send(
                await edges.kioskDropoff(
                    requestId: requestId, token: token, unitId: unitId, trackingNumber: tracking,
                    recipientId: recipient, size: size), to: unitId)
        }
    }
}
