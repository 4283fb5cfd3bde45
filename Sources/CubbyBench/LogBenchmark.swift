import Crypto
import CubbyAudit
import CubbyCore
import CubbyServer
import CubbyStore
import Foundation
import Logging

/// `cubby bench log`: the Merkle log at scale — sequencing (appends), inclusion proofs and verification,
/// with the raw SHA-256 speed of `openssl speed` on the same machine, in the same run.
public struct LogBenchmark: Sendable {
    /// The figures of a run (each also reported as a line of progress when measured).
    public struct Report: Sendable {
        /// Events (or, with `leavesOnly`, leaves) in the log.
        public var events: Int
        /// Events sequenced per second through the database; nil with `leavesOnly`.
        public var sequencedPerSecond: Double?
        /// Median inclusion-proof latency, in milliseconds.
        public var proofP50: Double
        /// 99th-percentile inclusion-proof latency, in milliseconds.
        public var proofP99: Double
        /// Seconds to verify the whole log end to end; nil with `leavesOnly`.
        public var verifySeconds: Double?
    }

    /// `sqlite` (a fresh file) or a postgres:// URL (a fresh database on that server).
    public var database: String
    /// Directory for the SQLite file; nil for a temporary one, removed afterwards.
    public var dir: String?
    /// Events in the log.
    public var events: Int
    /// Inclusion proofs to time.
    public var proofs: Int
    /// Write the tree's leaves and nodes directly (no event rows), and skip verification.
    public var leavesOnly: Bool

    /// A benchmark of the given shape.
    public init(database: String, dir: String?, events: Int, proofs: Int, leavesOnly: Bool) {
        self.database = database
        self.dir = dir
        self.events = events
        self.proofs = proofs
        self.leavesOnly = leavesOnly
    }

    /// Builds the log and times it, reporting each measurement through `progress` as it is taken.
    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: dir, name: "logbench", logger: logger)
        let store = try await StoreFactory.open(workspace.location, logger: logger)
        let report: Report
        do {
            report = try await LogBenchRun(events: events, proofs: proofs, leavesOnly: leavesOnly, say: progress)
                .measure(store: store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        workspace.remove()
        return report
    }
}

/// One run of the log benchmark: its shape and where its lines go.
struct LogBenchRun {
    let events: Int
    let proofs: Int
    let leavesOnly: Bool
    let say: @Sendable (String) -> Void

    func measure(store: any SQLStore) async throws -> LogBenchmark.Report {
        try await Migrator.migrate(store)
        let log = try AuditLog(store: store, signingKey: Curve25519.Signing.PrivateKey(), originBase: "bench.cubby/log")
        // Every event belongs to one organization, so all of them are leaves of that organization's log.
        let org = UUID()
        let target = AuditLogID.organization(OrganizationID(org))
        say("cubby bench log: \(events) events in one organization's log")
        if leavesOnly {
            try await syntheticTree(store: store, log: target)
            let proof = try await proofTimings(
                log: log, target: target, checkpoint: try require(try await log.checkpointIfDue()[target]))
            return LogBenchmark.Report(
                events: events, sequencedPerSecond: nil, proofP50: proof.p50, proofP99: proof.p99, verifySeconds: nil)
        }
        // 1. Events, written in bulk (their cost is the store's, not the log's).
        var t0 = ContinuousClock.now
        let unit = UUID()
        let site = UUID()
        var written = 0
        while written < events {
            let n = min(5000, events - written)
            let base = written
            try await store.write { s in
                var batch: [AuditRecord] = []
                batch.reserveCapacity(n)
                for i in 0..<n {
                    batch.append(
                        AuditRecord(
                            occurredAt: Date(timeIntervalSince1970: 1_780_000_000 + Double(base + i)),
                            type: "pickup.succeeded",
                            actor: Actor(kind: .device, id: unit.idString, role: "device"), organizationId: org,
                            siteId: site,
                            unitId: unit, compartmentId: UUID(), parcelId: UUID(), trackingNumber: "1Z\(base + i)",
                            detail: ["method": "pin"]))
                }
                for chunk in stride(from: 0, to: n, by: 1000) {
                    try await s.appendAudit(Array(batch[chunk..<min(n, chunk + 1000)]))
                }
            }
            written += n
            if written % 1_000_000 == 0 { say("  \(written) events written") }
        }
        say(String(format: "  events written in %.0f s", (ContinuousClock.now - t0).seconds))

        // 2. Sequencing: leaf indexes, frontier appends and node rows.
        t0 = ContinuousClock.now
        var sequenced = 0
        while true {
            let n = try await log.sequence(batch: 20_000)
            if n == 0 { break }
            sequenced += n
            if sequenced % 1_000_000 < 20_000 { say("  \(sequenced) sequenced") }
        }
        let seqSeconds = (ContinuousClock.now - t0).seconds
        let checkpoint = try require(try await log.checkpointIfDue()[target])
        let size = UInt64(checkpoint.size)
        // Node hashes per append, counted by the frontier itself over a fresh run of the same length.
        var frontier = MerkleFrontier()
        var nodeHashes = 0
        let leaf = TreeHash(SHA256.hash(data: Data("x".utf8)))
        t0 = ContinuousClock.now
        for _ in 0..<size { frontier.append(leafHash: leaf) { id, _ in if id.level > 0 { nodeHashes += 1 } } }
        let appendSeconds = (ContinuousClock.now - t0).seconds
        say(
            String(
                format:
                    "  sequencing: %.0f events/s through the database; frontier alone: %.0f ns per append, %.2f node hashes per append (log2 n = %.1f)",
                Double(sequenced) / seqSeconds, appendSeconds / Double(size) * 1e9, Double(nodeHashes) / Double(size),
                log2(Double(size))))

        let proof = try await proofTimings(log: log, target: target, checkpoint: checkpoint)
        let verifySeconds = try await verifyTimings(store: store, log: log, target: target)
        return LogBenchmark.Report(
            events: events, sequencedPerSecond: Double(sequenced) / seqSeconds, proofP50: proof.p50,
            proofP99: proof.p99, verifySeconds: verifySeconds)
    }

