import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// `cubby keys rotate`: a new wrapping key for data keys, online, while servers run.
///
/// The rotation's state lives in its `key_rotations` row, so a rotation that was killed resumes where it stopped when
/// `cubby keys rotate` runs again, and a second one started while the first runs says so instead of racing it. Its
/// steps:
/// 1. a new key is added to the ring as `active` (every process can open what it wraps, none wraps with it yet);
/// 2. after `propagation` (long enough for every server to have loaded it) it becomes the primary: from then on new
///    data keys are wrapped by it (a server reads the primary in the transaction that wraps, and on PostgreSQL holds
///    it share-locked until commit, so the promotion waits for those still wrapping under the old one);
/// 3. every column of `DataKeyColumn.all` is walked in id order, a batch per transaction, and each data key not yet
///    wrapped by the new key is re-wrapped, written only where the row still holds what was read;
/// 4. after `grace` a second walk catches anything a straggler wrote meanwhile;
/// 5. every other key that no longer wraps anything is retired and its key material deleted from the database.
public struct KeyRotation: Sendable {
    public struct Options: Sendable {
        /// Data keys re-wrapped per transaction.
        public var batchSize = 1000
        /// Between adding the new key and making it primary.
        public var propagation: Duration = .seconds(10)
        /// Between the first walk and the second.
        public var grace: Duration = .seconds(10)
        /// How long a running rotation's claim lasts without news; a rotation whose claim ran out is taken over.
        public var lease: Duration = .seconds(30)
        /// Stops (unfinished, resumable) after this many batches: for tests of an interrupted rotation.
        public var stopAfterBatches: Int? = nil
        /// A wait after each batch, to spread the re-wrapping's load on a busy database.
        public var pause: Duration = .zero
        /// Told what happens, a line at a time.
        public var progress: @Sendable (String) -> Void = { _ in }

        public init() {}
    }

    /// What a run did.
    public struct Outcome: Sendable {
        public var rotationId: String
        public var newKey: String
        /// Whether this run continued a rotation an earlier, interrupted run began.
        public var resumed: Bool
        /// Whether the rotation finished (false: stopped by `stopAfterBatches`).
        public var finished: Bool
        /// Data keys re-wrapped by the rotation (all its runs).
        public var rewrapped: Int
        /// Data keys that did not open and were left as they were.
        public var skipped: Int
        /// Ids of the keys destroyed at the end.
        public var destroyed: [String]
        /// Batches this run wrote.
        public var batches: Int
    }

    let store: any SQLStore
    let keys: LockerKeys
    let clock: ServerClock

    public init(store: any SQLStore, keys: LockerKeys, clock: ServerClock = .system) {
        self.store = store
        self.keys = keys
        self.clock = clock
    }

    var now: Int64 { clock.now().millisecondsSince1970 }

    /// Starts a rotation, or resumes the unfinished one, and runs it to the end.
    public func run(_ options: Options = Options(), actor: Actor = .console) async throws -> Outcome {
        let (start, resumed) = try await begin(options, actor: actor)
        options.progress(
            resumed
                ? "resuming rotation \(start.id) to key \(start.newKey) (phase \(start.phase))"
                : "rotation \(start.id): new key \(start.newKey)")
        var batches = 0
        var row = start
        while true {
            switch row.phase {
            case "propagating":
                let wait = (row.promoteAt ?? 0) - now
                if wait > 0 {
                    options.progress("waiting \(wait) ms for every server to load key \(row.newKey)")
                    try await sleep(ms: wait, renewing: row.id, options)
                }
                row = try await step(row.id, options) { s, r in
                    guard r.phase == "propagating" else { return }
                    try await s.promoteRingKey(id: r.newKey, at: now)
                    r.phase = "sweeping"
                    r.sweep = 1
                    r.cursorTable = DataKeyColumn.all.first?.table
                    r.cursorId = nil
                }
                options.progress("key \(row.newKey) is primary; re-wrapping data keys")
            case "sweeping", "resweeping":
                if let limit = options.stopAfterBatches, batches >= limit {
                    return outcome(row, resumed: resumed, finished: false, batches: batches)
                }
                row = try await batch(row.id, options)
                batches += 1
                if options.pause > .zero { try await Task.sleep(for: options.pause) }
            case "grace":
                let wait = (row.graceUntil ?? 0) - now
                if wait > 0 {
                    options.progress("grace period: \(wait) ms before the second pass")
                    try await sleep(ms: wait, renewing: row.id, options)
                }
                row = try await step(row.id, options) { _, r in
                    guard r.phase == "grace" else { return }
                    r.phase = "resweeping"
                    r.sweep = 2
                    // What the second pass cannot open is what the rotation leaves behind.
                    r.skipped = 0
                    r.cursorTable = DataKeyColumn.all.first?.table
                    r.cursorId = nil
                }
            case "retiring":
                row = try await retire(row.id, actor: actor, options)
            case "done":
                return outcome(row, resumed: resumed, finished: true, batches: batches)
            default:
                throw KeyRingError("rotation \(row.id) is in an unknown phase \(row.phase)")
            }
        }
    }

