import AsyncHTTPClient
import CubbyAudit
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

/// `cubby bench portal`: the portal's parcel search and parcel page over HTTP, signed in as a super-administrator,
/// against an organization with many recipients and a long history of parcels (each with its two audit events).
public struct PortalBenchmark: Sendable {
    /// The latencies of one kind of page.
    public struct Probe: Sendable {
        public var label: String
        public var count: Int
        /// Median latency, in milliseconds.
        public var p50: Double
        /// 99th-percentile latency, in milliseconds.
        public var p99: Double
        /// Requests that did not answer 200 with what they looked for.
        public var failures: Int
    }

    /// The load's size and time, the probes' latencies, and the table.
    public struct Report: Sendable {
        public var loadSeconds: Double
        public var probes: [Probe]
        /// The table, ready to print.
        public var text: String
    }

    /// `sqlite` (a fresh file in a temporary directory) or a postgres:// URL.
    public var database: String
    public var recipients: Int
    /// Past parcels, spread over the recipients and two units, every 30 seconds back from now.
    public var parcels: Int
    /// Timed requests of each probe.
    public var requests: Int
    /// Port of the in-process server on 127.0.0.1.
    public var port: Int

    /// A benchmark of the given shape.
    public init(database: String, recipients: Int, parcels: Int, requests: Int, port: Int) {
        self.database = database
        self.recipients = recipients
        self.parcels = parcels
        self.requests = requests
        self.port = port
    }

