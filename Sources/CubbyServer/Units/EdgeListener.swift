import CubbyConnections
import CubbyCore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The TLS 1.3 listener for edge controllers: the units' WebSocket link and their enrollment, nothing else
/// (`edgeRouter`). Nil without `edge.port`.
public func buildEdgeListener(
    parts: CubbyServerParts, settings: ServerSettings, logger: Logger,
    onServerRunning: (@Sendable (any Channel) async -> Void)? = nil
) throws -> (any Service)? {
    guard let port = settings.edgePort else { return nil }
    let identity = try ServerIdentity.loadOrCreate(
        certificatePath: settings.tlsCertificate, keyPath: settings.tlsKey, hosts: [settings.host])
    let router = edgeRouter(parts: parts, logger: logger)
    let authenticator = parts.edges.authenticator
    let edges = parts.edges
    let limits = settings.connectionLimits
    let counter = AddressConnectionCounter(limit: limits.maxConnectionsPerAddress)
    let tls = try ReloadableTLS(fixed: try NIOSSLContext(configuration: try identity.tlsConfiguration()))
    let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
        http1: .init(additionalChannelHandlers: [GuardedChildChannel<HTTP1Channel>.progressReporter()]),
        ws: .init(maxFrameSize: EdgeLink.maxMessageBytes))
    let server = HTTPServerBuilder { responder in
        let upgrade = HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration) {
            request, channel, logger in
            // The same authentication and policy check as every route (GuardedRouter.authorize).
            guard request.path?.split(separator: "?").first.map(String.init) == EdgeLink.path,
                let header = request.headerFields[.authorization],
                let principal = try? await authenticator.principal(forHeader: header),
                (try? GuardedRouter.authorize(principal, .edgeLink)) != nil, let unitId = principal.unitId?.idString
            else { return .dontUpgrade }
            let credentialId = principal.credentialId.idString
            // From here the link's own pings keep the connection alive, not the HTTP timeouts.
            channel.triggerUserOutboundEvent(RequestProgress.upgraded, promise: nil)
            return .upgrade([:]) { inbound, outbound, _ in
                try await EdgeLinkSession(unitId: unitId, credentialId: credentialId, edges: edges, logger: logger).run(
                    inbound: inbound, outbound: outbound)
            }
        }
        return GuardedChildChannel(upgrade, limits: limits, counter: counter, tls: tls)
    }
    let pin = try identity.spkiSHA256()
    logger.info("edge listener", metadata: ["port": "\(port)", "pin": "\(pin)"])
    return Application(
        router: router, server: server,
        configuration: .init(address: .hostname(settings.host, port: port), serverName: "cubby-edge-link"),
        onServerRunning: onServerRunning ?? { _ in },
        logger: logger)
}

/// The edge port's routes: enrollment, the link (a plain request learns that it is a WebSocket) and
/// `/healthz`. The API and the portals are served on the main port only; here they answer 404, and
/// every answer carries `Strict-Transport-Security`.
func edgeRouter(parts: CubbyServerParts, logger: Logger) -> Router<CubbyRequestContext> {
    let router = Router(context: CubbyRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: StrictTransportSecurity<CubbyRequestContext>())
    router.add(middleware: ErrorMapping<CubbyRequestContext>(logger: logger))
    router.add(middleware: parts.edges.authenticator)
    var routes = GuardedRouter(router: router, portalGate: nil)
    EdgeRoutes(edges: parts.edges).registerEdgePort(on: &routes)
    ParcelRoutes(desk: parts.desk, openAPI: ByteBuffer()).registerHealth(on: &routes)
    return router
}

/// Adds `Strict-Transport-Security` to every answer (the edge port speaks TLS only).
struct StrictTransportSecurity<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        return response
    }
}
