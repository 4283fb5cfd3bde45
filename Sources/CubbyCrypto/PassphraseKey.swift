import Crypto
import CryptoExtras

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The salt and cost of scrypt (RFC 7914) for a passphrase-derived key-encryption key, kept in the key file's
/// header.
public struct ScryptParameters: Codable, Sendable, Equatable {
    /// 16 random bytes, base64.
    public var salt: String
    /// log2 of N, the CPU and memory cost.
    public var logN: Int
    /// The block size.
    public var r: Int
    /// The parallelism.
    public var p: Int

    /// Parameters as a header holds them.
    public init(salt: String, logN: Int, r: Int, p: Int) {
        self.salt = salt
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// The cost a new key file gets: N = 2^15, r = 8, p = 1 (32 MiB, about a tenth of a second), with a fresh salt.
    public static func fresh(logN: Int = 15) -> ScryptParameters {
        ScryptParameters(salt: Data(SecretGenerator.bytes(16)).base64EncodedString(), logN: logN, r: 8, p: 1)
    }

    /// The bounds a header must keep: a file cannot make the server spend more than 1 GiB or accept a weak cost.
    public func check(path: String) throws {
        guard let salt = Data(base64Encoded: salt), salt.count >= 16, salt.count <= 64,
            (10...20).contains(logN), (1...16).contains(r), (1...4).contains(p), 128 * (1 << logN) * r * p <= 1 << 30
        else {
            throw KeyFileError(
                "\(path): the scrypt parameters in the header are out of bounds (salt 16–64 bytes, logN 10–20, r 1–16, p 1–4)"
            )
        }
    }
}

/// A key-encryption key stretched from a passphrase with scrypt.
public enum PassphraseKey {
    /// The 32-byte key of `passphrase` under `parameters` (which must pass `check`).
    public static func derive(passphrase: Data, parameters: ScryptParameters) throws -> SymmetricKey {
        guard let salt = Data(base64Encoded: parameters.salt) else {
            throw KeyFileError("the scrypt salt is not base64")
        }
        do {
            return try KDF.Scrypt.deriveKey(
                from: passphrase, salt: salt, outputByteCount: 32, rounds: 1 << parameters.logN,
                blockSize: parameters.r, parallelism: parameters.p)
        } catch {
            throw KeyFileError("scrypt failed with logN \(parameters.logN), r \(parameters.r), p \(parameters.p)")
        }
    }
}
