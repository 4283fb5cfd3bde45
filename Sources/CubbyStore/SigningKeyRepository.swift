import CubbyAudit
import CubbyCore
import Foundation
import SQLKit

/// A rotated signing key as stored: its public half in clear, its private half sealed.
public struct SigningKeyRecord: Sendable, Hashable {
    /// `checkpoint` or `qr`.
    public var purpose: String
    /// Hex of the first 8 bytes of SHA-256 over the public key.
    public var id: String
    public var publicKey: Data
    /// The private key sealed under a key derived from the key-encryption key named by `kekId`.
    public var sealedPrivateKey: Data
    public var kekId: String
    /// The key this one replaced.
    public var previousId: String
    /// Until when (ms since 1970) the replaced key still signs next to this one and its QR tokens are accepted.
    public var previousUntil: Int64
    public var createdAt: Int64

    public init(
        purpose: String, id: String, publicKey: Data, sealedPrivateKey: Data, kekId: String, previousId: String,
        previousUntil: Int64, createdAt: Int64
    ) {
        self.purpose = purpose
        self.id = id
        self.publicKey = publicKey
        self.sealedPrivateKey = sealedPrivateKey
        self.kekId = kekId
        self.previousId = previousId
        self.previousUntil = previousUntil
        self.createdAt = createdAt
    }
}

extension StoreSession {
    /// Every rotated signing key, oldest first (the key file's own keys come before all of them).
    public func signingKeys() async throws -> [SigningKeyRecord] {
        try await sql.raw("SELECT * FROM signing_keys ORDER BY seq").all().map {
            SigningKeyRecord(
                purpose: try $0.decode(column: "purpose", as: String.self),
                id: try $0.decode(column: "id", as: String.self),
                publicKey: try $0.decode(column: "public_key", as: Data.self),
                sealedPrivateKey: try $0.decode(column: "sealed_private_key", as: Data.self),
                kekId: try $0.decode(column: "kek_id", as: String.self),
                previousId: try $0.decode(column: "previous_id", as: String.self),
                previousUntil: try $0.decode(column: "previous_until", as: Int64.self),
                createdAt: try $0.decode(column: "created_at", as: Int64.self))
        }
    }

    /// Stores a new signing key; the unique (purpose, previous) pair refuses a second successor of one key.
    public func insertSigningKey(_ r: SigningKeyRecord) async throws {
        try await sql.raw(
            """
            INSERT INTO signing_keys (id, purpose, public_key, sealed_private_key, kek_id, previous_id, previous_until, created_at)
            VALUES (\(bind: r.id), \(bind: r.purpose), \(bind: r.publicKey), \(bind: r.sealedPrivateKey), \(bind: r.kekId), \(bind: r.previousId), \(bind: r.previousUntil), \(bind: r.createdAt))
            """
        ).run()
    }

    /// The leaf indexes and canonical bytes of a log's events of one type, in leaf order (a log holds few
    /// `log.key_rotated` events; the type index finds them).
    public func leavesOfType(_ log: AuditLogID, type: String, below size: Int64) async throws -> [(Int64, Data)] {
        let t = LogTables(log)
        return try await sql.raw(
            """
            SELECT l.leaf_index AS leaf_index, e.canonical AS canonical FROM audit_events e
            JOIN \(unsafeRaw: t.leaves) l ON l.event_seq = e.seq
            WHERE \(t.key)e.type = \(bind: type) AND l.leaf_index < \(bind: size) ORDER BY l.leaf_index
            """
        ).all().map {
            (try $0.decode(column: "leaf_index", as: Int64.self), try $0.decode(column: "canonical", as: Data.self))
        }
    }

    /// A log's first checkpoint of more than `size` leaves.
    public func firstCheckpoint(_ log: AuditLogID, above size: Int64) async throws -> StoredCheckpoint? {
        let t = LogTables(log)
        let row = try await sql.raw(
            "SELECT * FROM \(unsafeRaw: t.checkpoints) WHERE \(t.key)size > \(bind: size) ORDER BY size LIMIT 1"
        ).first()
        return try row.map {
            StoredCheckpoint(
                size: try $0.decode(column: "size", as: Int64.self), root: try $0.decode(column: "root", as: Data.self),
                note: try $0.decode(column: "note", as: String.self),
                createdAt: try $0.decode(column: "created_at", as: Int64.self))
        }
    }
}

extension StoreSession {
    /// The longest pickup lifetime (seconds) of any site, and the latest expiry (ms) of a live pickup credential:
    /// how long QR tokens signed now, or signed already, stay valid.
    public func qrTokenLifetimes() async throws -> (longestSeconds: Int64?, latestExpiry: Int64?) {
        let lifetime = try await sql.raw("SELECT MAX(pickup_lifetime_seconds) AS m FROM sites").first()?
            .decode(column: "m", as: Int64?.self)
        let expiry = try await sql.raw("SELECT MAX(expires_at) AS m FROM pickup_credentials WHERE state = 'live'")
            .first()?.decode(column: "m", as: Int64?.self)
        return (lifetime ?? nil, expiry ?? nil)
    }
}
