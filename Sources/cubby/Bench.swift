import CubbyBench
import ArgumentParser
import AsyncHTTPClient
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import CubbyCore
import ServiceLifecycle

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that drive the real server.", subcommands: [PickupBench.self, LogBench.self, SignInBench.self])
}

/// Drives the whole pickup path over HTTP with concurrent kiosks and compares it with the raw durable-commit
/// rate of the same database at the same concurrency, measured in the same run.
struct PickupBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pickup",
        abstract: "HTTP pickup → code check → door command → audit event → durable commit, vs. raw commits.")

    @Option(help: "sqlite (a fresh file in --dir) or a postgres:// URL (a fresh database is created on that server).")
    var database: String = "sqlite"
    @Option(help: "Directory for the SQLite file and keys (default: a new temporary directory).")
    var dir: String?
    @Option(help: "Concurrent kiosks, each a unit with its own device credential.")
    var kiosks: Int = 8
    @Option(help: "Pickups per kiosk in each measured round.")
    var pickups: Int = 250
    @Option(help: "Past parcels to add before the second round (0 skips it).")
    var history: Int = 0
    @Option(help: "Port of the in-process server on 127.0.0.1.")
    var port: Int = 18_480

    func validate() throws {
        guard (1...256).contains(kiosks) else { throw ValidationError("--kiosks must be 1...256") }
        guard (10...100_000).contains(pickups) else { throw ValidationError("--pickups must be 10...100000") }
        guard (0...50_000_000).contains(history) else { throw ValidationError("--history must be 0...50000000") }
    }

    struct Round {
        var label: String
        var pickupsPerSecond: Double
        var p50: Double
        var p99: Double
        var rawCommitsPerSecond: Double
        var rawP50: Double
        var failures: Int
    }

    func run() async throws {
        var logger = Logger(label: "cubby-bench")
        logger.logLevel = .error
        let workspace = try await BenchWorkspace.make(database: database, dir: dir, name: "bench", logger: logger)
        let (workDir, location) = (workspace.dir, workspace.location)
        say("cubby bench pickup: \(location), \(kiosks) kiosks × \(pickups) pickups per round, history \(history)")
        var settings = ServerSettings(database: location, host: "127.0.0.1", port: port, keysPath: workDir + "/keys.json", simulateUnits: false)
        settings.maxBodyBytes = 16 * 1024
        let parts = try await buildParts(settings: settings, link: DetachedUnitLink(), logger: logger)
        try await parts.store.write { s in try await s.prepareCommitProbe() }
        let router = try buildRouter(parts: parts, settings: settings, logger: logger)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "cubby-bench"), logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let serverTask = Task { try await group.run() }
        var clientConfig = HTTPClient.Configuration()
        clientConfig.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = kiosks
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfig)
        var rounds: [Round] = []
        do {
            try await waitForServer(client)
            let fixture = try await BenchFixture.make(store: parts.store, keys: parts.keys)
            rounds.append(try await round("fresh database", fixture: fixture, tag: "a", client: client, store: parts.store))
            if history > 0 {
                let started = Date()
                try await fixture.history(count: history) { done in
                    if done % 100_000 == 0 { say("  history: \(done) past parcels") }
                }
                try await parts.store.read { s in try await s.settleAfterBulkLoad() }
                let parcels = try await parts.store.read { s in try await s.parcelCount() }
                say(String(format: "  added %d past parcels in %.0f s (%d parcels in the database)", history, Date().timeIntervalSince(started), parcels))
                rounds.append(try await round("with \(history) past parcels", fixture: fixture, tag: "b", client: client, store: parts.store))
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
        report(rounds, location: location)
        workspace.remove()
    }

    func round(_ label: String, fixture: BenchFixture, tag: String, client: HTTPClient, store: any SQLStore) async throws -> Round {
        let kiosksList = try await fixture.kiosks(count: kiosks, parcels: pickups, tag: tag)
        // The fixture was loaded in bulk: let the query planner see the tables as they now are, as an
        // operator would after an import.
        try await store.write { s in try await s.refreshStatistics() }
        let (raw, rawLatencies) = try await rawCommits(store: store, total: kiosks * pickups)
        let started = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for kiosk in kiosksList {
                group.addTask {
                    var latencies: [Double] = []
                    var failures = 0
                    latencies.reserveCapacity(kiosk.pins.count)
                    for pin in kiosk.pins {
                        var req = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/v1/units/\(kiosk.unitId)/pickups")
                        req.method = .POST
                        req.headers.add(name: "Authorization", value: "Bearer \(kiosk.deviceToken)")
                        req.headers.add(name: "Content-Type", value: "application/json")
                        req.body = .bytes(ByteBuffer(string: #"{"code":"\#(pin)"}"#))
                        let t0 = ContinuousClock.now
                        let resp = try await client.execute(req, timeout: .seconds(60))
                        _ = try await resp.body.collect(upTo: 1 << 16)
                        latencies.append(Self.ms(ContinuousClock.now - t0))
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
            label: label, pickupsPerSecond: Double(latencies.count) / elapsed.seconds, p50: Self.percentile(latencies, 0.5),
            p99: Self.percentile(latencies, 0.99), rawCommitsPerSecond: raw, rawP50: Self.percentile(rawLatencies.sorted(), 0.5),
            failures: results.1)
        say(String(format: "  %@: %.0f pickups/s, p50 %.2f ms, p99 %.2f ms; raw commits %.0f/s (p50 %.2f ms); failures %d",
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
                        try await store.writeAlone { s in try await s.commitProbe(id: id, at: Date().millisecondsSince1970) }
                        l.append(Self.ms(ContinuousClock.now - t0))
                    }
                    return l
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }
        return (Double(latencies.count) / (ContinuousClock.now - started).seconds, latencies)
    }

    func waitForServer(_ client: HTTPClient) async throws {
        for _ in 0..<100 {
            if let resp = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(2)),
                resp.status == .ok
            { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("the benchmark server did not start on port \(port)")
    }

    func report(_ rounds: [Round], location: DatabaseLocation) {
        print("\n| round | pickups/s | p50 ms | p99 ms | raw commits/s | pickups ÷ raw | failures |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rounds {
            print(String(format: "| %@ | %.0f | %.2f | %.2f | %.0f | %.2f | %d |", r.label, r.pickupsPerSecond, r.p50, r.p99, r.rawCommitsPerSecond, r.pickupsPerSecond / r.rawCommitsPerSecond, r.failures))
        }
        if rounds.count == 2 {
            print(String(format: "\nlatency with history ÷ fresh: p50 %.2f×, p99 %.2f×", rounds[1].p50 / rounds[0].p50, rounds[1].p99 / rounds[0].p99))
        }
    }

    static func ms(_ d: Duration) -> Double { d.seconds * 1000 }


    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.down)))]
    }
}

/// Where a benchmark keeps its data: a directory (a temporary one, removed afterwards, unless given) and
/// a fresh database in it, or a fresh database on the given PostgreSQL server.
struct BenchWorkspace {
    let dir: String
    let location: DatabaseLocation
    let temporary: Bool

    static func make(database: String, dir: String?, name: String, logger: Logger) async throws -> BenchWorkspace {
        let path = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("cubby-\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let location: DatabaseLocation = database == "sqlite"
            ? .sqlite(path: path + "/\(name).sqlite")
            : try await PostgresStore.createScratchDatabase(server: try DatabaseLocation(parsing: database), prefix: "cubby_\(name)_", logger: logger)
        return BenchWorkspace(dir: path, location: location, temporary: dir == nil)
    }

    func remove() {
        if temporary { try? FileManager.default.removeItem(atPath: dir) }
    }
}

/// Prints a progress line at once, also when the output is a file.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
