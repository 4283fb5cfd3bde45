import Crypto
import CubbyConnections
import CubbyCore
import CubbyCrypto
import CubbySIEM
import CubbyStore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
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
    /// Sites, locker units, compartments and carriers: created, changed and retired.
    public var provisioning: ProvisioningDesk { ProvisioningDesk(ledger: desk.ledger, hub: hub, logger: desk.logger) }
    /// Sites' on-call lists and staff members' phone numbers.
    public var onCall: OnCallDesk { OnCallDesk(ledger: desk.ledger, keys: keys) }
    /// The recipient directory.
    public var recipients: RecipientDesk { RecipientDesk(ledger: desk.ledger, keys: keys) }
    /// "Not you? Report it": recipients' reports of pickups they did not make.
    public var pickupReports: PickupReports { PickupReports(ledger: desk.ledger, keys: keys) }
    /// Webhook subscriptions.
    public let webhooks: WebhookDesk
    /// The staff's view of the outbox's deliveries: lists, counts, retry and redeliver.
    public var deliveries: DeliveryDesk { DeliveryDesk(ledger: desk.ledger) }
}

/// Opens the database, applies migrations, loads keys, and wires the flows, link and services.
public func buildParts(
    settings: ServerSettings, clock: ServerClock = .system, policy: PinEntryPolicy = .standard,
    link: (any UnitLink)? = nil,
    passwordHasher: PasswordHasher = .standard, logger: Logger
) async throws -> CubbyServerParts {
    // The keys first: a key file that does not open stops the start before the database is touched.
    let opened = try await ServerKeyFile.open(settings)
    for notice in opened.notices { logger.warning("\(notice)") }
    let serverKeys = opened.keys
    let store = try await settings.openStore(logger: logger)
    let keys: LockerKeys
    let auditLog: AuditLog
    let pages: PortalPages
    do {
        pages = try await PortalPages.load()
        try await Migrator.migrate(store)
        keys = LockerKeys(serverKeys)
        store.ciphers.use(staffEmails: keys.staffEmailCipher)
        let sealed = try await store.write { s in try await s.sealStaffEmails() }
        if sealed > 0 {
            logger.notice("sealed the emails of \(sealed) staff accounts written before emails were sealed")
        }
        try await store.read { s in try await keys.refreshRing(s) }
        auditLog = try AuditLog(store: store, keys: serverKeys, settings: settings, clock: clock, ring: keys.signing)
    } catch {
        await store.close()
        throw error
    }
    // Wired in one direction: ledger → door reports → (simulator) → unit link → parcel flows → unit flows.
    let ledger = Ledger(store: store, clock: clock)
    // Recipients' notifications go to the file when one is set, else to the log; deliveries written by the
    // one-channel outbox of earlier versions (channel `recipient`) go there too.
    let recipientChannel: any OutboxChannel =
        settings.notifyFile.map { FileNotificationChannel(path: $0) } ?? LogNotificationChannel(logger: logger)
    // Email and SMS reach people when they are configured; each recipient's preferences pick among them.
    let recipientDesk = RecipientDesk(ledger: ledger, keys: keys)
    var personal: [any OutboxChannel] = []
    if let smtp = settings.smtp {
        personal.append(
            EmailChannel(configuration: smtp, recipients: recipientDesk, linkBase: settings.linkBase, logger: logger))
    }
    if let sms = settings.sms {
        personal.append(SMSChannel(configuration: sms, recipients: recipientDesk, logger: logger))
    }
    let recipientChannels = [recipientChannel.name] + personal.map(\.name)
    // Pages to staff on call: by email and SMS where those are configured, else to the recipients' file or log, so
    // that a page is never left waiting for a channel nobody runs.
    let staffPages: [any OutboxChannel] = [
        settings.smtp.map {
            AlertPageChannel.email(
                configuration: $0, ledger: ledger, keys: keys, linkBase: settings.linkBase, logger: logger)
        } ?? OutboxChannelAlias(name: StaffPageChannelName.email, for: recipientChannel),
        settings.sms.map {
            AlertPageChannel.sms(
                configuration: $0, ledger: ledger, keys: keys, linkBase: settings.linkBase, logger: logger)
        } ?? OutboxChannelAlias(name: StaffPageChannelName.sms, for: recipientChannel),
    ]
    let doors = DoorReports(
        ledger: ledger, keys: keys, policy: policy, recipientChannels: recipientChannels,
        linkBase: settings.linkBase, logger: logger)
    var simulator: SimulatedUnits? = nil
    let fallback: any UnitLink
    if let link {
        fallback = link
    } else if settings.simulateUnits {
        let sim = SimulatedUnits(delay: settings.simulatorDelay, reportingTo: doors, logger: logger)
        simulator = sim
        fallback = sim
    } else {
        fallback = DetachedUnitLink()
    }
    // Units with their own edge controller are commanded over its link; the others go to the fallback.
    let hub = EdgeHub()
    let states = UnitStates(store: store, keys: keys, policy: policy, clock: clock, hub: hub, logger: logger)
    let desk = ParcelDesk(
        ledger: ledger, keys: keys, policy: policy, link: EdgeUnitLink(states: states, fallback: fallback),
        doors: doors, logger: logger)
    let authenticator = Authenticator(store: store, keys: keys, clock: clock, maxBodyBytes: settings.maxBodyBytes)
    let edges = EdgeDesk(ledger: ledger, parcels: desk, states: states, authenticator: authenticator, logger: logger)
    let webhooks = WebhookDesk(
        ledger: ledger, keys: keys, rules: WebhookAddressRules(allowPrivate: settings.webhookAllowPrivate),
        logger: logger)
    var retry = RetryPolicy.standard
    retry.base = Milliseconds.of(settings.outboxRetryBase)
    let outbox = OutboxDelivery(
        store: store, keys: keys,
        channels: [
            recipientChannel, OutboxChannelAlias(name: "recipient", for: recipientChannel),
            WebhookChannel(desk: webhooks, logger: logger),
        ] + personal + staffPages, interval: settings.outboxInterval, retry: retry,
        lease: Milliseconds.of(settings.outboxLease),
        clock: clock,
        logger: logger)
    let expiry = ExpiryService(desk: desk, interval: settings.expiryInterval, logger: logger)
    let logService = AuditLogService(log: auditLog, logger: logger)
    let staff = StaffDesk(store: store, keys: keys, clock: clock, hasher: passwordHasher, logger: logger)
    return CubbyServerParts(
        store: store, keys: keys, desk: desk, simulator: simulator, outbox: outbox, expiry: expiry, auditLog: auditLog,
        auditLogService: logService, staff: staff,
        residents: ResidentDesk(store: store, keys: keys, clock: clock, recipientChannels: recipientChannels),
        pages: pages,
        edges: edges, hub: hub, webhooks: webhooks)
}

