import AsyncHTTPClient
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyMail
import CubbySIEM
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// `cubby bench incident`: the server's pieces in this process (HTTP API, outbox, alert pager, SIEM forwarder, audit
/// log sequencing) on loopback, with a local SMTP server, SMS gateway, syslog receiver (TCP, octet counting) and
/// webhook receiver written here. One super-administrator is on call by email and SMS. Each run hands the server a
/// unit's journaled tamper event (as the edge link does) and measures, from that moment, until the SMTP server's 250
/// for the page's email, the gateway's 202 for its SMS, the syslog record of the `unit.tamper` event and the
/// `alert.raised` webhook. Runs go one after the other; each run's alert is resolved and its unit's lockdown lifted
/// before the next.
public struct IncidentBenchmark: Sendable {
    public struct Report: Sendable {
        public var runs: Int
        public var paths: [NotifyBenchmark.Path]
        public var text: String
    }

    /// `sqlite` (a fresh file in a temporary directory) or a postgres:// URL.
    public var database: String
    public var runs: Int
    /// Port of the in-process server on 127.0.0.1; the webhook receiver and the SMS gateway take the next two.
    public var port: Int

    public init(database: String, runs: Int, port: Int) {
        self.database = database
        self.runs = runs
        self.port = port
    }

    static let units = 4
    static let domain = "bench.example"

    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: nil, name: "incident", logger: logger)
        defer { workspace.remove() }
        progress("cubby bench incident: \(workspace.location), \(runs) tamper signals, one after the other")
        let smtp = try await SMTPSink.start()
        let syslog = try await SyslogBenchSink.start()
        let sms = SMSSink()
        let hooks = AlertHookSink()
        var settings = ServerSettings(
            database: workspace.location, host: "127.0.0.1", port: port, keysPath: workspace.dir + "/keys.json",
            simulateUnits: false)
        settings.webhookAllowPrivate = true
        // The bench's key file lives and dies in its temporary directory.
        settings.insecurePlaintextKeys = true
        settings.smtp = try SMTPConfiguration(
            url: "smtp://127.0.0.1:\(smtp.port)?tls=none", from: "Cubby bench <alerts@\(Self.domain)>")
        settings.sms = try SMSGatewayConfiguration(url: "http://127.0.0.1:\(port + 2)/messages", token: "bench")
        settings.syslog = try SyslogConfiguration(url: "tcp://127.0.0.1:\(syslog.port)?format=ocsf")
        let parts = try await buildParts(settings: settings, logger: logger)
        let manifest = try await DemoSeed(parts: parts).seed(
            server: "bench", unitCount: Self.units, layout: Array(repeating: (SizeClass.small, false), count: 4))
        try await onCall(parts, manifest: manifest)
        let router = try buildRouter(parts: parts, settings: settings, logger: logger)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cubby-bench"), logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [app, hooks.application(port: port + 1), sms.application(port: port + 2)]
                    + backgroundServices(parts: parts, settings: settings, logger: logger),
                gracefulShutdownSignals: [], logger: logger))
        let serverTask = Task { try await group.run() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        func stop() async {
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            _ = try? await serverTask.value
            await parts.store.close()
            await smtp.stop()
            await syslog.stop()
        }
        do {
            try await NotifyBenchmark(database: database, rate: 1, seconds: 1, port: port).waitForServer(client)
            try await subscribe(client, manifest: manifest)
            let report = try await measure(
                parts, manifest: manifest, sinks: (smtp.book, sms.book, syslog.book, hooks.book), progress: progress)
            await stop()
            return report
        } catch {
            await stop()
            throw error
        }
    }

    /// One super-administrator on call at the site by email and SMS; an hour's escalation delay, so no run escalates.
    func onCall(_ parts: CubbyServerParts, manifest: DemoManifest) async throws {
        let email = "on-call@\(Self.domain)"
        let (account, _) = try await parts.staff.createAccount(
            organization: manifest.organizationId, email: email, role: .superAdmin, sites: nil, actor: .console)
        try await parts.staff.setPhone(email: email, phone: "+15550100199")
        guard let org = OrganizationID(uuidString: manifest.organizationId) else {
            throw BenchFailure("the seeded organization's id is not a UUID")
        }
        let p = Principal(role: .superAdmin, credentialId: .make(), organizationId: org, siteIds: [])
        _ = try await parts.onCall.replace(
            p, siteId: manifest.siteId,
            contacts: [.init(accountId: account.id, email: nil, channels: ["email", "sms"], severities: nil)],
            delaySeconds: 3600)
    }

    func subscribe(_ client: HTTPClient, manifest: DemoManifest) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/webhooks")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + manifest.adminToken)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(
            ByteBuffer(string: #"{"url":"http://127.0.0.1:\#(port + 1)/hook","events":["alert.raised"]}"#))
        let response = try await client.execute(request, timeout: .seconds(30))
        guard response.status == .created else {
            throw BenchFailure("the webhook subscription was refused: \(response.status.code)")
        }
    }

    func measure(
        _ parts: CubbyServerParts, manifest: DemoManifest,
        sinks: (email: ArrivalBook, sms: ArrivalBook, syslog: ArrivalBook, webhook: ArrivalBook),
        progress: @Sendable (String) -> Void
    ) async throws -> Report {
        var previous = Dictionary(uniqueKeysWithValues: manifest.units.map { ($0.id, EdgeEvent.genesisHash) })
        var seqs = Dictionary(uniqueKeysWithValues: manifest.units.map { ($0.id, Int64(0)) })
        var latencies: [[Double]] = [[], [], [], []]
        var missing = [0, 0, 0, 0]
        for run in 0..<runs {
            let unit = manifest.units[run % manifest.units.count].id
            seqs[unit, default: 0] += 1
            let now = Date().millisecondsSince1970
            var event = EdgeEvent(
                seq: seqs[unit] ?? 1, occurredAt: now, kind: .tamper, detail: ["kind": "bench"],
                previousHash: previous[unit] ?? EdgeEvent.genesisHash)
            event.hash = EdgeJournalHash.hash(previous: event.previousHash, event: event)
            previous[unit] = event.hash
            let t0 = Date().millisecondsSince1970
            _ = try await parts.edges.apply(unitId: unit, event: event, photo: nil)
            guard let alert = try await parts.store.read({ s in try await s.openAlert(unit: unit, kind: "tamper") })
            else { throw BenchFailure("run \(run): the tamper signal raised no alert") }
            // Until every path arrived, or 10 s.
            var arrived: [Int64?] = [nil, nil, nil, nil]
            let deadline = ContinuousClock.now + .seconds(10)
            var page: String?
            while arrived.contains(where: { $0 == nil }), ContinuousClock.now < deadline {
                if page == nil {
                    page = try await parts.store.read { s in try await s.alertPages(alert: alert.id) }.first?.messageId
                }
                if let page {
                    arrived[0] = arrived[0] ?? sinks.email.arrivals["<\(page)@\(Self.domain)>"]
                    arrived[1] = arrived[1] ?? sinks.sms.arrivals[page]
                }
                arrived[2] = arrived[2] ?? sinks.syslog.arrivals["unit.tamper \(alert.id)"]
                arrived[3] = arrived[3] ?? sinks.webhook.arrivals[alert.id]
                if arrived.contains(where: { $0 == nil }) { try await Task.sleep(for: .milliseconds(2)) }
            }
            for (i, at) in arrived.enumerated() {
                if let at { latencies[i].append(Double(at - t0)) } else { missing[i] += 1 }
            }
            let done = Date().millisecondsSince1970
            try await parts.store.write { s in
                _ = try await s.resolveAlert(alert.id, by: "bench", at: done)
                try await s.setLockdown(unit: unit, at: nil, reason: nil)
            }
            if run > 0, run % max(1, runs / 10) == 0 { progress("  \(run) runs") }
        }
        let labels = [
            "tamper → email 250 (SMTP)", "tamper → SMS 202 (gateway)", "tamper → syslog record", "tamper → webhook",
        ]
        let paths = (0..<4).map { i in
            NotifyBenchmark.path(labels[i], latencies[i], expected: runs, repeats: 0)
        }
        var text = "\(runs) tamper signals, one at a time; times from the server taking the unit's event\n"
        text += "path                              count  missing    p50 ms    p90 ms    p99 ms    max ms\n"
        for (i, p) in paths.enumerated() {
            text += p.label.padding(toLength: 32, withPad: " ", startingAt: 0)
            text += String(
                format: "%7d %8d %9.0f %9.0f %9.0f %9.0f\n", p.received, missing[i], p.p50, p.p90, p.p99, p.max)
        }
        return Report(runs: runs, paths: paths, text: text)
    }
}