    func outcome(_ r: KeyRotationRow, resumed: Bool, finished: Bool, batches: Int) -> Outcome {
        Outcome(
            rotationId: r.id, newKey: r.newKey, resumed: resumed, finished: finished, rewrapped: r.rewrapped,
            skipped: r.skipped,
            destroyed: (r.destroyed ?? "").split(separator: ",").map(String.init).filter { $0 != "none" },
            batches: batches)
    }

    /// The unfinished rotation taken over, or a new one; `KeyRotationBusy` when another run holds it.
    func begin(_ options: Options, actor: Actor) async throws -> (KeyRotationRow, Bool) {
        let at = now
        let lease = options.lease.wholeMilliseconds
        let fresh = RingKey.generate()
        let sealed = try keys.ring.seal(fresh)
        let result = try await store.write { s -> (KeyRotationRow, Bool) in
            try await s.serializeKeyRotations()
            if var open = try await s.openKeyRotation() {
                guard open.leaseUntil <= at else { throw KeyRotationBusy(rotation: open) }
                open.leaseUntil = at + lease
                open.updatedAt = at
                try await s.saveKeyRotation(open)
                return (open, true)
            }
            let previous = try await s.primaryRingKey(lock: false)?.id ?? "root"
            try await s.insertRingKey(id: fresh.id.hex, sealedKey: sealed, state: "active", at: at)
            let row = KeyRotationRow(
                id: EntityID.make(), newKey: fresh.id.hex, phase: "propagating", startedAt: at,
                leaseUntil: at + lease, promoteAt: at + options.propagation.wholeMilliseconds)
            try await s.insertKeyRotation(row)
            try await s.appendAudit(
                AuditRecord(
                    occurredAt: clock.now(), event: .keysRotationStarted, outcome: .success, actor: actor,
                    detail: ["rotation": row.id, "newKey": row.newKey, "previousKey": previous]))
            return (row, false)
        }
        try await store.read { s in try await keys.refreshRing(s) }
        return result
    }

    /// One transaction on the rotation's row as the database has it now (a run that took over meanwhile is seen).
    func step(
        _ id: String, _ options: Options,
        _ body: @escaping @Sendable (StoreSession, inout KeyRotationRow) async throws -> Void
    ) async throws -> KeyRotationRow {
        let lease = options.lease.wholeMilliseconds
        return try await store.write { s in
            guard var r = try await s.keyRotation(id: id) else { throw KeyRingError("rotation \(id) vanished") }
            try await body(s, &r)
            r.updatedAt = now
            r.leaseUntil = max(r.leaseUntil, now + lease)
            try await s.saveKeyRotation(r)
            return r
        }
    }

    /// Re-wraps one batch of data keys and moves the cursor; at the end of the last column, on to the next phase.
    func batch(_ id: String, _ options: Options) async throws -> KeyRotationRow {
        let size = options.batchSize
        let ring = keys
        return try await step(id, options) { s, r in
            guard r.phase == "sweeping" || r.phase == "resweeping" else { return }
            guard let keyId = RingKeyID(hex: r.newKey) else { throw KeyRingError("rotation \(r.id): bad key id") }
            guard let targetRow = try await s.ringKey(id: r.newKey) else {
                throw KeyRingError("the rotation's key \(r.newKey) is not in the key ring")
            }
            let target = try ring.open(targetRow)
            let columns = DataKeyColumn.all
            let index = r.cursorTable.flatMap { t in columns.firstIndex { $0.table == t } } ?? columns.count
            guard index < columns.count else {
                try await finishPass(&r, options)
                return
            }
            let column = columns[index]
            let rows = try await s.dataKeys(
                column, after: r.cursorId, notStartingWith: EnvelopeCipher.header(keyId), limit: size)
            var updates: [(id: String, old: Data, new: Data)] = []
            updates.reserveCapacity(rows.count)
            var skipped = 0
            for row in rows {
                do {
                    try await ring.ensureWrappingKey(s, for: row.wrapped)
                    updates.append(
                        (row.id, row.wrapped, try ring.envelope.rewrap(row.wrapped, subject: row.id, under: target)))
                } catch {
                    skipped += 1
                    options.progress("\(column.table) \(row.id): data key left as it was: \(error)")
                }
            }
            r.rewrapped += try await s.rewrapDataKeys(column, updates)
            r.skipped += skipped
            if rows.count < size {
                r.cursorTable = index + 1 < columns.count ? columns[index + 1].table : nil
                r.cursorId = nil
                if r.cursorTable == nil { try await finishPass(&r, options) }
            } else {
                r.cursorId = rows.last?.id
            }
        }
    }

    func finishPass(_ r: inout KeyRotationRow, _ options: Options) async throws {
        if r.phase == "sweeping" {
            r.phase = "grace"
            r.graceUntil = now + options.grace.wholeMilliseconds
        } else {
            r.phase = "retiring"
        }
        r.cursorTable = nil
        r.cursorId = nil
        options.progress("pass \(r.sweep) done: \(r.rewrapped) data keys re-wrapped so far")
    }

