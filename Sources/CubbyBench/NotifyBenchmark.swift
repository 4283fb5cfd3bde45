import AsyncHTTPClient
import CubbyCore
import CubbyDemo
import CubbyMail
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// `cubby bench notify`: the server's pieces in this process (HTTP API, simulated units, outbox worker) on loopback,
/// with a local SMTP server and a webhook receiver written here. Couriers drop parcels off at a fixed rate; for each
/// deposit it measures the time from the deposit's recorded time (written in the transaction that commits it) to the
/// SMTP server's 250 after DATA for that message's `Message-ID`, and to the webhook receiver's receipt of the
/// `parcel.deposited` event's `webhook-id`.
public struct NotifyBenchmark: Sendable {
    /// The latencies of one path.
    public struct Path: Sendable {
        public var label: String
        /// Deposits whose message arrived.
        public var received: Int
        /// Deposits whose message did not arrive before the drain ended.
        public var missing: Int
        /// Second and later arrivals of a message already received.
        public var repeats: Int
        /// p50, p90, p99 and max, in milliseconds.
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var max: Double
    }

    public struct Report: Sendable {
        public var deposits: Int
        public var failedDropoffs: Int
        public var email: Path
        public var webhook: Path
        public var text: String
    }

    /// `sqlite` (a fresh file in a temporary directory) or a postgres:// URL.
    public var database: String
    /// Deposits per minute.
    public var rate: Int
    /// How long deposits go on.
    public var seconds: Int
    /// Port of the in-process server on 127.0.0.1 (the webhook receiver takes the next one).
    public var port: Int

    public init(database: String, rate: Int, seconds: Int, port: Int) {
        self.database = database
        self.rate = rate
        self.seconds = seconds
        self.port = port
    }

