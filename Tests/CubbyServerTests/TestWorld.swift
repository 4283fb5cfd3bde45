import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import Testing

/// The databases a test runs on: SQLite always, PostgreSQL when `CUBBY_TEST_POSTGRES_URL` is set.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres
    var testDescription: String { rawValue }

    static var available: [Backend] {
        ProcessInfo.processInfo.environment["CUBBY_TEST_POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date = Date(timeIntervalSince1970: 1_795_000_000)) { current = Mutex(start) }
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var serverClock: ServerClock { ServerClock { [self] in self.now } }
}

/// A fresh database (temp SQLite file, or a new PostgreSQL database) with a seeded organization.
struct TestWorld: Sendable {
    let backend: Backend
    let dir: String
    let settings: ServerSettings
    let parts: CubbyServerParts
    let manifest: DemoManifest
    let clock: ManualClock
    let notifyFile: String
    /// How many audit events the seeding wrote (the organization's provisioning), all before any test's own.
    let seededEvents: Int

    static let logger: Logger = {
        var l = Logger(label: "cubby-test")
        l.logLevel = .critical
        return l
    }()

    static func make(
        _ backend: Backend, policy: PinEntryPolicy = .standard, layout: [(SizeClass, Bool)] = DemoSeed.demoLayout,
        simulate: Bool = true,
        start: Date? = nil
    ) async throws -> TestWorld {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let location: DatabaseLocation
        switch backend {
        case .sqlite:
            location = .sqlite(path: dir + "/cubby.sqlite")
        case .postgres:
            location = try await TestPostgres.freshDatabase()
        }
        let notifyFile = dir + "/notifications.jsonl"
        var settings = ServerSettings(
            database: location, keysPath: dir + "/keys.json", notifyFile: notifyFile, simulateUnits: simulate,
            simulatorDelay: .milliseconds(1))
        settings.outboxInterval = .milliseconds(20)
        // Many worlds run side by side on the test cluster, whose max_connections they share.
        settings.databasePoolSize = 4
        settings.keyProvider = try TestKEK.file(in: dir)
        // Webhook receivers in the tests listen on loopback.
        settings.webhookAllowPrivate = true
        let clock = start.map(ManualClock.init) ?? ManualClock()
        let parts = try await buildParts(
            settings: settings, clock: clock.serverClock, policy: policy, passwordHasher: .forTesting(iterations: 1000),
            logger: logger)
        let manifest = try await DemoSeed(parts: parts).seed(
            server: "http://test", layout: layout)
        // The organization's log opens now, so its genesis counts among the seeded events.
        try await parts.auditLog.sequence()
        let seeded = try await parts.store.read { s in try await s.auditCount() }
        return TestWorld(
            backend: backend, dir: dir, settings: settings, parts: parts, manifest: manifest, clock: clock,
            notifyFile: notifyFile, seededEvents: seeded)
    }

    func close() async {
        await parts.simulator?.settle()
        await parts.store.close()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Runs `body` with a world and always closes it.
    static func with<T: Sendable>(
        _ backend: Backend, policy: PinEntryPolicy = .standard, layout: [(SizeClass, Bool)] = DemoSeed.demoLayout,
        simulate: Bool = true,
        start: Date? = nil, _ body: (TestWorld) async throws -> T
    ) async throws -> T {
        let world = try await make(backend, policy: policy, layout: layout, simulate: simulate, start: start)
        do {
            let result = try await body(world)
            await world.close()
            return result
        } catch {
            await world.close()
            throw error
        }
    }

    var desk: ParcelDesk { parts.desk }
    var unit: String { manifest.units[0].id }
    var device: String { manifest.units[0].deviceToken }

    func router() throws -> Router<CubbyRequestContext> {
        try buildRouter(parts: parts, settings: settings, logger: Self.logger)
    }

    /// Runs `body` against the app in router mode (no sockets).
    func test<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let app = Application(router: try router(), logger: Self.logger)
        return try await app.test(.router) { client in try await body(client) }
    }

    /// Lets the simulated doors finish and the outbox deliver.
    func settle() async throws {
        await parts.simulator?.settle()
        try await parts.outbox.deliverDue()
    }

    /// Notifications written so far.
    func notifications() throws -> [[String: String]] {
        guard let text = try? String(contentsOfFile: notifyFile, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map {
            try JSONDecoder().decode([String: String].self, from: Data($0.utf8))
        }
    }

    func counts() async throws -> (parcels: Int, audit: Int) {
        try await parts.store.read { s in (try await s.parcelCount(), try await s.auditCount()) }
    }
}

/// PostgreSQL databases for tests: each test gets a database of its own on the throwaway cluster.
enum TestPostgres {
    static func freshDatabase() async throws -> DatabaseLocation {
        guard let url = ProcessInfo.processInfo.environment["CUBBY_TEST_POSTGRES_URL"] else {
            throw StoreError.badLocation("CUBBY_TEST_POSTGRES_URL is not set")
        }
        return try await PostgresStore.createScratchDatabase(
            server: try DatabaseLocation(parsing: url), prefix: "cubby_t_", logger: TestWorld.logger)
    }
}

/// HTTP helpers for the tests.
extension TestClientProtocol {
    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: String? = nil,
        contentType: String? = "application/json", cookie: String? = nil
    ) async throws -> HTTPResult {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let cookie { headers[.cookie] = cookie }
        if json != nil, let contentType { headers[.contentType] = contentType }
        let body = json.map { ByteBuffer(string: $0) }
        return try await execute(uri: path, method: method, headers: headers, body: body) { response in
            HTTPResult(
                status: Int(response.status.code), data: Data(response.body.readableBytesView),
                headers: response.headers)
        }
    }
}

/// A response as the tests see it.
struct HTTPResult: Sendable {
    var status: Int
    var data: Data
    var headers: HTTPFields
    /// The body as a JSON object (empty when it is not one).
    var body: [String: Any] { (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:] }
}

extension Dictionary where Key == String, Value == Any {
    func str(_ key: String) -> String? { self[key] as? String }
    func obj(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
}

/// Key-encryption keys for tests: a KEK file of 32 random bytes, mode 0600, beside a test's data.
enum TestKEK {
    /// Writes `dir/kek` once and returns the provider that reads it.
    static func file(in dir: String) throws -> KeyProvider {
        let path = dir + "/kek"
        if !FileManager.default.fileExists(atPath: path) {
            try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: path)
        }
        return .kekFile(path)
    }
}
