import CCubbySHA256
import Crypto
import Foundation
import Testing

@testable import CubbyAudit

/// The audit log's own SHA-256 (C, with the x86 SHA extensions when present) against published vectors and
/// against swift-crypto's SHA-256, on both of its code paths.
@Suite("SHA-256 of the audit log")
struct SHA256Tests {
    typealias Function =
        @Sendable @convention(c) (UnsafePointer<UInt8>?, Int, UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?)
        -> Void

    /// Both code paths: the one this processor picks and the portable C one.
    static let paths: [(String, Function)] = [
        ("chosen", cubby_sha256_prefixed), ("portable", cubby_sha256_prefixed_portable),
    ]

    static func hex(_ function: Function, prefix: [UInt8], _ data: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        prefix.withUnsafeBufferPointer { p in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    function(p.baseAddress, p.count, d.baseAddress, d.count, o.baseAddress)
                }
            }
        }
        return out.map { String(format: "%02x", $0) }.joined()
    }

    /// FIPS 180-2 Appendix B (and NIST's example values): "abc", the two-block 448-bit message, one million "a",
    /// and the empty message.
    @Test("Published SHA-256 test vectors, on both code paths and however the input is split")
    func publishedVectors() {
        let vectors: [([UInt8], String)] = [
            ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            (
                [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000),
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
            ),
        ]
        for (message, expected) in vectors {
            for (name, function) in Self.paths {
                #expect(Self.hex(function, prefix: [], message) == expected, "\(name), \(message.count) bytes")
                // Any split between prefix and data hashes the concatenation.
                for split in Set([0, 1, 63, 64, 65, message.count / 2].map { min($0, message.count) }) {
                    #expect(
                        Self.hex(function, prefix: Array(message[..<split]), Array(message[split...])) == expected,
                        "\(name), split at \(split) of \(message.count)")
                }
            }
        }
    }

    @Test("Every length from 0 to 1,100 bytes and every padding boundary agrees with swift-crypto")
    func agreesWithSwiftCrypto() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<1_200).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for length in 0...1_100 {
            for prefix in [[], [0x00], [0x01]] as [[UInt8]] {
                let data = Array(bytes[0..<length])
                let expected = SHA256.hash(data: prefix + data).map { String(format: "%02x", $0) }.joined()
                for (name, function) in Self.paths {
                    let got = Self.hex(function, prefix: prefix, data)
                    if got != expected {
                        Issue.record("\(name) differs from swift-crypto at \(length) bytes with prefix \(prefix)")
                        return
                    }
                }
            }
        }
    }

    @Test("Leaf and node hashes are SHA-256(0x00 ‖ entry) and SHA-256(0x01 ‖ left ‖ right)")
    func leafAndNode() {
        let entry = Array("{\"type\":\"pickup.completed\"}".utf8)
        #expect(TreeHash.leaf(entry) == TreeHash(SHA256.hash(data: [0x00] + entry)))
        #expect(TreeHash.leaf(Data(entry)) == TreeHash(SHA256.hash(data: [0x00] + entry)))
        #expect(
            TreeHash.leaf(entry[...]) == TreeHash(SHA256.hash(data: [0x00] + entry)),
            "a slice goes through the generic form")
        let left = TreeHash.leaf([1])
        let right = TreeHash.leaf([2])
        #expect(TreeHash.node(left, right) == TreeHash(SHA256.hash(data: [0x01] + left.bytes + right.bytes)))
        #expect(TreeHash.node(left, right) != TreeHash.node(right, left))
        #expect(TreeHash.emptyTree.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("On a processor with the SHA extensions, they are the path taken")
    func acceleratedWhereAvailable() throws {
        #if arch(x86_64) && os(Linux)
            let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            let flags =
                cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }.map {
                    $0.split(separator: " ").map(String.init)
                } ?? []
            try #require(!flags.isEmpty, "no flags line in /proc/cpuinfo")
            let hasSHA = flags.contains("sha_ni") && flags.contains("sse4_1") && flags.contains("ssse3")
            #expect((cubby_sha256_accelerated() == 1) == hasSHA)
        #elseif !arch(x86_64)
            #expect(cubby_sha256_accelerated() == 0)
        #endif
    }
}
