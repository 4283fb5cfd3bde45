import CubbyCrypto
import Foundation
import Testing

private let base32Alphabet = Set("abcdefghijklmnopqrstuvwxyz234567")

@Suite("Base32")
struct Base32Tests {
    @Test(
        "RFC 4648 §10 vectors, lowercase, without padding",
        arguments: [
            ("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi"),
        ]
    )
    func rfcVectors(input: String, expected: String) {
        #expect(Base32.encode(Array(input.utf8)) == expected)
    }

    @Test("all-ones and all-zeros bytes use the ends of the alphabet")
    func extremes() {
        #expect(Base32.encode([UInt8](repeating: 0, count: 5)) == "aaaaaaaa")
        #expect(Base32.encode([UInt8](repeating: 0xFF, count: 5)) == "77777777")
    }

    @Test("output length is ceil(8n/5) characters from the alphabet", arguments: 0...25)
    func lengths(n: Int) {
        let s = Base32.encode(SecretGenerator.bytes(n))
        #expect(s.count == (8 * n + 4) / 5)
        #expect(s.allSatisfy { base32Alphabet.contains($0) })
    }
}

@Suite("Base64URL")
struct Base64URLTests {
    @Test("known encodings use - and _ and no padding")
    func known() {
        #expect(Base64URL.encode([UInt8]()) == "")
        #expect(Base64URL.encode([UInt8]([0xFB, 0xFF])) == "-_8")
        #expect(Base64URL.encode([UInt8]([0xFB, 0xEF, 0xBE])) == "----")
        #expect(Base64URL.encode([UInt8]([0xFF, 0xFF, 0xFF])) == "____")
        #expect(Base64URL.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64URL.encode(Array("fooba".utf8)) == "Zm9vYmE")
        #expect(Base64URL.decode("-_8") == Data([0xFB, 0xFF]))
        #expect(Base64URL.decode("") == Data())
    }

    @Test("round trips for every length up to 64", arguments: 0...64)
    func roundTrip(n: Int) throws {
        let bytes = SecretGenerator.bytes(n)
        let text = Base64URL.encode(bytes)
        #expect(!text.contains("+") && !text.contains("/") && !text.contains("="))
        #expect(text.count == (4 * n + 2) / 3)
        let back = try #require(Base64URL.decode(text))
        #expect(Array(back) == bytes)
    }

    @Test("round trip of bytes that need the url-safe characters")
    func roundTripSpecial() throws {
        let bytes: [UInt8] = Array(repeating: [0xFB, 0xFF, 0xBF, 0xFE], count: 8).flatMap { $0 }
        let text = Base64URL.encode(bytes)
        #expect(text.contains("-") && text.contains("_"))
        #expect(try #require(Base64URL.decode(text)) == Data(bytes))
    }

    @Test(
        "rejects the standard alphabet's + and /, padding, and other characters",
        arguments: [
            "ab+c", "ab/c", "+/8=", "-_8=", "Zm9vYmE=", "Zm9vYg==", "Zm9v YmFy", "Zm9v\nYmFy", "Zm9v.YmFy", "Zm9vYmFé",
        ])
    func rejectsCharacters(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test(
        "rejects non-canonical encodings whose unused trailing bits are set",
        arguments: ["-_9", "-_-", "Zh", "Zm9vYmF", "Zm9vYmH", "AB"])
    func rejectsNonCanonical(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test(
        "accepts the canonical form of the same bytes",
        arguments: [
            ("-_8", [UInt8]([0xFB, 0xFF])), ("Zg", Array("f".utf8)), ("Zm9vYmE", Array("fooba".utf8)), ("AA", [0]),
        ])
    func acceptsCanonical(text: String, bytes: [UInt8]) {
        #expect(Base64URL.decode(text) == Data(bytes))
    }

    @Test("rejects impossible lengths (4k + 1)", arguments: ["a", "abcde", "Zm9vYmFyZ"])
    func rejectsLengths(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}

@Suite("SecretGenerator")
struct SecretGeneratorTests {
    @Test("digits(n) gives n ASCII digits", arguments: [0, 1, 6, 10, 32])
    func digits(n: Int) {
        let d = SecretGenerator.digits(n)
        #expect(d.count == n)
        #expect(d.utf8.count == n)
        #expect(d.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    }

    @Test("bytes(n) gives n bytes")
    func bytes() {
        #expect(SecretGenerator.bytes(0).isEmpty)
        #expect(SecretGenerator.bytes(16).count == 16)
        #expect(SecretGenerator.bytes(16) != SecretGenerator.bytes(16))
    }

    @Test("credential(prefix:) is the prefix and 32 base32 characters (160 bits)", arguments: ["cbk_", "dev_", ""])
    func credential(prefix: String) throws {
        let c = SecretGenerator.credential(prefix: prefix)
        #expect(c.hasPrefix(prefix))
        let body = c.dropFirst(prefix.count)
        #expect(body.count == 32)
        #expect(body.allSatisfy { base32Alphabet.contains($0) })
    }

    @Test("many draws are distinct")
    func distinct() {
        let creds = (0..<2000).map { _ in SecretGenerator.credential(prefix: "cbk_") }
        #expect(Set(creds).count == creds.count)
        let pins = (0..<200).map { _ in SecretGenerator.digits(10) }
        #expect(Set(pins).count == pins.count)
        let raw = (0..<2000).map { _ in SecretGenerator.bytes(16) }
        #expect(Set(raw).count == raw.count)
    }

    @Test("each digit appears about equally often over 100,000 digits")
    func digitUniformity() {
        let text = SecretGenerator.digits(100_000)
        var counts = [Int](repeating: 0, count: 10)
        for b in text.utf8 { counts[Int(b - UInt8(ascii: "0"))] += 1 }
        #expect(counts.reduce(0, +) == 100_000)
        for (digit, count) in counts.enumerated() {
            // ±5% is more than 5 standard deviations (σ ≈ 95): this cannot flake in practice.
            #expect((9_500...10_500).contains(count), "digit \(digit) appeared \(count) times")
        }
        // Pearson's chi-square with 9 degrees of freedom; 60 is far beyond the 1-in-a-million quantile (~45).
        let chi2 = counts.reduce(0.0) { $0 + pow(Double($1) - 10_000, 2) / 10_000 }
        #expect(chi2 < 60, "chi-square \(chi2)")
    }

    @Test("each position of a PIN takes every digit")
    func positionsVary() {
        var seen = [Set<Character>](repeating: [], count: 10)
        for _ in 0..<500 {
            for (i, ch) in SecretGenerator.digits(10).enumerated() { seen[i].insert(ch) }
        }
        // P(a given digit missing at a position in 500 draws) = 0.9^500 ≈ 1e-23.
        #expect(seen.allSatisfy { $0.count == 10 })
    }
}
