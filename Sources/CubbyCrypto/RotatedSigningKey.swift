import Crypto
import CubbyCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a rotated Ed25519 signing key is for.
public enum SigningKeyPurpose: String, Sendable, CaseIterable, Codable {
    /// Signs the audit logs' checkpoints.
    case checkpoint
    /// Signs QR pickup tokens.
    case qr
}

/// Seals the private half of a rotated signing key (one stored in the database rather than in the key file) with
/// AES-256-GCM under a key derived from the key-encryption key; purpose, key id and public key are the associated
/// data, so a sealed key cannot be passed off as another.
public enum SigningKeySeal {
    /// A key's id: hex of the first 8 bytes of SHA-256 over its raw public key.
    public static func keyId(_ key: Curve25519.Signing.PublicKey) -> String {
        Hex.encode(Array(SHA256.hash(data: key.rawRepresentation).prefix(8)))
    }

    /// The id of a key-encryption key as the key rows name it.
    public static func kekId(_ kek: SymmetricKey) -> String {
        let idKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: kek, info: Data("cubby.signing-keys.kek-id.v1".utf8), outputByteCount: 32)
        return Hex.encode(Array(idKey.withUnsafeBytes { SHA256.hash(data: Data($0)) }.prefix(8)))
    }

    static func sealingKey(_ kek: SymmetricKey) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: kek, info: Data("cubby.signing-keys.seal.v1".utf8), outputByteCount: 32)
    }

    static func associatedData(purpose: SigningKeyPurpose, publicKey: Curve25519.Signing.PublicKey) -> Data {
        Data(
            "cubby signing key v1\n\(purpose.rawValue)\n\(keyId(publicKey))\n\(publicKey.rawRepresentation.base64EncodedString())"
                .utf8)
    }

    /// Nonce ‖ ciphertext ‖ tag of `key`'s private half.
    public static func seal(
        _ key: Curve25519.Signing.PrivateKey, purpose: SigningKeyPurpose, kek: SymmetricKey
    ) throws -> Data {
        let box = try AES.GCM.seal(
            key.rawRepresentation, using: sealingKey(kek),
            authenticating: associatedData(purpose: purpose, publicKey: key.publicKey))
        guard let combined = box.combined else { throw KeyMaterialError.sealFailed }
        return combined
    }

    /// The private key sealed in `sealed`, when it opens under `kek` and its public half is `publicKey`.
    public static func open(
        _ sealed: Data, purpose: SigningKeyPurpose, publicKey: Curve25519.Signing.PublicKey, kek: SymmetricKey
    ) throws -> Curve25519.Signing.PrivateKey {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let raw = try? AES.GCM.open(
                box, using: sealingKey(kek), authenticating: associatedData(purpose: purpose, publicKey: publicKey)),
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw),
            key.publicKey.rawRepresentation == publicKey.rawRepresentation
        else {
            throw KeyFileError(
                "the \(purpose.rawValue) signing key \(keyId(publicKey)) does not open under this key-encryption key")
        }
        return key
    }
}

/// The QR keys in force: the current key, which signs new tokens, and earlier keys whose tokens are still accepted
/// until their overlap ends (by then every token they signed has expired).
public struct QRKeySet: Sendable {
    /// Signs new tokens.
    public let current: QRTokenSigner
    /// Earlier keys and the time (ms since 1970) until which tokens they signed are accepted.
    public let earlier: [(key: QRTokenSigner, until: Int64)]

    public init(current: QRTokenSigner, earlier: [(key: QRTokenSigner, until: Int64)] = []) {
        self.current = current
        self.earlier = earlier
    }

    /// A new token for `claims`, signed by the current key.
    public func issue(_ claims: QRTokenClaims) throws -> String { try current.issue(claims) }

    /// The claims of a token signed by the current key, or by an earlier key whose overlap lasts past `now` (ms).
    public func verify(_ token: String, now: Int64) -> QRTokenClaims? {
        if let claims = current.verify(token) { return claims }
        for (key, until) in earlier where until > now {
            if let claims = key.verify(token) { return claims }
        }
        return nil
    }
}

extension PickupCodeRules {
    /// The claims of a QR token signed by a key of `keys` accepted at `now`, for unit `unitId`, not expired.
    public func verifyQR(_ token: String, keys: QRKeySet, unitId: String, now: Int64) -> QRTokenClaims? {
        guard let claims = keys.verify(token, now: now), claims.u.idString == unitId,
            claims.expiresAt.millisecondsSince1970 > now
        else { return nil }
        return claims
    }
}
