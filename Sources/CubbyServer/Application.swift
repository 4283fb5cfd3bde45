import CubbyCore
import CubbyCrypto
import CubbyStore
import Crypto
import Foundation
import Hummingbird
import Logging
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import NIOCore
import ServiceLifecycle

/// Everything a running server is made of, built in one place.
public struct CubbyServerParts: Sendable {
    public let store: any SQLStore
    public let keys: LockerKeys
    public let desk: ParcelDesk
    public let simulator: SimulatedUnits?
    public let outbox: OutboxDelivery
    public let expiry: ExpiryService
    public let auditLog: AuditLog
    public let auditLogService: AuditLogService
    public let staff: StaffDesk
    public let residents: ResidentDesk
    public let pages: PortalPages
    /// Edge controllers: enrollment, events, commands.
    public let edges: EdgeDesk
    /// The edge controllers connected to this process.
    public let hub: EdgeHub
}

/// Opens the database, applies migrations, loads keys, and wires the flows, link and services.
public func buildParts(
    settings: ServerSettings, clock: ServerClock = .system, policy: PinEntryPolicy = .standard, link: (any UnitLink)? = nil,
    passwordHasher: PasswordHasher = .standard, logger: Logger
) async throws -> CubbyServerParts {
    let store = try await StoreFactory.open(settings.database, logger: logger)
    let keys: LockerKeys
    let auditLog: AuditLog
    let pages: PortalPages
    do {
        pages = try await PortalPages.load()
        try await Migrator.migrate(store)
        let serverKeys = try ServerKeys.loadOrCreate(path: settings.keysPath)
        keys = LockerKeys(serverKeys)
        let origin = settings.logOrigin ?? AuditLog.defaultOrigin(for: serverKeys.checkpointSigningKey.publicKey)
        auditLog = try AuditLog(store: store, signingKey: serverKeys.checkpointSigningKey, origin: origin, clock: clock)
    } catch {
        await store.close()
        throw error
    }
    var simulator: SimulatedUnits? = nil
    let fallback: any UnitLink
    if let link {
        fallback = link
    } else if settings.simulateUnits {
        let sim = SimulatedUnits(delay: settings.simulatorDelay, logger: logger)
        simulator = sim
        fallback = sim
    } else {
        fallback = DetachedUnitLink()
    }
    // Units with their own edge controller are commanded over its link; the others go to the fallback.
    let hub = EdgeHub()
    let unitLink = EdgeUnitLink(hub: hub, fallback: fallback, logger: logger)
    let desk = ParcelDesk(store: store, keys: keys, policy: policy, link: unitLink, clock: clock, logger: logger)
    let edges = EdgeDesk(
        desk: desk, authenticator: Authenticator(store: store, keys: keys, clock: clock, maxBodyBytes: settings.maxBodyBytes), hub: hub, logger: logger)
    unitLink.attach(edges)
    simulator?.attach(desk)
    let channel: any NotificationChannel = settings.notifyFile.map { FileNotificationChannel(path: $0) } ?? LogNotificationChannel(logger: logger)
    let outbox = OutboxDelivery(store: store, keys: keys, channel: channel, interval: settings.outboxInterval, clock: clock, logger: logger)
    let expiry = ExpiryService(desk: desk, interval: settings.expiryInterval, logger: logger)
    let logService = AuditLogService(log: auditLog, logger: logger)
    let staff = StaffDesk(store: store, keys: keys, clock: clock, hasher: passwordHasher, logger: logger)
    return CubbyServerParts(
        store: store, keys: keys, desk: desk, simulator: simulator, outbox: outbox, expiry: expiry, auditLog: auditLog,
        auditLogService: logService, staff: staff, residents: ResidentDesk(store: store, keys: keys, clock: clock), pages: pages,
        edges: edges, hub: hub)
}

/// The HTTP router over the parts.
public func buildRouter(parts: CubbyServerParts, settings: ServerSettings, logger: Logger) throws -> Router<CubbyRequestContext> {
    try buildRoutes(parts: parts, settings: settings, logger: logger).router
}

/// The router and every route registered on it with its action: the policy table's view of the server.
public func buildRoutes(parts: CubbyServerParts, settings: ServerSettings, logger: Logger) throws -> (router: Router<CubbyRequestContext>, entries: [RouteEntry]) {
    let router = Router(context: CubbyRequestContext.self)
    router.add(middleware: ErrorMapping<CubbyRequestContext>(logger: logger))
    router.add(middleware: Authenticator(store: parts.store, keys: parts.keys, clock: parts.desk.clock, maxBodyBytes: settings.maxBodyBytes))
    let gate = PortalGate(staff: parts.staff, residents: parts.residents, pages: parts.pages, secureCookies: settings.secureCookies, logger: logger)
    var routes = GuardedRouter(router: router, portalGate: gate)
    APIRoutes(desk: parts.desk, log: parts.auditLog, openAPI: ByteBuffer(bytes: try OpenAPIDocument.bytes())).register(on: &routes)
    EdgeRoutes(edges: parts.edges).register(on: &routes)
    PortalRoutes(staff: parts.staff, gate: gate, publicURL: settings.linkBase, edges: parts.edges).register(on: &routes)
    ResidentRoutes(residents: parts.residents, gate: gate).register(on: &routes)
    return (router, routes.entries)
}

/// The composition root: the HTTP server with the background services beside it.
public func buildApplication(parts: CubbyServerParts, settings: ServerSettings, logger: Logger) throws -> some ApplicationProtocol {
    let router = try buildRouter(parts: parts, settings: settings, logger: logger)
    var services: [any Service] = [parts.outbox, parts.expiry, parts.auditLogService]
    if let edgeListener = try buildEdgeListener(parts: parts, settings: settings, logger: logger) { services.append(edgeListener) }
    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "cubby"),
        services: services,
        logger: logger)
}

/// The TLS 1.3 listener for edge controllers: the same API, plus the units' WebSocket link. Nil without `edge.port`.
public func buildEdgeListener(parts: CubbyServerParts, settings: ServerSettings, logger: Logger, onServerRunning: (@Sendable (any Channel) async -> Void)? = nil) throws -> (any Service)? {
    guard let port = settings.edgePort else { return nil }
    let identity = try ServerIdentity.loadOrCreate(certificatePath: settings.tlsCertificate, keyPath: settings.tlsKey, hosts: [settings.host])
    let router = try buildRouter(parts: parts, settings: settings, logger: logger)
    let authenticator = parts.edges.authenticator
    let edges = parts.edges
    let hub = parts.hub
    let server: HTTPServerBuilder = try .tls(
        .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: EdgeLink.maxMessageBytes))) { request, _, logger in
            guard request.path?.split(separator: "?").first.map(String.init) == EdgeLink.path, let header = request.headerFields[.authorization],
                let principal = try? await authenticator.principal(forHeader: header), AccessPolicy.allows(principal.role, .edgeLink),
                let unitId = principal.unitId?.uuidString.lowercased()
            else { return .dontUpgrade }
            return .upgrade([:]) { inbound, outbound, _ in
                try await EdgeLinkSession(unitId: unitId, edges: edges, hub: hub, logger: logger).run(inbound: inbound, outbound: outbound)
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

/// The OpenAPI document shipped with the server.
public enum OpenAPIDocument {
    public static func bytes() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw StoreError.corrupt("openapi.yaml is missing from the server's resources")
        }
        return try Data(contentsOf: url)
    }
}
