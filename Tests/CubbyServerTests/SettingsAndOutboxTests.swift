import CubbyConnections
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Settings: command line over environment over file over defaults")
struct SettingsTests {
    func file(_ json: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cubby-config-\(UUID().uuidString).json"
        ).path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("defaults")
    func defaults() async throws {
        let s = try await ServerSettings.load(overrides: [:], configFile: nil, environment: [:])
        #expect(s.database == .sqlite(path: "./cubby-data/cubby.sqlite"))
        #expect(s.port == 8080)
        #expect(s.host == "127.0.0.1")
        #expect(s.notifyFile == nil)
        #expect(s.simulateUnits)
        #expect(s.connectionLimits == .standard)
        #expect(s.connectionLimits.headTimeout == .seconds(10))
        #expect(s.connectionLimits.bodyTimeout == .seconds(30))
        #expect(s.connectionLimits.idleTimeout == .seconds(60))
        #expect(s.connectionLimits.handshakeTimeout == .seconds(10))
        #expect(s.connectionLimits.maxConnectionsPerAddress == 32)
        #expect(s.databasePoolSize == 20)
    }

    @Test("the database pool size is read from its key")
    func poolSize() async throws {
        let path = try file(#"{"database": "sqlite:/tmp/pool.db", "database-pool-size": "7"}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try await ServerSettings.load(overrides: [:], configFile: path, environment: [:]).databasePoolSize == 7)
        let env = ["CUBBY_DATABASE_POOL_SIZE": "3"]
        #expect(try await ServerSettings.load(overrides: [:], configFile: nil, environment: env).databasePoolSize == 3)
    }

    @Test("webhooks refuse private addresses unless the deployment allows them; the outbox's timings are read")
    func webhookAndOutboxSettings() async throws {
        let standard = try await ServerSettings.load(overrides: [:], configFile: nil, environment: [:])
        #expect(!standard.webhookAllowPrivate)
        #expect(standard.outboxRetryBase == .seconds(5) && standard.outboxLease == .seconds(120))
        let set = try await ServerSettings.load(
            overrides: [:], configFile: nil,
            environment: [
                "CUBBY_WEBHOOK_ALLOW_PRIVATE": "true", "CUBBY_OUTBOX_RETRY_BASE_MS": "400",
                "CUBBY_OUTBOX_LEASE_SECONDS": "4",
            ])
        #expect(set.webhookAllowPrivate)
        #expect(set.outboxRetryBase == .milliseconds(400) && set.outboxLease == .seconds(4))
    }

    @Test("the connection limits are read from their keys")
    func connectionLimits() async throws {
        let path = try file(#"{"http": {"head-timeout-seconds": "4", "max-connections-per-address": "8"}}"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = [
            "CUBBY_HTTP_BODY_TIMEOUT_SECONDS": "5", "CUBBY_HTTP_IDLE_TIMEOUT_SECONDS": "6",
            "CUBBY_TLS_HANDSHAKE_TIMEOUT_SECONDS": "7",
        ]
        let s = try await ServerSettings.load(overrides: [:], configFile: path, environment: env)
        #expect(
            s.connectionLimits
                == ConnectionLimits(
                    headTimeout: .seconds(4), bodyTimeout: .seconds(5), idleTimeout: .seconds(6),
                    handshakeTimeout: .seconds(7), maxConnectionsPerAddress: 8))
    }

    @Test("precedence")
    func precedence() async throws {
        let path = try file(
            #"{"port": "9001", "notify": {"file": "/tmp/from-file"}, "database": "sqlite:/tmp/file.db", "host": "127.0.0.2"}"#
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try await ServerSettings.load(overrides: [:], configFile: path, environment: [:])
        #expect(fromFile.port == 9001)
        #expect(fromFile.notifyFile == "/tmp/from-file")
        #expect(fromFile.host == "127.0.0.2")
        let env = ["CUBBY_PORT": "9002", "CUBBY_NOTIFY_FILE": "/tmp/from-env"]
        let fromEnv = try await ServerSettings.load(overrides: [:], configFile: path, environment: env)
        #expect(fromEnv.port == 9002)
        #expect(fromEnv.notifyFile == "/tmp/from-env")
        #expect(fromEnv.database == .sqlite(path: "/tmp/file.db"))
        let fromCLI = try await ServerSettings.load(overrides: ["port": "9003"], configFile: path, environment: env)
        #expect(fromCLI.port == 9003)
    }

    @Test(
        "bad values are refused with a clear message",
        arguments: [
            ["CUBBY_PORT": "http"], ["CUBBY_PORT": "70000"], ["CUBBY_DATABASE": "mysql://x"],
            ["CUBBY_SIMULATOR_ENABLED": "maybe"], ["CUBBY_HTTP_HEAD_TIMEOUT_SECONDS": "0"],
            ["CUBBY_HTTP_IDLE_TIMEOUT_SECONDS": "forever"], ["CUBBY_TLS_HANDSHAKE_TIMEOUT_SECONDS": "-1"],
            ["CUBBY_HTTP_MAX_CONNECTIONS_PER_ADDRESS": "0"], ["CUBBY_WEBHOOK_ALLOW_PRIVATE": "sometimes"],
            ["CUBBY_OUTBOX_RETRY_BASE_MS": "10"], ["CUBBY_OUTBOX_LEASE_SECONDS": "1"],
            ["CUBBY_DATABASE_POOL_SIZE": "0"], ["CUBBY_DATABASE_POOL_SIZE": "many"],
        ])
    func badValues(_ env: [String: String]) async throws {
        await #expect(throws: (any Error).self) {
            _ = try await ServerSettings.load(overrides: [:], configFile: nil, environment: env)
        }
    }

