import AsyncHTTPClient
import CubbyCore
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle

/// `cubby bench pickup`: drives the whole pickup path over HTTP with concurrent kiosks and compares it
/// with the raw durable-commit rate of the same database at the same concurrency, measured in the same run.
public struct PickupBenchmark: Sendable {
    /// One measured round: pickups over HTTP and raw commits at the same concurrency.
    public struct Round: Sendable {
        /// What the database held: "fresh database" or "with N past parcels".
        public var label: String
        /// Pickups per second over HTTP.
        public var pickupsPerSecond: Double
        /// Median pickup latency, in milliseconds.
        public var p50: Double
        /// 99th-percentile pickup latency, in milliseconds.
        public var p99: Double
        /// One-row durable commits per second.
        public var rawCommitsPerSecond: Double
        /// Median raw-commit latency, in milliseconds.
        public var rawP50: Double
        /// Pickups that did not answer 200.
        public var failures: Int
    }

    /// The rounds of a run and their Markdown table.
    public struct Report: Sendable {
        /// The measured rounds, fresh first.
        public var rounds: [Round]
        /// The table (and, with two rounds, the latency ratio), ready to print.
        public var text: String
    }

    /// `sqlite` (a fresh file in `dir`) or a postgres:// URL (a fresh database on that server).
    public var database: String
    /// Directory for the SQLite file and keys; nil for a temporary one, removed afterwards.
    public var dir: String?
    /// Concurrent kiosks, each a unit with its own device credential.
    public var kiosks: Int
    /// Pickups per kiosk in each measured round.
    public var pickups: Int
    /// Past parcels to add before the second round (0 skips it).
    public var history: Int
    /// Port of the in-process server on 127.0.0.1.
    public var port: Int
    /// Serve the kiosks over HTTPS (TLS 1.3, a self-signed certificate made for the run) through the main listener
    /// `cubby serve` runs, with its connection limits; otherwise plain HTTP/1.1.
    public var tls = false

    /// A benchmark of the given shape.
    public init(database: String, dir: String?, kiosks: Int, pickups: Int, history: Int, port: Int) {
        self.database = database
        self.dir = dir
        self.kiosks = kiosks
        self.pickups = pickups
        self.history = history
        self.port = port
    }

