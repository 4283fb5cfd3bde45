import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Random secrets from the system CSPRNG (getrandom on Linux).
public enum SecretGenerator {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    /// A string of `length` decimal digits, each uniform and independent.
    public static func digits(_ length: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
    }

    /// A bearer credential: a visible type prefix and 160 random bits in lowercase base32 (RFC 4648 alphabet).
    public static func credential(prefix: String) -> String {
        prefix + Base32.encode(bytes(20))
    }
}

/// Lowercase base32 without padding (RFC 4648 §6 alphabet), readable and URL-safe.
public enum Base32 {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = ""
        var buffer: UInt32 = 0
        var bits = 0
        for b in bytes {
            buffer = (buffer << 8) | UInt32(b)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return out
    }
}
