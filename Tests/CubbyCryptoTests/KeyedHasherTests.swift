import Crypto
import CubbyCrypto
import Foundation
import Testing

func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

private func key(_ byte: UInt8) -> SymmetricKey {
    SymmetricKey(data: [UInt8](repeating: byte, count: 32))
}

@Suite("KeyedHasher")
struct KeyedHasherTests {
    @Test("RFC 4231 test case 2 through swift-crypto's HMAC-SHA-256 (the primitive KeyedHasher uses)")
    func rfc4231Case2() {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("what do ya want for nothing?".utf8), using: SymmetricKey(data: Data("Jefe".utf8)))
        #expect(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test(
        "hash(x) is HMAC over the 4-byte big-endian length followed by x",
        arguments: ["", "a", "123456", "ünïcødé ✓", String(repeating: "z", count: 300)])
    func layout(x: String) {
        let k = key(0x42)
        let bytes = Array(x.utf8)
        let n = UInt32(bytes.count)
        let framed = [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
        let expected = Array(HMAC<SHA256>.authenticationCode(for: framed, using: k))
        #expect(KeyedHasher(key: k).hash(x) == expected)
    }

    @Test("several parts are framed one after the other")
    func layoutTwoParts() {
        let k = key(0x07)
        let framed: [UInt8] = [0, 0, 0, 2] + Array("ab".utf8) + [0, 0, 0, 1] + Array("c".utf8)
        #expect(KeyedHasher(key: k).hash("ab", "c") == Array(HMAC<SHA256>.authenticationCode(for: framed, using: k)))
    }

    @Test("the hash is deterministic under one key and 32 bytes long")
    func deterministic() {
        let h = KeyedHasher(key: key(1))
        #expect(h.hash("0123456789") == h.hash("0123456789"))
        #expect(h.hash("0123456789") == KeyedHasher(key: key(1)).hash("0123456789"))
        #expect(h.hash("0123456789").count == 32)
        #expect(h.hash("0123456789") != h.hash("0123456788"))
    }

    @Test("another key gives another hash")
    func keyMatters() {
        #expect(KeyedHasher(key: key(1)).hash("0123456789") != KeyedHasher(key: key(2)).hash("0123456789"))
        // A hasher is not a plain hash: it differs from unkeyed SHA-256 of the same input.
        #expect(KeyedHasher(key: key(1)).hash("x") != Array(SHA256.hash(data: Array("x".utf8))))
    }

    @Test("length prefixing keeps different splits apart")
    func splits() {
        let h = KeyedHasher(key: key(9))
        #expect(h.hash("ab", "c") != h.hash("a", "bc"))
        #expect(h.hash("abc") != h.hash("ab", "c"))
        #expect(h.hash("abc") != h.hash("abc", ""))
        #expect(h.hash() != h.hash(""))
        #expect(h.hash("", "a") != h.hash("a", ""))
    }

    @Test("constantTimeEquals")
    func constantTimeEquals() {
        let a: [UInt8] = [1, 2, 3, 4]
        #expect(KeyedHasher.constantTimeEquals(a, [1, 2, 3, 4]))
        #expect(KeyedHasher.constantTimeEquals([], []))
        #expect(!KeyedHasher.constantTimeEquals(a, [1, 2, 3, 5]))
        #expect(!KeyedHasher.constantTimeEquals(a, [0, 2, 3, 4]))
        #expect(!KeyedHasher.constantTimeEquals(a, [1, 2, 3]))
        #expect(!KeyedHasher.constantTimeEquals(a, [1, 2, 3, 4, 0]))
        #expect(!KeyedHasher.constantTimeEquals([], [0]))
        for i in 0..<32 {
            var b = [UInt8](repeating: 0xAA, count: 32)
            let same = b
            b[i] ^= 0x01
            #expect(!KeyedHasher.constantTimeEquals(same, b))
        }
    }
}
