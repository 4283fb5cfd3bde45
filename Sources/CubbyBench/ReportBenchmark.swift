import AsyncHTTPClient
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// `cubby bench reports`: a site with many past parcels and refused codes, loaded straight into the store, then the
/// latency of the portal's Reports page for a period of days ending today, one timed HTTP request each, signed in as
/// the organization's super-administrator.
public struct ReportBenchmark: Sendable {
    /// `sqlite` (a fresh file in a temporary directory) or a postgres:// URL.
    public var database: String
    /// Recipients of the site (created through the directory, as the console does).
    public var recipients: Int
    /// Past parcels at the site, spread over `history` days up to now.
    public var parcels: Int
    /// Days the parcels are spread over.
    public var history: Int
    /// Days of the measured report.
    public var days: Int
    /// Timed requests.
    public var requests: Int
    /// Port of the in-process server on 127.0.0.1.
    public var port: Int

    /// A benchmark of the given shape.
    public init(database: String, recipients: Int, parcels: Int, history: Int, days: Int, requests: Int, port: Int) {
        self.database = database
        self.recipients = recipients
        self.parcels = parcels
        self.history = history
        self.days = days
        self.requests = requests
        self.port = port
    }

    /// The latencies, with their table.
    public struct Report: Sendable {
        public var p50: Double
        public var p99: Double
        public var text: String
    }

