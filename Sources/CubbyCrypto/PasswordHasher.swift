import Crypto
import CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Password hashes: PBKDF2-HMAC-SHA256 with a 128-bit random salt, as OWASP's Password Storage
/// Cheat Sheet recommends (at least 600,000 iterations).
///
/// Stored form: `pbkdf2-sha256$<iterations>$<salt base64url>$<hash base64url>`. The iteration count
/// travels with each hash, so raising it later leaves older hashes verifiable (and `needsRehash`).
public struct PasswordHasher: Sendable {
    /// OWASP's figure for PBKDF2-HMAC-SHA256.
    public static let minimumIterations = 600_000
    /// A stored hash never makes the server spend more than this on one check.
    static let maximumIterations = 10_000_000

    public let iterations: Int

    /// The production hasher.
    public static let standard = PasswordHasher(validatedIterations: minimumIterations)

    init(validatedIterations: Int) { self.iterations = validatedIterations }

    /// A hasher with fewer iterations, for tests only: it cannot produce hashes the server accepts as
    /// up to date (`needsRehash` is true for them).
    public static func forTesting(iterations: Int) -> PasswordHasher { PasswordHasher(validatedIterations: iterations) }

    public func hash(_ password: String) -> String {
        let salt = SecretGenerator.bytes(16)
        let derived = Self.derive(password, salt: salt, iterations: iterations)
        return "pbkdf2-sha256$\(iterations)$\(Base64URL.encode(salt))$\(Base64URL.encode(derived))"
    }

    /// Whether `password` matches `stored`. A malformed stored hash never matches.
    public func verify(_ password: String, against stored: String) -> Bool {
        guard let (rounds, salt, expected) = Self.parse(stored) else { return false }
        return KeyedHasher.constantTimeEquals(Self.derive(password, salt: salt, iterations: rounds), expected)
    }

    /// Spends the same time as a real check, for callers that have no stored hash to check against.
    public func verifyNothing(_ password: String) {
        _ = Self.derive(password, salt: [UInt8](repeating: 0, count: 16), iterations: iterations)
    }

    /// Whether a stored hash was made with fewer iterations than this hasher uses.
    public func needsRehash(_ stored: String) -> Bool {
        guard let (rounds, _, _) = Self.parse(stored) else { return true }
        return rounds < iterations
    }

    /// The raw derivation, for checking against published vectors.
    public func derivedForTesting(_ password: String, salt: [UInt8]) -> [UInt8] {
        Self.derive(password, salt: salt, iterations: iterations)
    }

    static func parse(_ stored: String) -> (Int, [UInt8], [UInt8])? {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds >= 1,
            rounds <= maximumIterations, let salt = Base64URL.decode(parts[2]), let hash = Base64URL.decode(parts[3]),
            salt.count >= 16, hash.count == 32
        else { return nil }
        return (rounds, Array(salt), Array(hash))
    }

    static func derive(_ password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        // The only failure is an out-of-range parameter, which the callers above rule out.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }
}
