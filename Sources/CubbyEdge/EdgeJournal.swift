import CubbyCore
import CubbyCrypto
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The unit's local journal: every event is written here first (synchronous, fsync'd SQLite in WAL
/// mode), numbered per device and hash-chained, then sent to the server when the link is up. It also
/// keeps what the unit needs offline: its last known state, lockdown, the PIN limiter and used codes.
///
/// With a journal key (`JournalKey`), the secrets in it are sealed under that key: the saved unit state (which holds
/// the unit's PIN key and its pickup codes' hashes) and every still. Values written before sealing are still read.
public actor EdgeJournal {
    let connection: SQLiteConnection
    /// Seals the state and the stills; nil keeps them in clear (tests of other parts).
    let sealer: KeyedSealer?
    private var lastSeq: Int64
    private var lastHash: String
    private var ackedSeq: Int64
    /// Appends run one at a time: numbering and chaining read the last event and must not interleave
    /// across the write's suspension (the actor alone does not prevent that).
    private var appending = false
    private var waitingAppends: [CheckedContinuation<Void, Never>] = []

    /// One journaled event with its still, if any.
    public struct Entry: Sendable {
        public var event: EdgeEvent
        public var photo: Data?
    }

    /// Settings whose values are sealed under the journal key.
    static let sealedSettings: Set<String> = ["unitState"]
    /// The prefix of a sealed setting's value (base64 of the sealed bytes follows).
    static let sealedPrefix = "sealed:"

    /// Opens (creating) the journal at `path`; `key` seals its secrets. A journal whose sealed state the key does not
    /// open is refused, so a wrong key is found at start, not at the first pickup.
    public static func open(path: String, key: KeyedSealer? = nil, logger: Logger) async throws -> EdgeJournal {
        try PrivateFile.prepare(path)
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any())
        do {
            for statement in [
                "PRAGMA journal_mode = WAL",
                // FULL: every commit is fsync'd before it returns, so an event the controller acted on survives a kill or a power cut.
                "PRAGMA synchronous = FULL",
                """
                CREATE TABLE IF NOT EXISTS events (
                  seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, previous_hash TEXT NOT NULL, body TEXT NOT NULL, photo BLOB)
                """,
                "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                "CREATE TABLE IF NOT EXISTS used_codes (parcel_id TEXT PRIMARY KEY, used_at INTEGER NOT NULL)",
                "CREATE TABLE IF NOT EXISTS pin_failures (at INTEGER NOT NULL)",
            ] {
                _ = try await connection.query(statement)
            }
            let last = try await connection.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").first
            let acked = try await connection.query("SELECT value FROM settings WHERE key = 'ackedSeq'").first
            let journal = EdgeJournal(
                connection: connection, sealer: key, lastSeq: last?.column("seq")?.integer.map(Int64.init) ?? 0,
                lastHash: last?.column("hash")?.string ?? EdgeEvent.genesisHash,
                ackedSeq: acked?.column("value")?.string.flatMap { Int64($0) } ?? 0)
            for name in sealedSettings { _ = try await journal.get(name) }
            return journal
        } catch {
            try? await connection.close()
            throw error
        }
    }

    init(connection: SQLiteConnection, sealer: KeyedSealer?, lastSeq: Int64, lastHash: String, ackedSeq: Int64) {
        self.connection = connection
        self.sealer = sealer
        self.lastSeq = lastSeq
        self.lastHash = lastHash
        self.ackedSeq = ackedSeq
    }

    public func close() async {
        try? await connection.close()
    }

    // MARK: events

    /// Appends an event (numbering and chaining it) and returns it once it is on disk.
    @discardableResult
    public func append(
        _ kind: EdgeEventKind, compartmentId: String? = nil, parcelId: String? = nil, detail: [String: String] = [:],
        photo: Data? = nil, at time: Date = Date()
    ) async throws -> EdgeEvent {
        await beginAppend()
        defer { endAppend() }
        var event = EdgeEvent(
            seq: lastSeq + 1, occurredAt: time.millisecondsSince1970, kind: kind, compartmentId: compartmentId,
            parcelId: parcelId, detail: detail, photoSHA256: photo.map { Hex.sha256($0) }, previousHash: lastHash)
        event.hash = EdgeJournalHash.hash(previous: lastHash, event: event)
        let body = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        let stored = try photo.map { photo in
            try sealer.map { try $0.seal(photo, context: Self.stillContext(Hex.sha256(photo))) } ?? photo
        }
        _ = try await connection.query(
            "INSERT INTO events (seq, hash, previous_hash, body, photo) VALUES (?, ?, ?, ?, ?)",
            [
                .integer(Int(event.seq)), .text(event.hash), .text(event.previousHash), .text(body),
                stored.map { .blob(ByteBuffer(bytes: $0)) } ?? .null,
            ])
        lastSeq = event.seq
        lastHash = event.hash
        return event
    }

    private func beginAppend() async {
        guard appending else {
            appending = true
            return
        }
        await withCheckedContinuation { waitingAppends.append($0) }
    }

    private func endAppend() {
        if waitingAppends.isEmpty { appending = false } else { waitingAppends.removeFirst().resume() }
    }

    /// Events after `seq`, oldest first.
    public func entries(after seq: Int64, limit: Int) async throws -> [Entry] {
        try await connection.query(
            "SELECT body, photo FROM events WHERE seq > ? ORDER BY seq LIMIT ?", [.integer(Int(seq)), .integer(limit)]
        )
        .map { row in
            guard let body = row.column("body")?.string else {
                throw EdgeJournalError.corrupt("an event without a body")
            }
            let event = try JSONDecoder().decode(EdgeEvent.self, from: Data(body.utf8))
            var photo: Data? = nil
            if case .blob(let buffer)? = row.column("photo") {
                photo = try openStill(Data(buffer.readableBytesView), sha256: event.photoSHA256)
            }
            return Entry(event: event, photo: photo)
        }
    }

    static func stillContext(_ sha256: String) -> String { "cubby.edge.still:" + sha256 }

    /// A still as stored: opened when sealed; one stored in clear before sealing (its bytes hash to the event's
    /// digest) as it is.
    func openStill(_ stored: Data, sha256: String?) throws -> Data {
        guard let sha256 else { throw EdgeJournalError.corrupt("a still without its digest") }
        // Sealed is the common case: try its format first rather than hashing the ciphertext on every read.
        if let sealer, KeyedSealer.isSealed(stored),
            let plain = try? sealer.open(stored, context: Self.stillContext(sha256))
        {
            return plain
        }
        if Hex.sha256(stored) == sha256 { return stored }
        guard let sealer else {
            throw EdgeJournalError.sealed("a still is sealed and no journal key was given")
        }
        do { return try sealer.open(stored, context: Self.stillContext(sha256)) } catch {
            throw EdgeJournalError.sealed("a still does not open with the journal key: \(error)")
        }
    }

    /// Records that the server applied every event up to `seq`.
    public func acknowledge(upTo seq: Int64) async throws {
        let seq = min(seq, lastSeq)
        guard seq > ackedSeq else { return }
        ackedSeq = seq
        try await set("ackedSeq", String(seq))
    }

    public var sequence: Int64 { lastSeq }
    public var acknowledged: Int64 { ackedSeq }

    /// Checks the whole chain; returns the first sequence number whose hash does not follow, or nil.
    public func verifyChain() async throws -> Int64? {
        var previous = EdgeEvent.genesisHash
        var expected: Int64 = 1
        for row in try await connection.query("SELECT body FROM events ORDER BY seq") {
            guard let body = row.column("body")?.string,
                let event = try? JSONDecoder().decode(EdgeEvent.self, from: Data(body.utf8))
            else {
                return expected
            }
            if event.seq != expected || event.previousHash != previous
                || EdgeJournalHash.hash(previous: previous, event: event) != event.hash
            {
                return event.seq
            }
            previous = event.hash
            expected += 1
        }
        return nil
    }

    // MARK: settings

    /// Saves a setting; the sealed settings are sealed under the journal key, bound to their name.
    public func set(_ key: String, _ value: String) async throws {
        var stored = value
        if let sealer, Self.sealedSettings.contains(key) {
            stored =
                Self.sealedPrefix
                + (try sealer.seal(Data(value.utf8), context: "cubby.edge.setting:" + key))
                .base64EncodedString()
        }
        _ = try await connection.query(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [.text(key), .text(stored)])
    }

    /// A setting's value as stored (sealed ones sealed), for checks of what lies on disk.
    public func rawSetting(_ key: String) async throws -> String? {
        try await connection.query("SELECT value FROM settings WHERE key = ?", [.text(key)]).first?.column("value")?
            .string
    }

    /// A setting's value, opened when sealed.
    public func get(_ key: String) async throws -> String? {
        guard
            let stored = try await connection.query("SELECT value FROM settings WHERE key = ?", [.text(key)]).first?
                .column("value")?.string
        else { return nil }
        guard stored.hasPrefix(Self.sealedPrefix) else { return stored }
        guard let sealer else {
            throw EdgeJournalError.sealed("the saved \(key) is sealed and no journal key was given")
        }
        guard let sealed = Data(base64Encoded: String(stored.dropFirst(Self.sealedPrefix.count))) else {
            throw EdgeJournalError.corrupt("the saved \(key) is not base64")
        }
        do {
            return String(decoding: try sealer.open(sealed, context: "cubby.edge.setting:" + key), as: UTF8.self)
        } catch {
            throw EdgeJournalError.sealed("the saved \(key) does not open with the journal key: \(error)")
        }
    }

    // MARK: codes and PIN failures

    public func markUsed(parcelId: String, at: Int64) async throws {
        _ = try await connection.query(
            "INSERT OR IGNORE INTO used_codes (parcel_id, used_at) VALUES (?, ?)", [.text(parcelId), .integer(Int(at))])
    }

    public func usedParcels() async throws -> Set<String> {
        Set(
            try await connection.query("SELECT parcel_id FROM used_codes").compactMap { $0.column("parcel_id")?.string }
        )
    }

    /// Forgets used codes the server no longer lists (they are dead there too), in one statement.
    public func forgetUsed(_ parcelIds: Set<String>) async throws {
        guard !parcelIds.isEmpty else { return }
        let marks = Array(repeating: "?", count: parcelIds.count).joined(separator: ", ")
        _ = try await connection.query(
            "DELETE FROM used_codes WHERE parcel_id IN (\(marks))", parcelIds.map { .text($0) })
    }

    public func recordPinFailure(at: Int64) async throws {
        _ = try await connection.query("INSERT INTO pin_failures (at) VALUES (?)", [.integer(Int(at))])
        _ = try await connection.query(
            "DELETE FROM pin_failures WHERE at < ?", [.integer(Int(at - PickupCodeRules.failureWindow))])
    }

    public func pinFailures(since: Int64) async throws -> [Int64] {
        try await connection.query("SELECT at FROM pin_failures WHERE at >= ? ORDER BY at", [.integer(Int(since))])
            .compactMap { $0.column("at")?.integer.map(Int64.init) }
    }
}

/// The journal cannot be read.
public enum EdgeJournalError: Error, CustomStringConvertible {
    case corrupt(String)
    /// Sealed content that the journal key given (or none) does not open.
    case sealed(String)
    public var description: String {
        switch self {
        case .corrupt(let m): "the journal is damaged: \(m)"
        case .sealed(let m): "the journal cannot be read: \(m) (is --journal-key the unit's key?)"
        }
    }
}
