import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// Rotates the Ed25519 keys that sign checkpoints and QR tokens, online, with an overlap.
///
/// One transaction, under the log lock: the new key's row (its private half sealed under the key-encryption key),
/// and a `log.key_rotated` event in every log the key signs, sequenced at once. So every checkpoint signed after the
/// commit covers the rotation event, and the first one of each log is signed by the old key and the new: the old key
/// vouches for its successor inside the tree it signs. The key file is not touched; every process reads the new key
/// from the database.
public enum SigningKeyRotation {
    /// One key replaced.
    public struct Rotated: Sendable, Equatable {
        public var purpose: SigningKeyPurpose
        public var oldKeyId: String
        public var newKeyId: String
        public var newPublicKey: Data
        /// Until when (ms) the old key still signs next to the new one and its QR tokens are accepted.
        public var overlapUntil: Int64
        /// The logs whose trees record it.
        public var logs: Int
    }

    /// Time added to the longest QR lifetime for processes that still sign with the old key until they read the new.
    public static let refreshMargin: Duration = .seconds(300)

    /// The overlap that keeps every QR token signed by the old key valid until it expires: the longest pickup
    /// lifetime of any site (tokens a process may still sign with the old key before it reads the new one) or the
    /// latest expiry of a live pickup code, whichever ends later, plus a margin.
    public static func defaultOverlap(_ s: StoreSession, now: Int64) async throws -> Duration {
        let (longest, latest) = try await s.qrTokenLifetimes()
        let lifetimeMs = (longest ?? 604_800) * 1000
        let untilLatest = max(0, (latest ?? now) - now)
        return .milliseconds(max(lifetimeMs, untilLatest) + Milliseconds.of(refreshMargin))
    }

    /// Rotates the keys of `purposes`; `overlap` nil takes the default. Every process picks the new keys up within
    /// its ring's time to live (at once for checkpoints and for the units' state).
    public static func rotate(
        log: AuditLog, keys: ServerKeys, purposes: [SigningKeyPurpose], overlap: Duration?, actor: Actor = .console,
        clock: ServerClock = .system
    ) async throws -> [Rotated] {
        precondition(!purposes.isEmpty)
        let ring = log.ring
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        let kek = keys.keyEncryptionKey
        let rotated = try await log.store.write { s in
            try await s.lockLog()
            while try await log.sequence(s, batch: 5000, at: now) == 5000 {}
            // The deployment log records every rotation: open it first (with a genesis naming the old keys).
            _ = try await log.openInside(s, .deployment, at: now, sharedBase: true)
            try await ring.refresh(s, now: nowMs)
            let overlapMs: Int64
            if let overlap {
                overlapMs = Milliseconds.of(overlap)
            } else {
                overlapMs = Milliseconds.of(try await defaultOverlap(s, now: nowMs))
            }
            let logs = try await s.auditLogs().filter { $0.log != .frozen && $0.origin != nil }.map(\.log)
            var done: [Rotated] = []
            var records: [AuditRecord] = []
            for purpose in purposes {
                let old = ring.current(purpose)
                let new = Curve25519.Signing.PrivateKey()
                let newId = SigningKeySeal.keyId(new.publicKey)
                let until = nowMs + overlapMs
                try await s.insertSigningKey(
                    SigningKeyRecord(
                        purpose: purpose.rawValue, id: newId, publicKey: new.publicKey.rawRepresentation,
                        sealedPrivateKey: try SigningKeySeal.seal(new, purpose: purpose, kek: kek),
                        kekId: SigningKeySeal.kekId(kek), previousId: old.id, previousUntil: until, createdAt: nowMs))
                let detail = [
                    "purpose": purpose.rawValue, "oldKeyId": old.id,
                    "oldPublicKey": old.publicKey.rawRepresentation.base64EncodedString(), "newKeyId": newId,
                    "newPublicKey": new.publicKey.rawRepresentation.base64EncodedString(),
                    "overlapUntil": AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: until)),
                ]
                // A checkpoint key signs every log; a QR key is recorded in the deployment's own log.
                let targets = purpose == .checkpoint ? logs : [.deployment]
                for target in targets {
                    var organization: UUID? = nil
                    if case .organization(let id) = target { organization = id.uuid }
                    records.append(
                        AuditRecord(
                            occurredAt: now, event: .logKeyRotated, actor: actor, organizationId: organization,
                            detail: detail))
                }
                done.append(
                    Rotated(
                        purpose: purpose, oldKeyId: old.id, newKeyId: newId,
                        newPublicKey: new.publicKey.rawRepresentation, overlapUntil: until, logs: targets.count))
            }
            try await s.appendAudit(records)
            while try await log.sequence(s, batch: 5000, at: now) == 5000 {}
            return done
        }
        ring.invalidate()
        // Sign each log's checkpoint over its rotation event now, with the old key and the new.
        try await log.checkpointIfDue()
        return rotated
    }
}