    /// Loads the organization, signs in, runs the probes and returns the report.
    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: nil, name: "portal", logger: logger)
        defer { workspace.remove() }
        progress(
            "cubby bench portal: \(workspace.location), \(recipients) recipients, \(parcels) past parcels, "
                + "\(requests) requests per probe")
        var settings = ServerSettings(
            database: workspace.location, host: "127.0.0.1", port: port, keysPath: workspace.dir + "/keys.json",
            simulateUnits: false)
        // The bench's key file lives and dies in its temporary directory.
        settings.insecurePlaintextKeys = true
        let parts = try await buildParts(settings: settings, link: DetachedUnitLink(), logger: logger)
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
            let report = try await measure(parts: parts, client: client, progress: progress)
            await stop()
            return report
        } catch {
            await stop()
            throw error
        }
    }

    /// What the load made: the people and parcels the probes ask for.
    struct Loaded: Sendable {
        var session: String
        var emails: [String]
        var units: [String]
        /// Tracking number and id of every parcel, in creation order.
        var parcels: [(tracking: String, id: String)]
        var firstAt: Int64
    }

    func measure(parts: CubbyServerParts, client: HTTPClient, progress: @Sendable (String) -> Void) async throws
        -> Report
    {
        let started = ContinuousClock.now
        let loaded = try await load(parts: parts, progress: progress)
        let loadSeconds = (ContinuousClock.now - started).seconds
        progress(String(format: "  loaded in %.0f s", loadSeconds))
        try await waitForServer(client)
        let day = Milliseconds.day
        let dayFormatter = DateFormatter()
        dayFormatter.locale = Locale(identifier: "en_US_POSIX")
        dayFormatter.timeZone = TimeZone(identifier: "UTC")
        dayFormatter.dateFormat = "yyyy-MM-dd"
        var generator = SystemRandomNumberGenerator()
        typealias Ask = (path: String, expect: String)
        let probes: [(String, (inout SystemRandomNumberGenerator) -> Ask)] = [
            (
                "search by tracking number",
                { g in
                    let p = loaded.parcels[Int.random(in: 0..<loaded.parcels.count, using: &g)]
                    return ("/admin/parcels?tracking=\(p.tracking)", "/admin/parcels/\(p.id)\"")
                }
            ),
            (
                "search by recipient email",
                { g in
                    let e = loaded.emails[Int.random(in: 0..<loaded.emails.count, using: &g)]
                    return ("/admin/parcels?email=\(RecipientBenchmark.query(e))", "href=\"/admin/parcels/")
                }
            ),
            (
                "search by unit and state, one day",
                { g in
                    let unit = loaded.units[Int.random(in: 0..<loaded.units.count, using: &g)]
                    let days = max(1, Int((Int64(loaded.parcels.count) * 30_000) / day) - 1)
                    let at = loaded.firstAt + Int64(Int.random(in: 0..<days, using: &g)) * day
                    let text = dayFormatter.string(from: Date(millisecondsSince1970: at + day / 2))
                    return (
                        "/admin/parcels?unit=\(unit)&state=picked_up&from=\(text)&to=\(text)", "href=\"/admin/parcels/"
                    )
                }
            ),
            ("first page, no filter", { _ in ("/admin/parcels", "Older parcels") }),
            // None of the past parcels is expired: the answer is an empty page, found without reading them all.
            ("search by state (expired, none)", { _ in ("/admin/parcels?state=expired", "No parcel matches.") }),
            (
                "parcel page",
                { g in
                    let p = loaded.parcels[Int.random(in: 0..<loaded.parcels.count, using: &g)]
                    return ("/admin/parcels/\(p.id)", "pickup.succeeded")
                }
            ),
        ]
        var samples = Array(repeating: [Double](), count: probes.count)
        var failures = Array(repeating: 0, count: probes.count)
        for _ in 0..<requests {
            // Interleaved, so drift of the machine affects every probe alike.
            for (n, probe) in probes.enumerated() {
                let ask = probe.1(&generator)
                var req = HTTPClientRequest(url: "http://127.0.0.1:\(port)" + ask.path)
                req.headers.add(name: "Cookie", value: "cubby_session=\(loaded.session)")
                let t0 = ContinuousClock.now
                let resp = try await client.execute(req, timeout: .seconds(60))
                let body = try await resp.body.collect(upTo: 8 << 20)
                samples[n].append(Samples.ms(ContinuousClock.now - t0))
                if resp.status != .ok || !String(buffer: body).contains(ask.expect) { failures[n] += 1 }
            }
        }
        var measured: [Probe] = []
        var lines = [
            "",
            String(
                format: "load: %d recipients, %d past parcels (%d audit events) in %.0f s", recipients, parcels,
                2 * parcels, loadSeconds),
            "", "| page | requests | p50 ms | p99 ms | failures |", "| --- | ---: | ---: | ---: | ---: |",
        ]
        for (n, probe) in probes.enumerated() {
            let sorted = samples[n].sorted()
            let p = Probe(
                label: probe.0, count: sorted.count, p50: Samples.percentile(sorted, 0.5),
                p99: Samples.percentile(sorted, 0.99), failures: failures[n])
            measured.append(p)
            progress(String(format: "  %@: p50 %.2f ms, p99 %.2f ms; failures %d", p.label, p.p50, p.p99, p.failures))
            lines.append(String(format: "| %@ | %d | %.2f | %.2f | %d |", p.label, p.count, p.p50, p.p99, p.failures))
        }
        return Report(loadSeconds: loadSeconds, probes: measured, text: lines.joined(separator: "\n"))
    }

    /// The organization (two units), its recipients through the CSV import, the past parcels in bulk, and a signed-in
    /// super-administrator.
    func load(parts: CubbyServerParts, progress: @Sendable (String) -> Void) async throws -> Loaded {
        let manifest = try await DemoSeed(parts: parts).seed(server: "bench", unitCount: 2, recipients: 0)
        guard let org = OrganizationID(uuidString: manifest.organizationId),
            let site = SiteID(uuidString: manifest.siteId)
        else { throw BenchFailure("the seeded ids are not UUIDs") }
        let boss = Principal(role: .superAdmin, credentialId: .make(), organizationId: org, siteIds: [site])
        var csv = "External ID,Full Name,E-mail,Apt\r\n"
        var emails: [String] = []
        for i in 0..<recipients {
            let email = "person\(i)@bench.example.org"
            emails.append(email)
            csv +=
                "B-\(String(format: "%06d", i)),Bench Person \(i),\(email),\(i / 4 + 100)\(["A", "B", "C", "D"][i % 4])\r\n"
        }
        let imported = try await parts.recipients.importCSV(
            boss, csv: Array(csv.utf8), options: RecipientImportOptions(siteId: manifest.siteId))
        guard imported.created == recipients else {
            throw BenchFailure("the import created \(imported.created) of \(recipients) recipients")
        }
        let people = try await parts.store.read { s in try await s.recipients(organization: manifest.organizationId) }
        progress("  \(people.count) recipients imported")
        let units = manifest.units.map(\.id)
        let compartments = try await parts.store.read { s in
            var all: [String: [String]] = [:]
            for u in units { all[u] = try await s.compartments(unit: u).map(\.id) }
            return all
        }
        let now = Date().millisecondsSince1970
        let firstAt = now - Int64(parcels) * 30_000 - Milliseconds.day
        var made: [(tracking: String, id: String)] = []
        made.reserveCapacity(parcels)
        let batch = 1000
        var done = 0
        while done < parcels {
            let n = min(5 * batch, parcels - done)
            var rows: [ParcelRecord] = []
            var events: [AuditRecord] = []
            for i in done..<(done + n) {
                let unit = units[i % units.count]
                let boxes = compartments[unit] ?? []
                var p = ParcelRecord(
                    id: EntityID.make(), organizationId: manifest.organizationId, siteId: manifest.siteId,
                    unitId: unit, carrierId: manifest.carrierId, recipientId: people[i % people.count].id,
                    trackingNumber: "P\(String(format: "%07d", i))", size: .medium, state: .pickedUp,
                    createdAt: firstAt + Int64(i) * 30_000)
                p.compartmentId = boxes.isEmpty ? nil : boxes[i % boxes.count]
                p.depositedAt = p.createdAt + 60_000
                p.expiresAt = p.createdAt + 7 * Milliseconds.day
                p.pickedUpAt = p.createdAt + 3_600_000
                p.updatedAt = p.pickedUpAt!
                rows.append(p)
                made.append((p.trackingNumber, p.id))
                let device = Actor(kind: .device, id: unit, role: "device")
                for (type, at, detail) in [
                    ("parcel.deposited", p.depositedAt!, [String: String]()),
                    ("pickup.succeeded", p.pickedUpAt!, ["method": "pin"]),
                ] {
                    events.append(
                        AuditRecord(
                            occurredAt: Date(millisecondsSince1970: at), type: type, actor: device,
                            organizationId: org.uuid, siteId: site.uuid, unitId: UUID(uuidString: unit),
                            compartmentId: p.compartmentId.flatMap(UUID.init(uuidString:)),
                            parcelId: UUID(uuidString: p.id), trackingNumber: p.trackingNumber, detail: detail))
                }
            }
            let (parcelRows, eventRows) = (rows, events)
            try await parts.store.write { s in
                for chunk in stride(from: 0, to: parcelRows.count, by: batch) {
                    try await s.insertParcels(Array(parcelRows[chunk..<min(parcelRows.count, chunk + batch)]))
                }
                for chunk in stride(from: 0, to: eventRows.count, by: batch) {
                    try await s.appendAudit(Array(eventRows[chunk..<min(eventRows.count, chunk + batch)]))
                }
            }
            done += n
            if done % 100_000 == 0 || done == parcels { progress("  \(done) past parcels") }
        }
        try await parts.store.read { s in try await s.settleAfterBulkLoad() }
        return Loaded(
            session: try await signIn(parts: parts, organization: manifest.organizationId), emails: emails,
            units: units, parcels: made, firstAt: firstAt)
    }

    /// Enrolls a super-administrator and signs it in with a recovery code (no wait for a new TOTP step).
    func signIn(parts: CubbyServerParts, organization: String) async throws -> String {
        let password = "bench portal violet lantern river"
        let (_, link) = try await parts.staff.createAccount(
            organization: organization, email: "bench-boss@bench.example.org", role: .superAdmin, sites: nil,
            actor: .system)
        let (_, otp) = try await parts.staff.choosePassword(token: link, password: password, confirmation: password)
        let (_, codes) = try await parts.staff.confirmAuthenticator(token: link, code: otp.code(at: Date()))
        guard let code = codes.first else { throw BenchFailure("no recovery codes were given") }
        return try await parts.staff.signIn(
            email: "bench-boss@bench.example.org", password: password, factor: .recoveryCode(code),
            address: "127.0.0.1"
        ).0
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
