import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// HMAC-SHA-256 under a server key: how secrets (PINs, credentials) are stored.
///
/// Without the key, a stolen database cannot be used to test guesses offline.
public struct KeyedHasher: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// The keyed hash of `parts`, each length-prefixed so that different splits never collide.
    public func hash(_ parts: String...) -> [UInt8] {
        var mac = HMAC<SHA256>(key: key)
        for part in parts {
            let bytes = Array(part.utf8)
            var length = UInt32(bytes.count).bigEndian
            withUnsafeBytes(of: &length) { mac.update(data: $0) }
            mac.update(data: bytes)
        }
        return Array(mac.finalize())
    }

    /// Whether `a` and `b` are equal, in time that depends only on their lengths.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
