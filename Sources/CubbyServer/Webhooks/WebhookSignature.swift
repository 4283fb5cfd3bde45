import Crypto
import CubbyCrypto
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): a `v1` signature is the base64 HMAC-SHA256, keyed
/// with the secret's decoded bytes, of `<webhook-id>.<webhook-timestamp>.<body>`.
public enum WebhookSignature {
    /// The prefix of a signing secret's text.
    public static let secretPrefix = "whsec_"
    /// Random bytes in a new secret (the specification asks for 24 to 64).
    public static let secretBytes = 32

    /// A new signing secret: `whsec_` and the base64 of 32 random bytes.
    public static func newSecret() -> String {
        secretPrefix + Data(SecretGenerator.bytes(secretBytes)).base64EncodedString()
    }

    /// The key bytes of a `whsec_…` secret, or nil when it is not one.
    public static func key(of secret: String) -> [UInt8]? {
        guard secret.hasPrefix(secretPrefix),
            let bytes = Data(base64Encoded: String(secret.dropFirst(secretPrefix.count))),
            (24...64).contains(bytes.count)
        else { return nil }
        return Array(bytes)
    }

    /// One `v1,<base64>` signature.
    public static func sign(id: String, timestamp: Int64, body: Data, key: [UInt8]) -> String {
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The `webhook-signature` header: one signature per key, space-separated (two during a rotation's overlap).
    public static func header(id: String, timestamp: Int64, body: Data, keys: [[UInt8]]) -> String {
        keys.map { sign(id: id, timestamp: timestamp, body: body, key: $0) }.joined(separator: " ")
    }
}
