import AsyncHTTPClient
import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// `cubby bench recipients`: a CSV import of many recipients through the HTTP API on a real server on loopback,
/// then the latency of exact-match lookups of random recipients, one timed HTTP request each.
public struct RecipientBenchmark: Sendable {
    /// A recipient the benchmark imported, as a lookup asks for it.
    public struct Person: Sendable {
        public var id: String
        public var name: String
        public var email: String
        public var externalId: String
    }

    /// What a lookup probe gets to prepare itself: the running server's parts and the seeded organization.
    public struct Setup: Sendable {
        public var parts: CubbyServerParts
        public var manifest: DemoManifest
    }

    /// One kind of timed HTTP lookup. Add one to `probes` to measure another route the same way.
    public struct LookupProbe: Sendable {
        /// How the report names it, e.g. `GET /api/v1/recipients?email=…`.
        public var label: String
        /// Runs once before the lookups; returns the `Authorization` header value the probe sends.
        public var authorize: @Sendable (Setup) async throws -> String
        /// The path and query of the request that finds `person`.
        public var path: @Sendable (Person) -> String
        /// Whether the answer's body found `person` (a 200 that misses counts as a failure).
        public var found: @Sendable (Person, String) -> Bool

        public init(
            label: String, authorize: @escaping @Sendable (Setup) async throws -> String,
            path: @escaping @Sendable (Person) -> String, found: @escaping @Sendable (Person, String) -> Bool
        ) {
            self.label = label
            self.authorize = authorize
            self.path = path
            self.found = found
        }

        /// `GET /api/v1/recipients?email=…` with the organization's administrator credential.
        public static let recipientsByEmail = LookupProbe(
            label: "GET /api/v1/recipients?email=…",
            authorize: { "Bearer " + $0.manifest.adminToken },
            path: { "/api/v1/recipients?email=" + RecipientBenchmark.query($0.email) },
            found: { person, body in body.contains("\"id\":\"\(person.id)\"") })
    }

    /// The timings of one probe.
    public struct Lookup: Sendable {
        public var label: String
        public var count: Int
        /// Median latency, in milliseconds.
        public var p50: Double
        /// 99th-percentile latency, in milliseconds.
        public var p99: Double
        /// Lookups that did not answer 200 with the recipient.
        public var failures: Int
    }

    /// The import's time and the lookups' latencies, with their table.
    public struct Report: Sendable {
        public var rows: Int
        public var bytes: Int
        public var importSeconds: Double
        public var rowsPerSecond: Double
        public var lookups: [Lookup]
        /// The table, ready to print.
        public var text: String
    }

    /// `sqlite` (a fresh file in a temporary directory) or a postgres:// URL.
    public var database: String
    /// Rows of the imported file.
    public var recipients: Int
    /// Timed lookups of each probe, of recipients picked at random.
    public var lookups: Int
    /// Port of the in-process server on 127.0.0.1.
    public var port: Int
    /// The lookups measured, in order.
    public var probes: [LookupProbe]

    /// A benchmark of the given shape.
    public init(
        database: String, recipients: Int, lookups: Int, port: Int,
        probes: [LookupProbe] = [LookupProbe.recipientsByEmail]
    ) {
        self.database = database
        self.recipients = recipients
        self.lookups = lookups
        self.port = port
        self.probes = probes
    }

