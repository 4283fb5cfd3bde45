import CubbyCore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle

/// The TLS 1.3 listener for edge controllers: the same API, plus the units' WebSocket link. Nil without `edge.port`.
public func buildEdgeListener(
    parts: CubbyServerParts, settings: ServerSettings, logger: Logger,
    onServerRunning: (@Sendable (any Channel) async -> Void)? = nil
) throws -> (any Service)? {
    guard let port = settings.edgePort else { return nil }
    let identity = try ServerIdentity.loadOrCreate(
        certificatePath: settings.tlsCertificate, keyPath: settings.tlsKey, hosts: [settings.host])
    let router = try buildRouter(parts: parts, settings: settings, logger: logger)
    let authenticator = parts.edges.authenticator
    let edges = parts.edges
    let server: HTTPServerBuilder = try .tls(
        .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: EdgeLink.maxMessageBytes))) {
            request, _, logger in
            // The same authentication and policy check as every route (GuardedRouter.authorize).
            guard request.path?.split(separator: "?").first.map(String.init) == EdgeLink.path,
                let header = request.headerFields[.authorization],
                let principal = try? await authenticator.principal(forHeader: header),
                (try? GuardedRouter.authorize(principal, .edgeLink)) != nil, let unitId = principal.unitId?.idString
            else { return .dontUpgrade }
            let credentialId = principal.credentialId.idString
            return .upgrade([:]) { inbound, outbound, _ in
                try await EdgeLinkSession(unitId: unitId, credentialId: credentialId, edges: edges, logger: logger).run(
                    inbound: inbound, outbound: outbound)
            }
        },
        tlsConfiguration: try identity.tlsConfiguration())
    let pin = try identity.spkiSHA256()
    logger.info("edge listener", metadata: ["port": "\(port)", "pin": "\(pin)"])
    return Application(
        router: router, server: server,
        configuration: .init(address: .hostname(settings.host, port: port), serverName: "cubby-edge-link"),
        onServerRunning: onServerRunning ?? { _ in },
        logger: logger)
}