    /// Loads the site, signs in and times the page, reporting progress through `progress`.
    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: nil, name: "reports", logger: logger)
        defer { workspace.remove() }
        progress(
            "cubby bench reports: \(workspace.location), \(recipients) recipients, \(parcels) parcels over \(history) days, \(requests) reports of \(days) days"
        )
        var settings = ServerSettings(
            database: workspace.location, host: "127.0.0.1", port: port, keysPath: workspace.dir + "/keys.json",
            simulateUnits: false)
        // The bench's key file lives and dies in its temporary directory.
        settings.insecurePlaintextKeys = true
        let parts = try await buildParts(settings: settings, link: DetachedUnitLink(), logger: logger)
        var started = ContinuousClock.now
        let manifest = try await DemoSeed(parts: parts).seed(server: "bench", unitCount: 4, recipients: recipients)
        progress(
            String(
                format: "  seeded 4 units and %d recipients in %.1f s", recipients,
                (ContinuousClock.now - started).seconds))
        started = ContinuousClock.now
        let codes = try await load(parts.store, manifest)
        progress(
            String(
                format: "  loaded %d parcels and %d refused codes in %.1f s", parcels, codes,
                (ContinuousClock.now - started).seconds))
        let cookie = try await signIn(parts, manifest)
        let router = try buildRouter(parts: parts, settings: settings, logger: logger)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cubby-bench"), logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let serverTask = Task { try await group.run() }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        func stop() async {
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            _ = try? await serverTask.value
            await parts.store.close()
        }
        do {
            let report = try await measure(client: client, cookie: cookie, site: manifest.siteId, progress: progress)
            await stop()
            return report
        } catch {
            await stop()
            throw error
        }
    }

    /// Parcels deposited at random instants of the last `history` days: most picked up within a day or a few, one in
    /// twenty expired and removed a day later (or still inside when that is yet to come); a refused code for one
    /// parcel in twenty. Returns how many codes.
    func load(_ store: any SQLStore, _ m: DemoManifest) async throws -> Int {
        let now = Date().millisecondsSince1970
        let span = Int64(history) * Milliseconds.day
        let units = m.units.map(\.id)
        let recipients = m.recipients.map(\.id)
        let org = UUID(uuidString: m.organizationId)
        let site = UUID(uuidString: m.siteId)
        var generator = SystemRandomNumberGenerator()
        var done = 0
        var codes = 0
        let batch = 1000
        while done < parcels {
            let n = min(10 * batch, parcels - done)
            var rows: [ParcelRecord] = []
            var events: [AuditRecord] = []
            rows.reserveCapacity(n)
            for i in 0..<n {
                let seq = done + i
                let unit = units[seq % units.count]
                let deposited = now - span + Int64.random(in: 0..<span, using: &generator)
                var p = ParcelRecord(
                    id: EntityID.make(), organizationId: m.organizationId, siteId: m.siteId, unitId: unit,
                    carrierId: m.carrierId, recipientId: recipients[seq % recipients.count],
                    trackingNumber: "RB\(seq)", size: .medium, state: .deposited, createdAt: deposited - 60_000)
                p.depositedAt = deposited
                p.expiresAt = deposited + 7 * Milliseconds.day
                p.compartmentId = EntityID.make()
                if seq % 20 == 19 {
                    p.state = p.expiresAt! <= now ? .expired : .deposited
                    if p.state == .expired { p.expiredAt = p.expiresAt }
                    if p.expiresAt! + Milliseconds.day <= now {
                        p.state = .removed
                        p.removedAt = p.expiresAt! + Milliseconds.day
                    }
                } else {
                    // Up to a day for most, up to five days for one in four.
                    let wait = Int64.random(in: 60_000..<(seq % 4 == 0 ? 5 : 1) * Milliseconds.day, using: &generator)
                    if deposited + wait <= now {
                        p.state = .pickedUp
                        p.pickedUpAt = deposited + wait
                    }
                }
                p.updatedAt = p.pickedUpAt ?? p.removedAt ?? p.expiredAt ?? deposited
                rows.append(p)
                if seq % 20 == 7 {
                    events.append(
                        AuditRecord(
                            occurredAt: Date(millisecondsSince1970: deposited + 3_600_000), event: .pickupCodeRejected,
                            outcome: .failure, actor: Actor(kind: .device, id: unit, role: "device"),
                            organizationId: org, siteId: site, unitId: UUID(uuidString: unit),
                            detail: ["method": "pin"]))
                }
            }
            let (chunk, audit) = (rows, events)
            try await store.write { s in
                for start in stride(from: 0, to: chunk.count, by: batch) {
                    try await s.insertParcels(Array(chunk[start..<min(start + batch, chunk.count)]))
                }
                if !audit.isEmpty { try await s.appendAudit(audit) }
            }
            codes += events.count
            done += n
        }
        return codes
    }

    /// A super-administrator's portal session (enrolled as a person would be; signed in with a recovery code).
    func signIn(_ parts: CubbyServerParts, _ m: DemoManifest) async throws -> String {
        let password = "bench lantern violet harbour"
        let (_, link) = try await parts.staff.createAccount(
            organization: m.organizationId, email: "reports@bench.example.org", role: .superAdmin, sites: nil,
            actor: .system)
        let (_, otp) = try await parts.staff.choosePassword(token: link, password: password, confirmation: password)
        let (_, codes) = try await parts.staff.confirmAuthenticator(token: link, code: otp.code(at: Date()))
        let (token, _) = try await parts.staff.signIn(
            email: "reports@bench.example.org", password: password, factor: .recoveryCode(codes[0]),
            address: "127.0.0.1")
        return "cubby_session=\(token)"
    }

    func measure(client: HTTPClient, cookie: String, site: String, progress: @Sendable (String) -> Void) async throws
        -> Report
    {
        try await waitForServer(client)
        let day = 86_400.0
        let to = Date()
        let from = to.addingTimeInterval(-Double(days - 1) * day)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withFullDate]
        // Dates in the demo site's calendar, so that the period is `days` days there.
        f.timeZone = TimeZone(identifier: "America/New_York")
        let path = "/admin/reports?site=\(site)&from=\(f.string(from: from))&to=\(f.string(from: to))"
        var samples: [Double] = []
        var failures = 0
        for i in 0...requests {
            var req = HTTPClientRequest(url: "http://127.0.0.1:\(port)" + path)
            req.headers.add(name: "Cookie", value: cookie)
            let t0 = ContinuousClock.now
            let resp = try await client.execute(req, timeout: .seconds(120))
            let body = try await resp.body.collect(upTo: 64 << 20)
            let ms = Samples.ms(ContinuousClock.now - t0)
            let ok = resp.status == .ok && String(buffer: body).contains("Parcels delivered per day")
            if !ok { failures += 1 }
            // The first request warms the caches and is not counted.
            if i > 0 { samples.append(ms) } else { progress(String(format: "  first request: %.1f ms", ms)) }
        }
        guard failures == 0 else { throw BenchFailure("\(failures) report requests did not answer the page") }
        let sorted = samples.sorted()
        let (p50, p99) = (Samples.percentile(sorted, 0.5), Samples.percentile(sorted, 0.99))
        progress(String(format: "  GET %@: p50 %.1f ms, p99 %.1f ms over %d requests", path, p50, p99, sorted.count))
        let text = [
            "", "| step | count | p50 | p99 |", "| --- | ---: | ---: | ---: |",
            String(
                format: "| GET /admin/reports, %d days, %d past parcels | %d requests | %.1f ms | %.1f ms |", days,
                parcels, sorted.count, p50, p99),
        ].joined(separator: "\n")
        return Report(p50: p50, p99: p99, text: text)
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
