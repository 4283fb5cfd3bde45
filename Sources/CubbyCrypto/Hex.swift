import Crypto
import Foundation

/// Lower-case hexadecimal, the form digests and pins are written in.
public enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// SHA-256 of bytes, in hex.
    public static func sha256(_ data: some DataProtocol) -> String {
        encode(SHA256.hash(data: data))
    }
}