/// The HTTP router over the parts.
public func buildRouter(parts: CubbyServerParts, settings: ServerSettings, logger: Logger) throws -> Router<
    CubbyRequestContext
> {
    try buildRoutes(parts: parts, settings: settings, logger: logger).router
}

/// The router and every route registered on it with its action: the policy table's view of the server.
public func buildRoutes(parts: CubbyServerParts, settings: ServerSettings, logger: Logger) throws -> (
    router: Router<CubbyRequestContext>, entries: [RouteEntry]
) {
    // HEAD answers as GET does, without the body (RFC 9110 §9.3.2).
    let router = Router(context: CubbyRequestContext.self, options: .autoGenerateHeadEndpoints)
    if settings.https { router.add(middleware: StrictTransportSecurity<CubbyRequestContext>()) }
    router.add(middleware: ErrorMapping<CubbyRequestContext>(logger: logger))
    router.add(middleware: parts.edges.authenticator)
    let gate = PortalGate(
        staff: parts.staff, residents: parts.residents, pages: parts.pages, secureCookies: settings.secureCookies,
        logger: logger)
    var routes = GuardedRouter(router: router, portalGate: gate)
    let document = try OpenAPIDocument.bytes(serverURL: settings.linkBase)
    ParcelRoutes(desk: parts.desk, openAPI: ByteBuffer(bytes: document)).register(on: &routes)
    AuditRoutes(log: parts.auditLog, reader: AuditReader(log: parts.auditLog, store: parts.store)).register(on: &routes)
    EdgeRoutes(edges: parts.edges).register(on: &routes)
    IncidentRoutes(onCall: parts.onCall, edges: parts.edges).register(on: &routes)
    PortalRoutes(staff: parts.staff, gate: gate, publicURL: settings.linkBase, edges: parts.edges).register(on: &routes)
    AlertPortalRoutes(edges: parts.edges, onCall: parts.onCall, staff: parts.staff, gate: gate).register(on: &routes)
    AuditPortalRoutes(log: parts.auditLog, store: parts.store, keys: parts.keys, gate: gate).register(on: &routes)
    RecipientPortalRoutes(desk: parts.recipients, gate: gate).register(on: &routes)
    ResidentRoutes(residents: parts.residents, gate: gate).register(on: &routes)
    ProvisioningRoutes(desk: parts.provisioning, parcels: parts.desk).register(on: &routes)
    RecipientRoutes(desk: parts.recipients).register(on: &routes)
    PreferenceRoutes(desk: parts.recipients, gate: gate).register(on: &routes)
    PickupReportRoutes(reports: parts.pickupReports, gate: gate).register(on: &routes)
    SCIMRoutes(
        users: SCIMUsers(
            desk: parts.recipients, base: settings.linkBase + SCIMRoutes.prefix,
            documentation: settings.linkBase + "/api/v1/openapi.yaml")
    ).register(on: &routes)
    WebhookRoutes(desk: parts.webhooks).register(on: &routes)
    DeliveryRoutes(desk: parts.deliveries).register(on: &routes)
    DeliveryPortalRoutes(desk: parts.deliveries, gate: gate).register(on: &routes)
    ParcelPortalRoutes(
        finder: ParcelFinder(desk: parts.desk, recipients: parts.recipients, log: parts.auditLog), gate: gate
    ).register(on: &routes)
    ReportPortalRoutes(reports: SiteReports(ledger: parts.desk.ledger), gate: gate).register(on: &routes)
    UnitPortalRoutes(
        parcels: parts.desk, provisioning: parts.provisioning, staff: parts.staff, hub: parts.hub,
        offlineAfter: Milliseconds.of(settings.unitOfflineAfter), gate: gate
    ).register(on: &routes)
    SitePortalRoutes(desk: parts.provisioning, gate: gate).register(on: &routes)
    CarrierPortalRoutes(desk: parts.provisioning, staff: parts.staff, gate: gate).register(on: &routes)
    return (router, routes.entries)
}

