import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Synchronization

/// The Ed25519 keys that sign checkpoints and QR tokens, as rotated: the key file's keys first (the genesis keys,
/// never rewritten), then each rotation's key from the `signing_keys` table, which every server process on the
/// database reads. The newest key of a purpose signs; a replaced key stays in force until its overlap ends.
///
/// Rows are read again when the ring is older than its time to live, and always right before a checkpoint is
/// signed (inside the transaction that holds the log lock, so no checkpoint is signed with a stale set).
public final class SigningKeyRing: Sendable {
    /// One key of a purpose's chain.
    public struct Key: Sendable {
        public let id: String
        public let privateKey: Curve25519.Signing.PrivateKey
        public var publicKey: Curve25519.Signing.PublicKey { privateKey.publicKey }
        /// Until when (ms) a replaced key stays in force; nil for the newest key.
        public let until: Int64?
    }

    struct State {
        var chains: [SigningKeyPurpose: [Key]]
        var opened: [String: Curve25519.Signing.PrivateKey] = [:]
        var loadedAt: Int64?
        var rows = 0
    }

    let genesis: [SigningKeyPurpose: Curve25519.Signing.PrivateKey]
    let kek: SymmetricKey?
    /// How long (ms) a set read from the database serves QR tokens before it is read again.
    let timeToLive: Int64
    private let state: Mutex<State>

    /// A ring whose genesis keys are the key file's; rotated keys open under its key-encryption key.
    public convenience init(_ keys: ServerKeys, timeToLive: Duration = .seconds(10)) {
        self.init(
            checkpoint: keys.checkpointSigningKey, qr: keys.qrSigningKey, kek: keys.keyEncryptionKey,
            timeToLive: timeToLive)
    }

    /// A ring from its genesis keys; without a key-encryption key no rotated key can be opened.
    public init(
        checkpoint: Curve25519.Signing.PrivateKey, qr: Curve25519.Signing.PrivateKey, kek: SymmetricKey?,
        timeToLive: Duration = .seconds(10)
    ) {
        genesis = [.checkpoint: checkpoint, .qr: qr]
        self.kek = kek
        self.timeToLive = Milliseconds.of(timeToLive)
        state = Mutex(
            State(chains: [
                .checkpoint: [Key(id: SigningKeySeal.keyId(checkpoint.publicKey), privateKey: checkpoint, until: nil)],
                .qr: [Key(id: SigningKeySeal.keyId(qr.publicKey), privateKey: qr, until: nil)],
            ]))
    }

    /// The key file's key of `purpose`.
    public func genesisKey(_ purpose: SigningKeyPurpose) -> Curve25519.Signing.PrivateKey { genesis[purpose]! }

    /// A purpose's keys, oldest (the key file's) first, as last read.
    public func chain(_ purpose: SigningKeyPurpose) -> [Key] { state.withLock { $0.chains[purpose] ?? [] } }

    /// The key that signs now.
    public func current(_ purpose: SigningKeyPurpose) -> Key { chain(purpose).last! }

    /// Forgets when the rows were read, so the next use reads them (after a rotation in this process).
    public func invalidate() { state.withLock { $0.loadedAt = nil } }

    /// Reads the rows again when the set is older than its time to live at `now` (ms).
    public func refreshIfStale(_ s: StoreSession, now: Int64) async throws {
        let stale = state.withLock { st in st.loadedAt.map { abs(now - $0) >= timeToLive } ?? true }
        if stale { try await refresh(s, now: now) }
    }

    /// Reads the rotated keys and rebuilds every chain; keys opened before are not opened again.
    public func refresh(_ s: StoreSession, now: Int64) async throws {
        let rows = try await s.signingKeys()
        let opened = state.withLock { $0.opened }
        var newlyOpened: [String: Curve25519.Signing.PrivateKey] = [:]
        var chains: [SigningKeyPurpose: [Key]] = [:]
        for purpose in SigningKeyPurpose.allCases {
            let first = genesis[purpose]!
            var chain = [Key(id: SigningKeySeal.keyId(first.publicKey), privateKey: first, until: nil)]
            for row in rows where row.purpose == purpose.rawValue {
                guard row.previousId == chain.last!.id else {
                    throw StoreError.corrupt(
                        "signing key \(row.id) replaces \(row.previousId), but the \(purpose.rawValue) key in force is \(chain.last!.id)"
                    )
                }
                let key: Curve25519.Signing.PrivateKey
                if let known = opened[row.id] ?? newlyOpened[row.id] {
                    key = known
                } else {
                    guard let kek else {
                        throw KeyFileError("the \(purpose.rawValue) signing key \(row.id) needs the key-encryption key")
                    }
                    guard let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: row.publicKey),
                        SigningKeySeal.keyId(publicKey) == row.id
                    else { throw StoreError.corrupt("signing key \(row.id): its public key does not match its id") }
                    key = try SigningKeySeal.open(
                        row.sealedPrivateKey, purpose: purpose, publicKey: publicKey, kek: kek)
                    newlyOpened[row.id] = key
                }
                let last = chain.removeLast()
                chain.append(Key(id: last.id, privateKey: last.privateKey, until: row.previousUntil))
                chain.append(Key(id: row.id, privateKey: key, until: nil))
            }
            chains[purpose] = chain
        }
        state.withLock {
            $0.chains = chains
            $0.opened.merge(newlyOpened) { a, _ in a }
            $0.loadedAt = now
            $0.rows = rows.count
        }
    }

    /// The QR keys in force at `now` (ms): the newest signs; replaced ones verify until their overlap ends.
    public func qrKeys(at now: Int64) -> QRKeySet {
        let chain = chain(.qr)
        return QRKeySet(
            current: QRTokenSigner(privateKey: chain.last!.privateKey),
            earlier: chain.dropLast().compactMap { k in
                guard let until = k.until, until > now else { return nil }
                return (key: QRTokenSigner(publicKey: k.publicKey), until: until)
            })
    }

    /// The QR keys in force, read again from the database when the set is stale.
    public func qrKeys(_ s: StoreSession, now: Int64) async throws -> QRKeySet {
        try await refreshIfStale(s, now: now)
        return qrKeys(at: now)
    }

    /// The keys that sign a log's next checkpoint at `now` (ms): the newest key; every replaced key still in its
    /// overlap; and every key from the newest one that signed the log's previous checkpoint on, so the first
    /// checkpoint after a rotation always carries the replaced key's signature over the rotation event.
    public func checkpointSigners(origin: String, previous: SignedNote?, at now: Int64) throws -> [NoteSigner] {
        let chain = chain(.checkpoint)
        var from = chain.count - 1
        if let previous {
            let ids = Set(previous.signatures.filter { $0.keyName == origin }.map(\.keyID))
            if let newest = chain.lastIndex(where: {
                ids.contains(NoteVerifier.ed25519KeyID(keyName: origin, publicKey: $0.publicKey))
            }) {
                from = newest
            }
        }
        var keys: [Curve25519.Signing.PrivateKey] = []
        for (i, k) in chain.enumerated() where i >= from || (k.until ?? .max) > now {
            keys.append(k.privateKey)
        }
        // The newest key's signature comes first: readers that take the first line get the key in force.
        return try keys.reversed().map { try NoteSigner(keyName: origin, privateKey: $0) }
    }

    /// Whether any key of `purpose` was rotated.
    public func hasRotated(_ purpose: SigningKeyPurpose) -> Bool { chain(purpose).count > 1 }
}
