import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A signed pickup token for a QR code: `cby1.<base64url payload>.<base64url Ed25519 signature>`.
///
/// It carries parcel, unit, compartment and expiry, so a locker unit can check it with the public key alone.
public struct QRTokenClaims: Codable, Sendable, Equatable {
    /// Parcel id.
    public var p: UUID
    /// Unit id.
    public var u: UUID
    /// Compartment id.
    public var c: UUID
    /// Expiry, seconds since 1970.
    public var e: Int64
    /// Random nonce (base64url, 128 bits) so two tokens for one parcel never repeat.
    public var n: String

    public init(
        parcel: UUID, unit: UUID, compartment: UUID, expiresAt: Date,
        nonce: String = Base64URL.encode(SecretGenerator.bytes(16))
    ) {
        self.p = parcel
        self.u = unit
        self.c = compartment
        self.e = Int64(expiresAt.timeIntervalSince1970.rounded(.down))
        self.n = nonce
    }

    public var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(e)) }
}

/// Issues and checks QR pickup tokens.
public struct QRTokenSigner: Sendable {
    public static let prefix = "cby1."
    private let privateKey: Curve25519.Signing.PrivateKey?
    public let publicKey: Curve25519.Signing.PublicKey

    /// A signer that can issue and verify.
    public init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
    }

    /// A verifier only (what a locker unit holds).
    public init(publicKey: Curve25519.Signing.PublicKey) {
        self.privateKey = nil
        self.publicKey = publicKey
    }

    /// A signed token for `claims`.
    public func issue(_ claims: QRTokenClaims) throws -> String {
        guard let privateKey else { throw KeyMaterialError.malformedToken }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dataEncodingStrategy = .base64
        let payload = Self.prefix + Base64URL.encode(try encoder.encode(claims))
        let signature = try privateKey.signature(for: Data(payload.utf8))
        return payload + "." + Base64URL.encode(signature)
    }

    /// The claims of a token whose signature is good, or nil. Expiry is the caller's to check.
    public func verify(_ token: String) -> QRTokenClaims? {
        guard token.hasPrefix(Self.prefix), token.utf8.count <= 512 else { return nil }
        let parts = token.dropFirst(Self.prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decode(parts[0]), let signature = Base64URL.decode(parts[1])
        else { return nil }
        let signed = Data((Self.prefix + parts[0]).utf8)
        guard publicKey.isValidSignature(signature, for: signed) else { return nil }
        return try? JSONDecoder().decode(QRTokenClaims.self, from: payload)
    }
}