/// The services every server process runs beside its listeners: the outbox, expiry, the audit logs' sequencing and
/// signing, noticing units that went silent, and forwarding to a SIEM when one is configured.
public func backgroundServices(parts: CubbyServerParts, settings: ServerSettings, logger: Logger) -> [any Service] {
    var services: [any Service] = [
        parts.outbox, parts.expiry, parts.auditLogService,
        UnitWatch(edges: parts.edges, offlineAfter: settings.unitOfflineAfter, logger: logger),
        AlertPager(ledger: parts.desk.ledger, interval: settings.alertPageInterval, logger: logger),
        KeyRingWatch(store: parts.store, keys: parts.keys, logger: logger),
    ]
    if let syslog = settings.syslog {
        services.append(
            SIEMForwarder(
                store: parts.store, configuration: syslog, hostname: settings.syslogHostname,
                interval: settings.siemInterval, wake: parts.auditLog.sequenced, logger: logger))
    }
    return services
}

/// The composition root: the HTTP server with the background services beside it.
///
/// - Parameter onServerRunning: called with the API listener's channel once it is bound.
public func buildApplication(
    parts: CubbyServerParts, settings: ServerSettings, logger: Logger,
    onServerRunning: (@Sendable (any Channel) async -> Void)? = nil
) throws -> some ApplicationProtocol {
    let router = try buildRouter(parts: parts, settings: settings, logger: logger)
    var services = backgroundServices(parts: parts, settings: settings, logger: logger)
    if let edgeListener = try buildEdgeListener(parts: parts, settings: settings, logger: logger) {
        services.append(edgeListener)
        // Other server processes on the same database store commands for units whose link is here.
        if let postgres = parts.store as? PostgresStore {
            services.append(UnitCommandRelay(store: postgres, edges: parts.edges, logger: logger))
        }
    }
    let limits = settings.connectionLimits
    var tls: ReloadableTLS? = nil
    if let certificate = settings.httpsCertificate, let key = settings.httpsKey {
        let https = try ReloadableTLS.https(certificate: certificate, key: key, allowTLS12: settings.httpsAllowTLS12)
        tls = https
        services.append(TLSReloadOnHangup(tls: https, logger: logger))
        if let redirectPort = settings.httpRedirectPort {
            services.append(
                Application(
                    router: redirectRouter(to: settings.linkBase),
                    server: .guardedHTTP1(
                        limits: limits, counter: AddressConnectionCounter(limit: limits.maxConnectionsPerAddress)),
                    configuration: .init(
                        address: .hostname(settings.host, port: redirectPort), serverName: "cubby-redirect"),
                    logger: logger))
        }
    }
    return Application(
        router: router,
        server: mainListener(settings, tls: tls),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "cubby"),
        services: services,
        onServerRunning: onServerRunning ?? { _ in },
        logger: logger)
}

