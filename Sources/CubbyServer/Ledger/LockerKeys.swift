import Crypto
import CubbyCrypto
import CubbyStore
import Foundation

/// The server's keys in the shapes the flows use.
public struct LockerKeys: Sendable {
    public let hasher: KeyedHasher
    /// The QR and checkpoint signing keys as rotated (the key file's come first).
    public let signing: SigningKeyRing
    /// Signs QR tokens with the newest key as last read; `signing.qrKeys` also verifies by replaced keys.
    public var qr: QRTokenSigner { QRTokenSigner(privateKey: signing.current(.qr).privateKey) }
    public let outbox: SealedPayload
    public let envelope: EnvelopeCipher
    /// Seals staff members' TOTP secrets (a key derived from the key-encryption key).
    public let accountSecrets: SealedPayload
    /// The root of every unit's PIN key.
    let pinRoot: SymmetricKey
    /// Seals webhook subscriptions' signing secrets (a key derived from the key-encryption key).
    public let webhookSecrets: SealedPayload
    /// Seals units' stills in the database (a key derived from the key-encryption key; its id is in every still).
    let evidence: KeyedSealer

    public init(_ keys: ServerKeys) {
        accountSecrets = SealedPayload(
            key: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: keys.keyEncryptionKey, info: Data("cubby.account-secrets.v1".utf8),
                outputByteCount: 32))
        webhookSecrets = SealedPayload(
            key: HKDF<SHA256>.deriveKey(
                inputKeyMaterial: keys.keyEncryptionKey, info: Data("cubby.webhook-secrets.v1".utf8),
                outputByteCount: 32))
        hasher = KeyedHasher(key: keys.secretHashKey)
        pinRoot = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: keys.secretHashKey, info: Data("cubby.pin-root.v1".utf8), outputByteCount: 32)
        signing = SigningKeyRing(keys)
        outbox = SealedPayload(key: keys.outboxKey)
        envelope = EnvelopeCipher(keyEncryptionKey: keys.keyEncryptionKey)
        evidence = KeyedSealer.derived(from: keys.keyEncryptionKey, purpose: "cubby.evidence.v1")
    }

    /// A unit's still sealed for the database, bound to its SHA-256 (its name).
    public func sealEvidence(_ bytes: Data, sha256: String) throws -> Data {
        try evidence.seal(bytes, context: "cubby.evidence:" + sha256)
    }

    /// The bytes of a stored still. A still stored before stills were sealed (its bytes hash to its name) is read as
    /// it is; a sealed one must open and hash to its name.
    public func openEvidence(_ stored: Data, sha256: String) throws -> Data {
        // Sealed is the common case: its format is tried first, so a still is hashed once, not also as ciphertext.
        if KeyedSealer.isSealed(stored), let plain = try? evidence.open(stored, context: "cubby.evidence:" + sha256),
            Hex.sha256(plain) == sha256
        {
            return plain
        }
        if Hex.sha256(stored) == sha256 { return stored }
        let plain = try evidence.open(stored, context: "cubby.evidence:" + sha256)
        guard Hex.sha256(plain) == sha256 else { throw KeyedSealerError.damaged }
        return plain
    }

    /// How the store keeps staff emails: sealed under each member's data key (field `email`), found by a keyed hash
    /// of the lowercased address.
    public var staffEmailCipher: StaffEmailCipher {
        let hasher = hasher
        let envelope = envelope
        return StaffEmailCipher(
            index: { "h:" + Hex.encode(hasher.hash("cubby.staff-email.v1", $0.lowercased())) },
            newDataKey: { [self] session, id in try await newWrappedDataKey(session, subject: id) },
            seal: { email, id, key in
                try envelope.seal(Data(email.utf8), wrappedKey: key, subject: id, field: "email")
            },
            open: { [self] session, sealed, id, key in
                try await ensureWrappingKey(session, for: key)
                return String(
                    decoding: try envelope.open(sealed, wrappedKey: key, subject: id, field: "email"), as: UTF8.self)
            })
    }

    /// The wrapping keys of the key ring that this process has loaded.
    public var ring: KeyRing { envelope.ring }

    /// The key of one unit's PINs (its edge controller holds a copy).
    public func unitPinKey(_ unitId: String) -> UnitPinKey { UnitPinKey(root: pinRoot, unitId: unitId) }

    /// The keyed hash under which a PIN is stored: under its unit's own key.
    public func pinHash(unitId: String, pin: String) -> Data {
        Data(unitPinKey(unitId).hash(pin: pin))
    }

    /// The keyed hash under which a bearer credential is stored.
    public func credentialHash(_ token: String) -> Data {
        Data(hasher.hash("cubby.credential.v1", token))
    }

    /// The keyed hash under which a staff session id is stored.
    public func sessionHash(_ token: String) -> Data { Data(hasher.hash("cubby.session.v1", token)) }

    /// The keyed hash under which an enrollment link's token is stored.
    public func enrollmentHash(_ token: String) -> Data { Data(hasher.hash("cubby.enrollment.v1", token)) }

    /// The keyed hash under which a unit's enrollment code is stored.
    public func unitEnrollmentHash(_ code: String) -> Data { Data(hasher.hash("cubby.unit-enrollment.v1", code)) }

    /// The keyed hash under which a recovery code is stored: bound to its account, dashes and case ignored.
    public func recoveryHash(account: String, code: String) -> Data {
        let normalized = code.lowercased().filter { $0.isLetter || $0.isNumber }
        return Data(hasher.hash("cubby.recovery.v1", account, normalized))
    }

    /// The anti-forgery token of forms: bound to the session (or to the pre-session cookie).
    public func formToken(_ binding: String) -> String {
        Base64URL.encode(hasher.hash("cubby.form.v1", binding))
    }

    /// A fresh pre-sign-in cookie value: 18 random bytes and the server's keyed tag over them, so that a value the
    /// server did not make (one planted by someone else) is recognised and replaced.
    public func preSignInToken() -> String {
        let nonce = Base64URL.encode(SecretGenerator.bytes(18))
        return nonce + "." + preSignInTag(nonce)
    }

    /// Whether the server made this pre-sign-in cookie value.
    public func isPreSignInToken(_ value: String) -> Bool {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count == 24, parts[1].utf8.count <= 64 else { return false }
        return KeyedHasher.constantTimeEquals(Array(parts[1].utf8), Array(preSignInTag(String(parts[0])).utf8))
    }

    func preSignInTag(_ nonce: String) -> String {
        Base64URL.encode(Array(hasher.hash("cubby.pre-sign-in.v1", nonce).prefix(16)))
    }
}

/// The time source of the flows; tests move it by hand.
public struct ServerClock: Sendable {
    public let now: @Sendable () -> Date
    public init(now: @escaping @Sendable () -> Date) { self.now = now }
    public static let system = ServerClock { Date() }
}