    @Test("a missing config file is an error, not a silent default")
    func missingFile() async throws {
        await #expect(throws: SettingsError.self) {
            _ = try await ServerSettings.load(overrides: [:], configFile: "/nonexistent/cubby.json", environment: [:])
        }
    }
}

@Suite("Notification outbox")
struct OutboxTests {
    @Test("the PIN is sealed in the outbox, delivered once, then erased", arguments: Backend.available)
    func sealedThenErased(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let parcelId = try await w.test { c in
                try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: #"{"trackingNumber":"OB1","recipientId":"\#(m.recipients[0].id)","size":"S"}"#
                ).body.str("parcelId") ?? ""
            }
            await w.parts.simulator?.settle()
            let ids = try await w.parts.store.read { s in
                try await s.outboxMessageIds(parcel: parcelId, kind: "parcel.deposited")
            }
            let id = try #require(ids.first)
            #expect(ids.count == 1)
            let stored = try await w.parts.store.read { s in try await s.outboxPayload(id) }
            let payload = try #require(stored?.payload)
            #expect(stored?.sealed == true)
            let opened = try w.parts.keys.outbox.open(payload, context: "outbox:" + id)
            let pin = try #require(try JSONDecoder().decode([String: String].self, from: opened)["pin"])
            #expect(payload.range(of: Data(pin.utf8)) == nil, "the PIN is not in the stored payload in clear")
            let deliveries = try await w.parts.store.read { s in try await s.deliveries(message: id) }
            #expect(deliveries.map(\.channel) == ["file"] && deliveries.map(\.state) == ["pending"])
            #expect(try await w.parts.outbox.deliverDue() == 1)
            #expect(try await w.parts.outbox.deliverDue() == 0, "delivered once")
            let after = try await w.parts.store.read { s in try await s.pendingNotificationCount() }
            #expect(after == 0)
            let erased = try await w.parts.store.read { s in try await s.outboxPayload(id) }
            #expect(erased != nil && erased?.payload == nil, "the payload is erased once every delivery is final")
            let done = try await w.parts.store.read { s in try await s.deliveries(message: id) }
            #expect(done.map(\.state) == ["delivered"] && done.map(\.attempts) == [1])
            let notes = try w.notifications()
            #expect(notes.count == 1)
            #expect(notes[0]["pin"] == pin)
            #expect(notes[0]["notificationId"] == id)
        }
    }

    @Test("a channel that fails keeps the notification for a later try")
    func failingChannel() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = w.manifest
            try await w.test { c in
                _ = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: #"{"trackingNumber":"OB2","recipientId":"\#(m.recipients[0].id)","size":"S"}"#)
            }
            await w.parts.simulator?.settle()
            let broken = OutboxDelivery(
                store: w.parts.store, keys: w.parts.keys,
                channels: [FileNotificationChannel(path: "/nonexistent-dir/n.jsonl")],
                interval: .seconds(1), clock: w.clock.serverClock, logger: TestWorld.logger)
            #expect(try await broken.deliverDue() == 0)
            #expect(try await w.parts.store.read { s in try await s.pendingNotificationCount() } == 1)
            let failed = try await w.parts.store.read { s in try await s.deliveries(channel: "file") }
            #expect(failed.map(\.state) == ["failed"] && failed.map(\.attempts) == [1])
            #expect(failed.first?.lastError?.contains("/nonexistent-dir/n.jsonl") == true)
            // Not before the back-off (at least half the base delay)…
            #expect(try await w.parts.outbox.deliverDue() == 0)
            // …then the working channel delivers it.
            w.clock.advance(5)
            #expect(try await w.parts.outbox.deliverDue() == 1)
            #expect(try w.notifications().count == 1)
        }
    }
}