    /// Leaves and nodes straight into their tables, as the sequencer would write them.
    func syntheticTree(store: any SQLStore, log: AuditLogID) async throws {
        let t0 = ContinuousClock.now
        var frontier = MerkleFrontier()
        try await store.write { s in
            try await s.openAuditLog(
                log, origin: "bench.cubby/log/synthetic", frontier: Data(MerkleFrontier().serialized), at: 0)
        }
        while frontier.size < UInt64(events) {
            let n = min(50_000, events - Int(frontier.size))
            var leaves: [LogLeaf] = []
            var nodes: [LogNode] = []
            leaves.reserveCapacity(n)
            for _ in 0..<n {
                let index = frontier.size
                let hash = TreeHash.leaf(withUnsafeBytes(of: index.bigEndian) { Data($0) })
                leaves.append(LogLeaf(index: Int64(index), eventSeq: Int64(index) + 1, hash: Data(hash.bytes)))
                frontier.append(leafHash: hash) { id, h in
                    if id.level > 0 {
                        nodes.append(LogNode(level: id.level, index: Int64(id.index), hash: Data(h.bytes)))
                    }
                }
            }
            let state = Data(frontier.serialized)
            let size = Int64(frontier.size)
            let (leafRows, nodeRows) = (leaves, nodes)
            try await store.write { s in
                try await s.appendLeaves(log, leafRows)
                try await s.appendNodes(log, nodeRows)
                try await s.saveLogState(log, size: size, frontier: state, at: 0)
            }
            if frontier.size % 1_000_000 == 0 { say("  \(frontier.size) leaves written") }
        }
        say(String(format: "  %d leaves and their nodes written in %.0f s", events, (ContinuousClock.now - t0).seconds))
    }

    /// Inclusion proofs at random indexes: their median and 99th-percentile latency, in milliseconds.
    func proofTimings(log: AuditLog, target: AuditLogID, checkpoint: StoredCheckpoint) async throws -> (
        p50: Double, p99: Double
    ) {
        let size = UInt64(checkpoint.size)
        // 3. Inclusion proofs at random indexes against the full tree, each from one database round trip.
        var latencies: [Double] = []
        var rng = SystemRandomNumberGenerator()
        let root = TreeHash(bytes: checkpoint.root)!
        for _ in 0..<proofs {
            let index = UInt64.random(in: 0..<size, using: &rng)
            let t = ContinuousClock.now
            let (leafHash, proof) = try await log.inclusionProof(target, index: index, size: size)
            latencies.append((ContinuousClock.now - t).seconds * 1000)
            try proof.verify(leafHash: leafHash, rootHash: root)
        }
        latencies.sort()
        let (p50, p99) = (latencies[latencies.count / 2], latencies[latencies.count * 99 / 100])
        say(
            String(
                format: "  inclusion proof at %llu leaves: p50 %.3f ms, p99 %.3f ms (%d proofs, all verified)",
                size, p50, p99, proofs))
        return (p50, p99)
    }

