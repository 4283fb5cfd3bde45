import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation

/// `cubby bench keys`: `cubby keys rotate` over many data keys — every recipient's data key re-wrapped under a new
/// primary key of the key ring, batch by batch, as the command does it — and a check that each recipient's sealed
/// contact data still opens afterwards.
public struct KeysBenchmark: Sendable {
    public var database: String
    public var dir: String?
    public var dataKeys: Int
    public var batchSize: Int

    public init(database: String, dir: String?, dataKeys: Int, batchSize: Int) {
        self.database = database
        self.dir = dir
        self.dataKeys = dataKeys
        self.batchSize = batchSize
    }

    public struct Report: Sendable {
        public var database: String
        public var dataKeys: Int
        public var rewrapped: Int
        public var seconds: Double
        public var batchSize: Int
        public var checked: Int

        public var keysPerSecond: Double { Double(rewrapped) / max(seconds, 1e-9) }

        public var text: String {
            """
            cubby bench keys: \(database)
              data keys:        \(dataKeys) (recipients), batches of \(batchSize)
              re-wrapped:       \(rewrapped) in \(String(format: "%.2f", seconds)) s (both passes, retirement included)
              rate:             \(String(format: "%.0f", keysPerSecond)) data keys/s
              checked after:    \(checked) recipients' sealed contact data opened under the new key
            """
        }
    }

    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: dir, name: "keys", logger: logger)
        defer { workspace.remove() }
        var settings = ServerSettings(
            database: workspace.location, host: "127.0.0.1", port: 0, keysPath: workspace.dir + "/keys.json",
            simulateUnits: false)
        // The bench's key file lives and dies in its temporary directory: no key-encryption key protects it.
        settings.insecurePlaintextKeys = true
        let parts = try await buildParts(settings: settings, logger: logger)
        do {
            let report = try await measure(parts, location: "\(workspace.location)", progress: progress)
            await parts.store.close()
            return report
        } catch {
            await parts.store.close()
            throw error
        }
    }

    func measure(_ parts: CubbyServerParts, location: String, progress: @escaping @Sendable (String) -> Void)
        async throws -> Report
    {
        let keys = parts.keys
        let store = parts.store
        let at = Date().millisecondsSince1970
        let org = EntityID.make()
        let site = EntityID.make()
        try await store.write { s in
            try await s.insertOrganization(id: org, name: "Benchmark", at: at)
            try await s.insertSite(SiteRecord(id: site, organizationId: org, name: "Bench site", createdAt: at))
        }
        progress("seeding \(dataKeys) recipients, each with its own data key and sealed contact data")
        var made = 0
        while made < dataKeys {
            let n = min(5000, dataKeys - made)
            let base = made
            try await store.write { s in
                let wrapping = try await keys.primaryRingKey(s)
                var rows: [RecipientRecord] = []
                rows.reserveCapacity(n)
                for i in 0..<n {
                    let id = EntityID.make()
                    let wrapped = try keys.envelope.newWrappedDataKey(subject: id, under: wrapping)
                    let contact = try keys.envelope.seal(
                        Data("recipient \(base + i)".utf8), wrappedKey: wrapped, subject: id, field: "contact")
                    rows.append(
                        RecipientRecord(
                            id: id, organizationId: org, siteId: site, needsAccessible: false, dataKey: wrapped,
                            contact: contact, createdAt: at))
                }
                try await s.insertRecipients(rows)
            }
            made += n
        }
        progress("rotating")
        var options = KeyRotation.Options()
        options.batchSize = batchSize
        options.propagation = .zero
        options.grace = .zero
        let started = ContinuousClock.now
        let outcome = try await KeyRotation(store: store, keys: keys).run(options)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        guard outcome.finished, outcome.rewrapped == dataKeys, outcome.skipped == 0 else {
            throw BenchFailure(
                "the rotation re-wrapped \(outcome.rewrapped) of \(dataKeys) data keys (\(outcome.skipped) skipped)")
        }
        let status = try await KeyRotation(store: store, keys: keys).status()
        guard status.totals == [outcome.newKey: dataKeys] else {
            throw BenchFailure("after the rotation the data keys are wrapped by \(status.totals), not only the new key")
        }
        let checked = try await store.read { s in
            var n = 0
            for r in try await s.recipients(organization: org) {
                guard let key = r.dataKey, let sealed = r.contact else { continue }
                _ = try keys.envelope.open(sealed, wrappedKey: key, subject: r.id, field: "contact")
                n += 1
            }
            return n
        }
        guard checked == dataKeys else { throw BenchFailure("only \(checked) recipients' contact data opened") }
        return Report(
            database: location, dataKeys: dataKeys, rewrapped: outcome.rewrapped, seconds: seconds,
            batchSize: batchSize, checked: checked)
    }
}