    /// Compartments per simulated unit.
    static let compartmentsPerUnit = 100

    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let total = max(1, rate * seconds / 60)
        let workspace = try await BenchWorkspace.make(database: database, dir: nil, name: "notify", logger: logger)
        defer { workspace.remove() }
        progress("cubby bench notify: \(workspace.location), \(total) deposits at \(rate) per minute")
        let smtp = try await SMTPSink.start()
        let hooks = WebhookSink()
        var settings = ServerSettings(
            database: workspace.location, host: "127.0.0.1", port: port, keysPath: workspace.dir + "/keys.json",
            simulateUnits: true, simulatorDelay: .milliseconds(1))
        settings.webhookAllowPrivate = true
        // The bench's key file lives and dies in its temporary directory: no key-encryption key protects it.
        settings.insecurePlaintextKeys = true
        settings.smtp = try SMTPConfiguration(
            url: "smtp://127.0.0.1:\(smtp.port)?tls=none", from: "Cubby bench <noreply@bench.example>")
        let parts = try await buildParts(settings: settings, logger: logger)
        let units = (total + Self.compartmentsPerUnit - 1) / Self.compartmentsPerUnit
        let manifest = try await DemoSeed(parts: parts).seed(
            server: "bench", unitCount: units,
            layout: Array(repeating: (SizeClass.small, false), count: Self.compartmentsPerUnit), recipients: 3)
        let router = try buildRouter(parts: parts, settings: settings, logger: logger)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cubby-bench"), logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [app, hooks.application(port: port + 1), parts.outbox], gracefulShutdownSignals: [],
                logger: logger))
        let serverTask = Task { try await group.run() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        func stop() async {
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            _ = try? await serverTask.value
            await parts.store.close()
            await smtp.stop()
        }
        do {
            try await waitForServer(client)
            try await subscribe(client, manifest: manifest)
            let (parcels, failed) = try await deposit(client, manifest: manifest, total: total, progress: progress)
            let report = try await collect(
                parcels: parcels, failed: failed, store: parts.store, smtp: smtp.book, hooks: hooks.book,
                progress: progress)
            await stop()
            return report
        } catch {
            await stop()
            throw error
        }
    }

    func call(_ client: HTTPClient, _ path: String, token: String, json: String) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)" + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    func subscribe(_ client: HTTPClient, manifest: DemoManifest) async throws {
        let (status, body) = try await call(
            client, "/api/v1/webhooks", token: manifest.adminToken,
            json: #"{"url":"http://127.0.0.1:\#(port + 1)/hook","events":["parcel.deposited"]}"#)
        guard status == 201 else { throw BenchFailure("the webhook subscription was refused: \(status) \(body)") }
    }

    /// Drops parcels off at the fixed rate, each on its own task so a slow answer never delays the next; returns the
    /// parcels dropped off and how many drop-offs failed.
    func deposit(_ client: HTTPClient, manifest: DemoManifest, total: Int, progress: @Sendable (String) -> Void)
        async throws -> ([String], Int)
    {
        guard let recipient = manifest.recipients.first(where: { !$0.needsAccessible }) else {
            throw BenchFailure("the seeded organization has no recipient for small compartments")
        }
        let period = Duration.microseconds(60_000_000 / Int64(rate))
        let clock = ContinuousClock()
        let start = clock.now
        let units = manifest.units
        return try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<total {
                try await clock.sleep(until: start + period * i)
                let unit = units[i % units.count].id
                group.addTask {
                    let (status, body) = try await call(
                        client, "/api/v1/units/\(unit)/dropoffs", token: manifest.courierToken,
                        json: #"{"trackingNumber":"NB\#(i)","recipientId":"\#(recipient.id)","size":"S"}"#)
                    guard status == 201, let data = body.data(using: .utf8),
                        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                    else { return nil }
                    return object["parcelId"] as? String
                }
                if i > 0, i % max(1, total / 10) == 0 { progress("  \(i) drop-offs") }
            }
            var parcels: [String] = []
            var failed = 0
            for try await parcel in group {
                if let parcel { parcels.append(parcel) } else { failed += 1 }
            }
            return (parcels, failed)
        }
    }

    /// Waits (at most 60 s) until every deposit's email and webhook arrived, then matches arrivals to deposits.
    func collect(
        parcels: [String], failed: Int, store: any SQLStore, smtp: ArrivalBook, hooks: ArrivalBook,
        progress: @Sendable (String) -> Void
    ) async throws -> Report {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, smtp.count < parcels.count || hooks.count < parcels.count {
            try await Task.sleep(for: .milliseconds(100))
        }
        progress("  \(smtp.count) emails, \(hooks.count) webhooks received; matching")
        // `Message-ID: <outbox message id@sender's domain>`: keyed here by the outbox message id.
        var mail: [String: Int64] = [:]
        for (messageId, at) in smtp.arrivals {
            let id = messageId.trimmingCharacters(in: CharacterSet(charactersIn: "<>")).split(separator: "@").first
            if let id { mail[String(id)] = at }
        }
        let hooked = hooks.arrivals
        var emailLatencies: [Double] = []
        var hookLatencies: [Double] = []
        for parcel in parcels {
            let (depositedAt, email, webhook) = try await store.read { s in
                (
                    try await s.parcel(parcel)?.depositedAt,
                    try await s.outboxMessageIds(parcel: parcel, kind: "parcel.deposited"),
                    try await s.outboxMessageIds(parcel: parcel, kind: StoreSession.webhookKind)
                )
            }
            guard let depositedAt else { continue }
            if let at = email.compactMap({ mail[$0] }).first { emailLatencies.append(Double(at - depositedAt)) }
            if let at = webhook.compactMap({ hooked[$0] }).first { hookLatencies.append(Double(at - depositedAt)) }
        }
        let email = Self.path(
            "deposit → SMTP 250 after DATA", emailLatencies, expected: parcels.count, repeats: smtp.repeats)
        let webhook = Self.path(
            "audit event → webhook received", hookLatencies, expected: parcels.count, repeats: hooks.repeats)
        var text = "\(parcels.count) deposits (\(failed) drop-offs failed) at \(rate)/min for \(seconds) s\n"
        text += "path                              count  missing  repeats    p50 ms    p90 ms    p99 ms    max ms\n"
        for p in [email, webhook] {
            text += p.label.padding(toLength: 32, withPad: " ", startingAt: 0)
            text += String(
                format: "%7d %8d %8d %9.0f %9.0f %9.0f %9.0f\n", p.received, p.missing, p.repeats, p.p50, p.p90,
                p.p99, p.max)
        }
        return Report(deposits: parcels.count, failedDropoffs: failed, email: email, webhook: webhook, text: text)
    }

    static func path(_ label: String, _ samples: [Double], expected: Int, repeats: Int) -> Path {
        let sorted = samples.sorted()
        return Path(
            label: label, received: sorted.count, missing: expected - sorted.count, repeats: repeats,
            p50: Samples.percentile(sorted, 0.5), p90: Samples.percentile(sorted, 0.9),
            p99: Samples.percentile(sorted, 0.99), max: sorted.last ?? .nan)
    }

    func waitForServer(_ client: HTTPClient) async throws {
        for _ in 0..<100 {
            if let resp = try? await client.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(2)),
                resp.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchFailure("the benchmark server did not start on port \(port)")
    }
}