    /// Runs the rounds, reporting each line of progress through `progress`, and returns the report.
    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: dir, name: "bench", logger: logger)
        let (workDir, location) = (workspace.dir, workspace.location)
        progress(
            "cubby bench pickup: \(location), \(kiosks) kiosks × \(pickups) pickups per round, history \(history), "
                + (tls ? "HTTPS (TLS 1.3)" : "plain HTTP"))
        var settings = ServerSettings(
            database: location, host: "127.0.0.1", port: port, keysPath: workDir + "/keys.json", simulateUnits: false)
        settings.maxBodyBytes = 16 * 1024
        // The bench's key file lives and dies in its temporary directory: no key-encryption key protects it.
        settings.insecurePlaintextKeys = true
        let parts = try await buildParts(settings: settings, link: DetachedUnitLink(), logger: logger)
        try await parts.store.write { s in try await s.prepareCommitProbe() }
        let router = try buildRouter(parts: parts, settings: settings, logger: logger)
        var clientConfig = HTTPClient.Configuration()
        let app: Application<RouterResponder<CubbyRequestContext>>
        if tls {
            let cert = workDir + "/https-cert.pem"
            _ = try ServerIdentity.loadOrCreate(
                certificatePath: cert, keyPath: workDir + "/https-key.pem", hosts: ["127.0.0.1"])
            var https = settings
            https.httpsCertificate = cert
            https.httpsKey = workDir + "/https-key.pem"
            app = Application(
                router: router, server: try mainListener(https),
                configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cubby-bench"),
                logger: logger)
            var clientTLS = TLSConfiguration.makeClientConfiguration()
            clientTLS.minimumTLSVersion = .tlsv13
            // The certificate is the one made above, for this process's own listener on loopback; BoringSSL will not
            // take a self-signed leaf as its own trust anchor, so the kiosks do not verify it. Connections are kept
            // open, so the handshake's verification is not on the measured path anyway.
            clientTLS.certificateVerification = .none
            clientConfig.tlsConfiguration = clientTLS
        } else {
            app = Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cubby-bench"),
                logger: logger)
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let serverTask = Task { try await group.run() }
        clientConfig.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = kiosks
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfig)
        var rounds: [Round] = []
        do {
            try await waitForServer(client)
            let fixture = try await BenchFixture.make(store: parts.store, keys: parts.keys)
            rounds.append(
                try await round(
                    "fresh database", fixture: fixture, tag: "a", client: client, store: parts.store, progress: progress
                ))
            if history > 0 {
                let started = Date()
                try await fixture.history(count: history) { done in
                    if done % 100_000 == 0 { progress("  history: \(done) past parcels") }
                }
                try await parts.store.read { s in try await s.settleAfterBulkLoad() }
                let parcels = try await parts.store.read { s in try await s.parcelCount() }
                progress(
                    String(
                        format: "  added %d past parcels in %.0f s (%d parcels in the database)", history,
                        Date().timeIntervalSince(started), parcels))
                rounds.append(
                    try await round(
                        "with \(history) past parcels", fixture: fixture, tag: "b", client: client, store: parts.store,
                        progress: progress))
            }
        } catch {
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            _ = try? await serverTask.value
            await parts.store.close()
            throw error
        }
        try await client.shutdown()
        await group.triggerGracefulShutdown()
        _ = try? await serverTask.value
        await parts.store.close()
        let report = Report(rounds: rounds, text: Self.table(rounds))
        workspace.remove()
        return report
    }

    func round(
        _ label: String, fixture: BenchFixture, tag: String, client: HTTPClient, store: any SQLStore,
        progress: @Sendable (String) -> Void
    ) async throws -> Round {
        let kiosksList = try await fixture.kiosks(count: kiosks, parcels: pickups, tag: tag)
        // The fixture was loaded in bulk: let the query planner see the tables as they now are, as an
        // operator would after an import.
        try await store.write { s in try await s.refreshStatistics() }
        let (raw, rawLatencies) = try await rawCommits(store: store, total: kiosks * pickups)
        let started = ContinuousClock.now
        let base = base
        let results = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for kiosk in kiosksList {
                group.addTask {
                    var latencies: [Double] = []
                    var failures = 0
                    latencies.reserveCapacity(kiosk.pins.count)
                    for pin in kiosk.pins {
                        var req = HTTPClientRequest(
                            url: "\(base)/api/v1/units/\(kiosk.unitId)/pickups")
                        req.method = .POST
                        req.headers.add(name: "Authorization", value: "Bearer \(kiosk.deviceToken)")
                        req.headers.add(name: "Content-Type", value: "application/json")
                        req.body = .bytes(ByteBuffer(string: #"{"code":"\#(pin)"}"#))
                        let t0 = ContinuousClock.now
                        let resp = try await client.execute(req, timeout: .seconds(60))
                        _ = try await resp.body.collect(upTo: 1 << 16)
                        latencies.append(Samples.ms(ContinuousClock.now - t0))
                        if resp.status != .ok { failures += 1 }
                    }
                    return (latencies, failures)
                }
            }
            return try await group.reduce(into: ([Double](), 0)) { acc, r in
                acc.0 += r.0
                acc.1 += r.1
            }
        }
        let elapsed = ContinuousClock.now - started
        let latencies = results.0.sorted()
        let r = Round(
            label: label, pickupsPerSecond: Double(latencies.count) / elapsed.seconds,
            p50: Samples.percentile(latencies, 0.5),
            p99: Samples.percentile(latencies, 0.99), rawCommitsPerSecond: raw,
            rawP50: Samples.percentile(rawLatencies.sorted(), 0.5),
            failures: results.1)
        progress(
            String(
                format: "  %@: %.0f pickups/s, p50 %.2f ms, p99 %.2f ms; raw commits %.0f/s (p50 %.2f ms); failures %d",
                label, r.pickupsPerSecond, r.p50, r.p99, r.rawCommitsPerSecond, r.rawP50, r.failures))
        return r
    }

    /// `total` one-row transactions spread over as many concurrent writers as there are kiosks.
    func rawCommits(store: any SQLStore, total: Int) async throws -> (Double, [Double]) {
        let perWriter = max(1, total / kiosks)
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<kiosks {
                group.addTask {
                    var l: [Double] = []
                    for _ in 0..<perWriter {
                        let t0 = ContinuousClock.now
                        let id = UUID().uuidString
                        try await store.writeAlone { s in
                            try await s.commitProbe(id: id, at: Date().millisecondsSince1970)
                        }
                        l.append(Samples.ms(ContinuousClock.now - t0))
                    }
                    return l
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }
        return (Double(latencies.count) / (ContinuousClock.now - started).seconds, latencies)
    }

    /// Where the kiosks send their codes.
    var base: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }

    func waitForServer(_ client: HTTPClient) async throws {
        var last = "no answer"
        for _ in 0..<100 {
            do {
                let resp = try await client.execute(HTTPClientRequest(url: "\(base)/healthz"), timeout: .seconds(2))
                if resp.status == .ok { return }
                last = "status \(resp.status.code)"
            } catch {
                last = String(describing: error)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchFailure("the benchmark server did not start on port \(port): \(last)")
    }

    /// The rounds as a Markdown table, after a blank line; with two rounds, the latency ratio below it.
    static func table(_ rounds: [Round]) -> String {
        var lines = [
            "", "| round | pickups/s | p50 ms | p99 ms | raw commits/s | pickups ÷ raw | failures |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rounds {
            lines.append(
                String(
                    format: "| %@ | %.0f | %.2f | %.2f | %.0f | %.2f | %d |", r.label, r.pickupsPerSecond, r.p50, r.p99,
                    r.rawCommitsPerSecond, r.pickupsPerSecond / r.rawCommitsPerSecond, r.failures))
        }
        if rounds.count == 2 {
            lines.append(
                String(
                    format: "\nlatency with history ÷ fresh: p50 %.2f×, p99 %.2f×", rounds[1].p50 / rounds[0].p50,
                    rounds[1].p99 / rounds[0].p99))
        }
        return lines.joined(separator: "\n")
    }
}