/// The main listener's server: HTTP/1.1 under the settings' connection limits, over `tls` when given.
func mainListener(_ settings: ServerSettings, tls: ReloadableTLS?) -> HTTPServerBuilder {
    let limits = settings.connectionLimits
    return .guardedHTTP1(
        limits: limits, counter: AddressConnectionCounter(limit: limits.maxConnectionsPerAddress), tls: tls)
}

/// The main listener as `cubby serve` runs it (connection limits; TLS when the settings name a certificate), for
/// benchmarks that serve the router without the background services.
public func mainListener(_ settings: ServerSettings) throws -> HTTPServerBuilder {
    guard let certificate = settings.httpsCertificate, let key = settings.httpsKey else {
        return mainListener(settings, tls: nil)
    }
    let tls = try ReloadableTLS.https(certificate: certificate, key: key, allowTLS12: settings.httpsAllowTLS12)
    return mainListener(settings, tls: tls)
}

/// The OpenAPI document shipped with the server.
public enum OpenAPIDocument {
    public static func bytes() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw StoreError.corrupt("openapi.yaml is missing from the server's resources")
        }
        return try Data(contentsOf: url)
    }

    /// The document as served: its `servers` entry names `serverURL`, the address people reach this server at.
    public static func bytes(serverURL: String) throws -> Data {
        let text = String(decoding: try bytes(), as: UTF8.self)
        let template = "servers:\n  - url: http://127.0.0.1:8080\n    description: Local development server\n"
        guard text.contains(template) else {
            throw StoreError.corrupt("openapi.yaml's servers entry is not the expected template")
        }
        // A JSON string is a YAML double-quoted scalar: the address needs no further escaping.
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let quoted = String(decoding: try encoder.encode(serverURL), as: UTF8.self)
        let served = "servers:\n  - url: \(quoted)\n    description: This server\n"
        return Data(text.replacingOccurrences(of: template, with: served).utf8)
    }
}