    /// Destroys every key but the primary that wraps no data key any more, and finishes the rotation.
    func retire(_ id: String, actor: Actor, _ options: Options) async throws -> KeyRotationRow {
        let row = try await step(id, options) { s, r in
            guard r.phase == "retiring" else { return }
            var wrapped: [String: Int] = [:]
            for column in DataKeyColumn.all {
                for (key, n) in try await s.dataKeyCounts(column) { wrapped[key, default: 0] += n }
            }
            var destroyed: [String] = []
            var kept: [String] = []
            for key in try await s.ringKeys() where key.state == "active" && key.id != r.newKey {
                if wrapped[key.id, default: 0] == 0 {
                    try await s.destroyRingKey(id: key.id, at: now)
                    destroyed.append(key.id)
                } else {
                    kept.append(key.id)
                }
            }
            r.phase = "done"
            r.finishedAt = now
            r.destroyed = destroyed.isEmpty ? "none" : destroyed.joined(separator: ",")
            try await s.appendAudit(
                AuditRecord(
                    occurredAt: clock.now(), event: .keysRotated, outcome: .success, actor: actor,
                    detail: [
                        "rotation": r.id, "newKey": r.newKey, "rewrapped": String(r.rewrapped),
                        "skipped": String(r.skipped), "destroyed": r.destroyed ?? "none",
                        "kept": kept.isEmpty ? "none" : kept.joined(separator: ","),
                    ]))
        }
        try await store.read { s in try await keys.refreshRing(s) }
        return row
    }

    /// Sleeps `ms`, renewing the rotation's claim on the way so that nobody takes it over.
    func sleep(ms: Int64, renewing id: String, _ options: Options) async throws {
        var left = ms
        let slice = max(options.lease.wholeMilliseconds / 3, 1)
        while left > 0 {
            let nap = min(left, slice)
            try await Task.sleep(for: .milliseconds(nap))
            left -= nap
            _ = try await step(id, options) { _, _ in }
        }
    }

    // MARK: status

    /// The ring, its primary, the data keys each key wraps, and the rotation under way (or the last one).
    public func status() async throws -> KeyRingStatus {
        try await store.read { s in
            var counts: [String: [String: Int]] = [:]
            for column in DataKeyColumn.all { counts[column.table] = try await s.dataKeyCounts(column) }
            var rotation = try await s.openKeyRotation()
            if rotation == nil { rotation = try await s.lastKeyRotation() }
            return KeyRingStatus(ring: try await s.ringKeys(), dataKeys: counts, rotation: rotation)
        }
    }
}

/// `cubby keys status`.
public struct KeyRingStatus: Sendable {
    public var ring: [RingKeyRow]
    /// Per table, data keys per wrapping key id ("" = the key file's root, rows from before the key ring).
    public var dataKeys: [String: [String: Int]]
    public var rotation: KeyRotationRow?

    public var primary: String? { ring.first { $0.state == "primary" }?.id }

    /// Data keys per wrapping key over every table.
    public var totals: [String: Int] {
        dataKeys.values.reduce(into: [:]) { out, t in for (k, n) in t { out[k, default: 0] += n } }
    }

    public var text: String {
        var lines: [String] = []
        if ring.isEmpty {
            lines.append("key ring: empty (made on first use; data keys are wrapped by the key file's root)")
        }
        for k in ring {
            var line = "key \(k.id)  \(k.state)"
            line += "  created \(Self.date(k.createdAt))"
            if let r = k.retiredAt { line += "  retired \(Self.date(r)) (destroyed)" }
            line += "  data keys \(totals[k.id, default: 0])"
            lines.append(line)
        }
        if let root = totals[""], root > 0 {
            lines.append("wrapped by the key file's root (before the key ring): \(root)")
        }
        for table in dataKeys.keys.sorted() {
            let parts = dataKeys[table, default: [:]].sorted { $0.key < $1.key }.map {
                "\($0.key.isEmpty ? "root" : $0.key)=\($0.value)"
            }
            lines.append("\(table): \(parts.isEmpty ? "no data keys" : parts.joined(separator: ", "))")
        }
        if let r = rotation {
            lines.append(
                r.phase == "done"
                    ? "last rotation \(r.id): finished \(r.finishedAt.map(Self.date) ?? "?"), \(r.rewrapped) re-wrapped, destroyed \(r.destroyed ?? "none")"
                    : "rotation \(r.id) under way: phase \(r.phase), pass \(r.sweep), \(r.rewrapped) re-wrapped so far")
        }
        return lines.joined(separator: "\n")
    }

    static func date(_ ms: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}

/// Another `cubby keys rotate` holds the unfinished rotation.
public struct KeyRotationBusy: Error, CustomStringConvertible, Sendable {
    public let rotation: KeyRotationRow
    public var description: String {
        "rotation \(rotation.id) (to key \(rotation.newKey), phase \(rotation.phase)) is being run by another "
            + "`cubby keys rotate`; it finishes it. If that process died, run again after "
            + KeyRingStatus.date(rotation.leaseUntil) + " to resume it"
    }
}

extension Duration {
    /// Whole milliseconds.
    var wholeMilliseconds: Int64 {
        let c = components
        return c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000
    }
}
