import CCubbySHA256
import Crypto
import CubbyCrypto
import Foundation

/// A 32-byte SHA-256 hash in the audit log's RFC 6962 Merkle tree: a leaf hash, an inner node or a root.
///
/// Stored inline as four machine words, so hashing nodes in a loop never touches the heap.
public struct TreeHash: Hashable, Sendable {
    /// The length of every tree hash in bytes.
    public static let byteCount = 32

    /// The raw bytes in order, as four words copied from memory (no byte swapping).
    private var words: (UInt64, UInt64, UInt64, UInt64)

    private init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// The hash with these 32 bytes, or nil when there are not exactly 32.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            for (offset, byte) in bytes.enumerated() { raw[offset] = byte }
        }
        self.words = words
    }

    /// The hash from a standard base64 string (RFC 4648 §4, padded, canonical); nil if it is not 32 bytes.
    public init?(base64: String) {
        guard let bytes = StrictBase64.decode(base64) else { return nil }
        self.init(bytes: bytes)
    }

    /// The hash from 64 hexadecimal digits (either case); nil otherwise.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.byteCount else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Self.byteCount)
        var index = 0
        while index < digits.count {
            guard let high = Hex.value(ofDigit: digits[index]), let low = Hex.value(ofDigit: digits[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(bytes: bytes)
    }

    /// Wraps a SHA-256 digest.
    public init(_ digest: SHA256Digest) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &words) { target in
            digest.withUnsafeBytes { source in target.copyMemory(from: source) }
        }
        self.words = words
    }

    /// Calls `body` with the 32 bytes, without copying them.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// The 32 bytes as an array, e.g. for a database column.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// The standard base64 encoding, as used in checkpoints and the RFC 6962 test data.
    public var base64: String {
        withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// Lowercase hexadecimal, 64 digits.
    public var hex: String {
        withUnsafeBytes { Hex.encode($0) }
    }

    /// Compares two hashes.
    public static func == (lhs: TreeHash, rhs: TreeHash) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1
            && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    /// Feeds the four words to `hasher`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

// MARK: - RFC 6962 hashing

extension TreeHash {
    /// The root of the empty tree: SHA-256 of no bytes (RFC 9162 §2.1.1).
    public static let emptyTree = sha256(prefix: nil, UnsafeRawBufferPointer(start: nil, count: 0))

    /// SHA-256 of an optional one-byte domain prefix followed by `bytes`, in one call to the C hash
    /// (`CCubbySHA256`): no digest context on the heap, the processor's SHA instructions when it has them.
    /// The audit log hashes two short inputs per event, so a per-hash set-up would cost as much as the hashing.
    private static func sha256(prefix: UInt8?, _ bytes: UnsafeRawBufferPointer) -> TreeHash {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &words) { out in
            let target = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            if var prefix {
                cubby_sha256_prefixed(&prefix, 1, data, bytes.count, target)
            } else {
                cubby_sha256_prefixed(nil, 0, data, bytes.count, target)
            }
        }
        return TreeHash(words: words)
    }

    /// The leaf hash of an entry: SHA-256(0x00 ‖ data) (RFC 9162 §2.1.1).
    public static func leaf(_ data: some DataProtocol) -> TreeHash {
        if let hash = data.withContiguousStorageIfAvailable({ leaf(bytes: UnsafeRawBufferPointer($0)) }) { return hash }
        return Array(data).withUnsafeBytes { leaf(bytes: $0) }
    }

    /// The leaf hash of bytes in memory. Not generic, so callers in other modules pay no dynamic
    /// dispatch per entry: the verifier's inner loop.
    public static func leaf(bytes: UnsafeRawBufferPointer) -> TreeHash {
        sha256(prefix: 0x00, bytes)
    }

    /// The leaf hash of a `Data` entry (see `leaf(bytes:)`).
    public static func leaf(_ data: Data) -> TreeHash {
        data.withUnsafeBytes { leaf(bytes: $0) }
    }

    /// The leaf hash of a byte array entry (see `leaf(bytes:)`).
    public static func leaf(_ bytes: [UInt8]) -> TreeHash {
        bytes.withUnsafeBytes { leaf(bytes: $0) }
    }

    /// The hash of an inner node: SHA-256(0x01 ‖ left ‖ right) (RFC 9162 §2.1.1).
    ///
    /// The two child hashes sit next to each other on the stack and are hashed in place: no heap allocation.
    public static func node(_ left: TreeHash, _ right: TreeHash) -> TreeHash {
        var children = (left.words, right.words)
        return Swift.withUnsafeBytes(of: &children) { sha256(prefix: 0x01, $0) }
    }
}

extension TreeHash: CustomStringConvertible {
    /// The lowercase hex form.
    public var description: String { hex }
}