    /// Runs the import and the lookups, reporting progress through `progress`, and returns the report.
    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: nil, name: "recipients", logger: logger)
        defer { workspace.remove() }
        progress(
            "cubby bench recipients: \(workspace.location), import of \(recipients) rows, \(lookups) lookups per probe")
        var settings = ServerSettings(
            database: workspace.location, host: "127.0.0.1", port: port, keysPath: workspace.dir + "/keys.json",
            simulateUnits: false)
        // The bench's key file lives and dies in its temporary directory: no key-encryption key protects it.
        settings.insecurePlaintextKeys = true
        let parts = try await buildParts(settings: settings, link: DetachedUnitLink(), logger: logger)
        let manifest = try await DemoSeed(parts: parts).seed(
            server: "bench", unitCount: 1, recipients: 0)
        let router = try buildRouter(parts: parts, settings: settings, logger: logger)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cubby-bench"), logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let serverTask = Task { try await group.run() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let report = try await measure(
                client: client, setup: Setup(parts: parts, manifest: manifest), progress: progress)
            try await client.shutdown()
            await group.triggerGracefulShutdown()
            _ = try? await serverTask.value
            await parts.store.close()
            return report
        } catch {
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            _ = try? await serverTask.value
            await parts.store.close()
            throw error
        }
    }

    func measure(client: HTTPClient, setup: Setup, progress: @Sendable (String) -> Void) async throws -> Report {
        try await waitForServer(client)
        var people = (0..<recipients).map { i in
            Person(
                id: "", name: "Bench Person \(i)", email: "person\(i)@bench.example.org",
                externalId: "B-\(String(format: "%06d", i))")
        }
        var csv = "External ID,Full Name,E-mail,Mobile,Apt,Language,ADA\r\n"
        for (i, p) in people.enumerated() {
            csv +=
                "\(p.externalId),\(p.name),\(p.email),+1555\(String(format: "%07d", i)),\(i / 4 + 100)\(["A", "B", "C", "D"][i % 4]),\(i % 3 == 0 ? "es" : "en"),\(i % 20 == 0 ? "yes" : "no")\r\n"
        }
        let bytes = csv.utf8.count
        var request = HTTPClientRequest(
            url: "http://127.0.0.1:\(port)/api/v1/recipients/import?siteId=\(setup.manifest.siteId)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(setup.manifest.adminToken)")
        request.headers.add(name: "Content-Type", value: "text/csv")
        request.body = .bytes(ByteBuffer(string: csv))
        let started = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(600))
        let body = try await response.body.collect(upTo: 256 << 20)
        let elapsed = (ContinuousClock.now - started).seconds
        guard response.status == .ok else {
            throw BenchFailure(
                "the import answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
        struct ImportReport: Decodable {
            struct Row: Decodable {
                var recipientId: String?
            }
            var created: Int
            var results: [Row]
        }
        let report = try JSONDecoder().decode(ImportReport.self, from: Data(body.readableBytesView))
        guard report.created == recipients, report.results.count == recipients else {
            throw BenchFailure("the import created \(report.created) of \(recipients) recipients")
        }
        for (i, row) in report.results.enumerated() { people[i].id = row.recipientId ?? "" }
        progress(
            String(
                format: "  import: %d rows (%.1f MiB) in %.2f s, %.0f rows/s", recipients,
                Double(bytes) / 1_048_576, elapsed, Double(recipients) / elapsed))

        var authorizations: [String] = []
        for probe in probes { authorizations.append(try await probe.authorize(setup)) }
        var generator = SystemRandomNumberGenerator()
        let picks = (0..<lookups).map { _ in people[Int.random(in: 0..<people.count, using: &generator)] }
        var samples = Array(repeating: [Double](), count: probes.count)
        var failures = Array(repeating: 0, count: probes.count)
        for person in picks {
            // Interleaved, so drift of the machine affects every probe alike.
            for (n, probe) in probes.enumerated() {
                var req = HTTPClientRequest(url: "http://127.0.0.1:\(port)" + probe.path(person))
                req.headers.add(name: "Authorization", value: authorizations[n])
                let t0 = ContinuousClock.now
                let resp = try await client.execute(req, timeout: .seconds(60))
                let answer = try await resp.body.collect(upTo: 1 << 20)
                samples[n].append(Samples.ms(ContinuousClock.now - t0))
                if resp.status != .ok || !probe.found(person, String(buffer: answer)) { failures[n] += 1 }
            }
        }
        var measured: [Lookup] = []
        for (n, probe) in probes.enumerated() {
            let sorted = samples[n].sorted()
            let lookup = Lookup(
                label: probe.label, count: sorted.count, p50: Samples.percentile(sorted, 0.5),
                p99: Samples.percentile(sorted, 0.99), failures: failures[n])
            measured.append(lookup)
            progress(
                String(
                    format: "  %@: p50 %.2f ms, p99 %.2f ms over %d lookups; failures %d", lookup.label, lookup.p50,
                    lookup.p99, lookup.count, lookup.failures))
        }
        var lines = [
            "", "| step | count | time | rate / latency |", "| --- | ---: | ---: | ---: |",
            String(
                format: "| CSV import over HTTP (%.1f MiB) | %d rows | %.2f s | %.0f rows/s |",
                Double(bytes) / 1_048_576, recipients, elapsed, Double(recipients) / elapsed),
        ]
        for l in measured {
            lines.append(
                String(
                    format: "| %@ | %d lookups | p50 %.2f ms | p99 %.2f ms |",
                    l.label.replacingOccurrences(of: "|", with: "\\|"),
                    l.count, l.p50, l.p99))
            if l.failures > 0 { lines.append("| (failures) | \(l.failures) | | |") }
        }
        return Report(
            rows: recipients, bytes: bytes, importSeconds: elapsed, rowsPerSecond: Double(recipients) / elapsed,
            lookups: measured, text: lines.joined(separator: "\n"))
    }

    /// A query value with everything but unreserved characters percent-encoded.
    public static func query(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
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
