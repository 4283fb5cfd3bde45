import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// HMAC-based one-time passwords (RFC 4226) and their time-based form (RFC 6238).
public struct OneTimePassword: Sendable {
    /// The HMAC under which codes are computed. Authenticator apps expect SHA-1.
    public enum Algorithm: String, Sendable {
        case sha1 = "SHA1"
        case sha256 = "SHA256"
        case sha512 = "SHA512"
    }

    public let secret: [UInt8]
    public let digits: Int
    public let algorithm: Algorithm
    /// Seconds per time step (RFC 6238 X).
    public let period: Int

    /// The settings every administrator's authenticator uses: SHA-1, 6 digits, 30-second steps.
    public init(secret: [UInt8], digits: Int = 6, algorithm: Algorithm = .sha1, period: Int = 30) {
        precondition((6...10).contains(digits) && period > 0)
        self.secret = secret
        self.digits = digits
        self.algorithm = algorithm
        self.period = period
    }

    /// RFC 4226 §5.3: dynamic truncation of HMAC(secret, counter), reduced to `digits` decimal digits.
    public func hotp(counter: UInt64) -> String {
        let message = withUnsafeBytes(of: counter.bigEndian) { Array($0) }
        let key = SymmetricKey(data: secret)
        let mac: [UInt8] =
            switch algorithm {
            case .sha1: Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
            case .sha256: Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
            case .sha512: Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
            }
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary =
            (UInt64(mac[offset] & 0x7f) << 24) | (UInt64(mac[offset + 1]) << 16)
            | (UInt64(mac[offset + 2]) << 8) | UInt64(mac[offset + 3])
        var modulus: UInt64 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The time step that contains `date` (RFC 6238 T, with T0 = 0).
    public func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    /// The code for the step that contains `date`.
    public func code(at date: Date) -> String {
        hotp(counter: UInt64(max(0, step(at: date))))
    }

    /// The step a submitted code belongs to, if it matches the current step or one step either side
    /// and that step is later than `lastUsedStep` (so a code is accepted once only).
    public func acceptedStep(for submitted: String, at date: Date, lastUsedStep: Int64?) -> Int64? {
        let typed = Array(submitted.utf8.filter { $0 != UInt8(ascii: " ") })
        guard typed.count == digits, typed.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let now = step(at: date)
        var matched: Int64? = nil
        // Every candidate is computed and compared in constant time, whichever one matches.
        for candidate in (now - 1)...(now + 1) where candidate >= 0 {
            let expected = Array(hotp(counter: UInt64(candidate)).utf8)
            if KeyedHasher.constantTimeEquals(expected, typed) && matched == nil { matched = candidate }
        }
        guard let matched else { return nil }
        if let lastUsedStep, matched <= lastUsedStep { return nil }
        return matched
    }

    /// A new random secret: 160 bits, the HMAC-SHA-1 output size RFC 4226 §4 recommends.
    public static func newSecret() -> [UInt8] { SecretGenerator.bytes(20) }

    /// The `otpauth://totp/…` URI authenticator apps read from a QR code (Key Uri Format).
    public func provisioningURI(issuer: String, account: String) -> String {
        // Everything but RFC 3986's unreserved characters is percent-encoded, byte by byte of its UTF-8.
        func esc(_ s: String) -> String {
            var out = ""
            for byte in s.utf8 {
                let c = Character(Unicode.Scalar(byte))
                if byte < 0x80 && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                    out.append(c)
                } else {
                    out += "%" + Hex.encode([byte]).uppercased()
                }
            }
            return out
        }
        return "otpauth://totp/\(esc(issuer)):\(esc(account))?secret=\(Base32.encode(secret).uppercased())"
            + "&issuer=\(esc(issuer))&algorithm=\(algorithm.rawValue)&digits=\(digits)&period=\(period)"
    }
}