    /// Verification end to end, then its hashing alone against openssl; returns the end-to-end seconds.
    func verifyTimings(store: any SQLStore, log: AuditLog, target: AuditLogID) async throws -> Double {
        var t0 = ContinuousClock.now

        // 4. Verification end to end (database reads included), and the hashing it does, against openssl.
        let origin = try await log.identity(target).origin
        let report = try await AuditVerifier(
            store: store, log: target, verifier: try log.signer(origin: origin).verifier, origin: origin
        ).run()
        let verifySeconds = (ContinuousClock.now - t0).seconds
        guard report.ok else { throw BenchFailure("verification failed: \(report.problem!)") }
        let sample = try await store.read { s in try await s.leavesWithEvents(target, from: 0, limit: 100_000) }
            .compactMap(
                \.canonical)
        let averageBytes = sample.reduce(0) { $0 + $1.count } / max(1, sample.count)
        // The hashing verify does, alone: a leaf hash per event and the tree's inner nodes (one per leaf on average).
        var leaves = 0
        t0 = ContinuousClock.now
        var f = MerkleFrontier()
        while (ContinuousClock.now - t0).seconds < 3 {
            for bytes in sample {
                f.append(leafHash: TreeHash.leaf(bytes))
            }
            leaves += sample.count
        }
        // A frontier that took n appends from empty has hashed n − popcount(n) inner nodes.
        let nodes = leaves - leaves.nonzeroBitCount
        let eventBytes = leaves / max(1, sample.count) * sample.reduce(0) { $0 + $1.count }
        let hashSeconds = (ContinuousClock.now - t0).seconds
        say(
            String(
                format: "  verify: %llu leaves in %.1f s end to end (%.0f MB/s of events incl. database reads)",
                report.leaves, verifySeconds, Double(report.leaves) * Double(averageBytes) / verifySeconds / 1e6))
        // openssl on inputs of the same sizes: a leaf is 0x00 and the event, a node 0x01 and two hashes (65 bytes).
        let leafInput = averageBytes + 1
        let nodeInput = 1 + 2 * TreeHash.byteCount
        let inputBytes = Double(eventBytes + leaves + nodes * nodeInput)
        guard let opensslLeaf = opensslRate(blockSize: leafInput), let opensslNode = opensslRate(blockSize: nodeInput)
        else {
            say(
                String(
                    format: "  verify's hashing: %.0f MB/s of hash input (openssl not found for comparison)",
                    inputBytes / hashSeconds / 1e6))
            return verifySeconds
        }
        let opensslSeconds = Double(eventBytes + leaves) / opensslLeaf + Double(nodes * nodeInput) / opensslNode
        say(
            String(
                format:
                    "  verify's hashing: %d leaves of %d bytes + %d nodes of %d bytes in %.3f s = %.0f MB/s of hash input (%.0f MB/s of events)",
                leaves, leafInput, nodes, nodeInput, hashSeconds, inputBytes / hashSeconds / 1e6,
                Double(eventBytes) / hashSeconds / 1e6))
        say(
            String(
                format:
                    "  openssl speed -evp sha256: %.0f MB/s at -bytes %d, %.0f MB/s at -bytes %d; the same inputs would take %.3f s",
                opensslLeaf / 1e6, leafInput, opensslNode / 1e6, nodeInput, opensslSeconds))
        say(
            String(
                format:
                    "  verify's hashing ÷ openssl on the same inputs: %.2f (events only, against openssl at -bytes %d: %.2f)",
                opensslSeconds / hashSeconds, leafInput, Double(eventBytes) / hashSeconds / opensslLeaf))
        return verifySeconds
    }

    /// Bytes per second of `openssl speed -evp sha256` at one block size.
    ///
    /// `openssl speed -seconds` stops on SIGALRM, which this process's threads keep blocked; the child is
    /// spawned with an empty signal mask and default handlers so that its alarm fires.
    func opensslRate(blockSize: Int) -> Double? {
        let path = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let path else { return nil }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        var empty = sigset_t()
        var all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let args = [path, "speed", "-evp", "sha256", "-bytes", String(blockSize), "-seconds", "3", "-mr"]
        var cargs = args.map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, &cargs, environ)
        for a in cargs { free(a) }
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attr)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            return nil
        }
        let out = String(
            decoding: FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile(), as: UTF8.self)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        // Machine-readable line: "+F:<n>:sha256:<bytes per second>"
        guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix("+F:") }),
            let value = line.split(separator: ":").last.flatMap({ Double($0) })
        else { return nil }
        return value
    }
}

/// The value, or a benchmark failure saying what could not be had.
func require<T>(_ value: T?, _ what: String = "a checkpoint") throws -> T {
    guard let value else { throw BenchFailure("could not get \(what)") }
    return value
}
