import Crypto
import CubbyAudit
import CubbyCore
import Foundation
import Testing

private func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

private func text(_ record: AuditRecord) -> String {
    String(decoding: AuditCanonicalEncoding.encode(record), as: UTF8.self)
}

private let fixedId = UUID(uuidString: "9B2D4E6F-1A3C-4B5D-8E7F-0A1B2C3D4E5F")!
private let fixedDate = Date(timeIntervalSince1970: 1_795_000_000.125)

/// A record with every field set.
private func goldenRecord(detail: [String: String] = ["reason": "dropoff", "a\"b": "x\n"]) -> AuditRecord {
    AuditRecord(
        id: fixedId,
        occurredAt: fixedDate,
        type: "parcel.deposited",
        outcome: .success,
        actor: Actor(kind: .courier, id: "c-7f3a", role: "courier"),
        organizationId: UUID(uuidString: "0A0B0C0D-0E0F-4A1B-8C2D-3E4F5A6B7C8D")!,
        siteId: UUID(uuidString: "1D2E3F4A-5B6C-4D7E-8F9A-0B1C2D3E4F5A")!,
        unitId: UUID(uuidString: "2E3F4A5B-6C7D-4E8F-9A0B-1C2D3E4F5A6B")!,
        compartmentId: UUID(uuidString: "5C6D7E8F-9A0B-4C1D-8E2F-3A4B5C6D7E8F")!,
        parcelId: UUID(uuidString: "6F7E8D9C-0B1A-4D3C-9E5F-A0B1C2D3E4F5")!,
        trackingNumber: "1Z999AA10123456784",
        detail: detail
    )
}

/// A record with only the required fields.
private func minimalRecord(at date: Date = fixedDate, detail: [String: String] = [:]) -> AuditRecord {
    AuditRecord(
        id: fixedId, occurredAt: date, type: "parcel.expired", outcome: .success, actor: .system, detail: detail)
}

@Suite("AuditCanonicalEncoding")
struct CanonicalEncodingTests {
    // Written by hand from the rules in CanonicalEncoding.swift. If this test fails, the format changed,
    // and every Merkle tree built so far no longer verifies: do not "fix" the expectation.
    static let goldenText =
        #"{"actor":{"id":"c-7f3a","kind":"courier","role":"courier"},"at":"2026-11-18T11:06:40.125Z","#
        + #""compartment":"5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f","detail":{"a\"b":"x\n","reason":"dropoff"},"#
        + #""id":"9b2d4e6f-1a3c-4b5d-8e7f-0a1b2c3d4e5f","org":"0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d","#
        + #""outcome":"success","parcel":"6f7e8d9c-0b1a-4d3c-9e5f-a0b1c2d3e4f5","#
        + #""site":"1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a","tracking":"1Z999AA10123456784","#
        + #""type":"parcel.deposited","unit":"2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b","v":1}"#
    // SHA-256(0x00 ‖ goldenText), computed once outside Swift with Python's hashlib.
    static let goldenLeafHash = "38d20699f690a41d9305f13f144a69389875a040199b3383705e929b25bc158f"

    @Test("golden vector: exact bytes")
    func goldenBytes() {
        let bytes = AuditCanonicalEncoding.encode(goldenRecord())
        #expect(String(decoding: bytes, as: UTF8.self) == Self.goldenText)
        #expect(bytes == Array(Self.goldenText.utf8))
        #expect(bytes.count == 500)
    }

    @Test("golden vector: exact leaf hash")
    func goldenLeafHashValue() {
        #expect(
            hex(AuditCanonicalEncoding.leafHash(AuditCanonicalEncoding.encode(goldenRecord()))) == Self.goldenLeafHash)
    }

    @Test("the version is 1 and is written as v")
    func version() {
        #expect(AuditCanonicalEncoding.version == 1)
        #expect(text(minimalRecord()).hasSuffix(#","v":1}"#))
    }

    @Test("absent values are omitted, and detail is absent when empty")
    func minimal() {
        #expect(
            text(minimalRecord())
                == #"{"actor":{"kind":"system","role":"system"},"at":"2026-11-18T11:06:40.125Z","#
                + #""id":"9b2d4e6f-1a3c-4b5d-8e7f-0a1b2c3d4e5f","outcome":"success","type":"parcel.expired","v":1}"#
        )
        let s = text(goldenRecord(detail: [:]))
        #expect(!s.contains("detail"))
        #expect(!s.contains("null"))
        for key in ["org", "site", "unit", "compartment", "parcel", "tracking"] {
            #expect(!text(minimalRecord()).contains("\"\(key)\""), "\(key) should be omitted")
            #expect(s.contains("\"\(key)\":"), "\(key) should be present")
        }
    }

    @Test("each optional field alone appears exactly when set")
    func eachOptional() {
        let u = UUID(uuidString: "ABCDEF01-2345-4678-89AB-CDEF01234567")!
        var r = minimalRecord()
        r.siteId = u
        #expect(text(r).contains(#""site":"abcdef01-2345-4678-89ab-cdef01234567""#))
        #expect(!text(r).contains("\"unit\""))
        r = minimalRecord()
        r.actor = Actor(kind: .admin, id: nil, role: nil)
        #expect(text(r).hasPrefix(#"{"actor":{"kind":"admin"},"at":"#))
        r.actor = Actor(kind: .device, id: "u1", role: nil)
        #expect(text(r).hasPrefix(#"{"actor":{"id":"u1","kind":"device"},"at":"#))
        r = minimalRecord()
        r.trackingNumber = ""
        #expect(text(r).contains(#""tracking":"""#))
        r.outcome = .denied
        #expect(text(r).contains(#""outcome":"denied""#))
    }

    @Test("ids are written as lowercase UUIDs")
    func lowercaseIds() {
        let s = text(goldenRecord())
        #expect(s.contains("9b2d4e6f-1a3c-4b5d-8e7f-0a1b2c3d4e5f"))
        #expect(!s.contains("9B2D4E6F"))
    }

    // MARK: timestamps

    @Test(
        "timestamps are RFC 3339 UTC with milliseconds",
        arguments: [
            (0.0, "1970-01-01T00:00:00.000Z"),
            (1_795_000_000.125, "2026-11-18T11:06:40.125Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (1_704_067_199.999, "2023-12-31T23:59:59.999Z"),
            (4_102_444_800, "2100-01-01T00:00:00.000Z"),
            (0.0009, "1970-01-01T00:00:00.000Z"),
            (0.9999, "1970-01-01T00:00:00.999Z"),
            (1_795_000_000.1259, "2026-11-18T11:06:40.125Z"),
            (59.9996, "1970-01-01T00:00:59.999Z"),
        ]
    )
    func timestamps(seconds: Double, expected: String) {
        #expect(AuditCanonicalEncoding.timestamp(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test(
        "dates before 1970 (fractions truncate toward the past)",
        arguments: [
            (-1.0, "1969-12-31T23:59:59.000Z"),
            (-0.5, "1969-12-31T23:59:59.500Z"),
            (-1.5, "1969-12-31T23:59:58.500Z"),
            (-0.0005, "1969-12-31T23:59:59.999Z"),
            (-86_400, "1969-12-31T00:00:00.000Z"),
            (-2_208_988_800, "1900-01-01T00:00:00.000Z"),
            (-14_182_940, "1969-07-20T20:17:40.000Z"),
        ]
    )
    func timestampsBefore1970(seconds: Double, expected: String) {
        #expect(AuditCanonicalEncoding.timestamp(Date(timeIntervalSince1970: seconds)) == expected)
    }

    /// Whole-millisecond times (from `bases` onward, plus random draws in `range`) whose timestamp does not
    /// show that millisecond.
    private func millisecondMismatches(bases: [Int64], count: Int64 = 5000, random range: ClosedRange<Int64>? = nil)
        -> [Int64]
    {
        var failures: [Int64] = []
        func check(_ ms: Int64) {
            let s = AuditCanonicalEncoding.timestamp(Date(timeIntervalSince1970: Double(ms) / 1000))
            let shown = Int64(s.dropLast().suffix(3))!
            if shown != ((ms % 1000) + 1000) % 1000 { failures.append(ms) }
        }
        for base in bases { for ms in base..<(base + count) { check(ms) } }
        if let range {
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<20_000 { check(Int64.random(in: range, using: &rng)) }
        }
        return failures
    }

    @Test("a time stored as whole milliseconds encodes as exactly those milliseconds (Nov 2004 – Jan 2038)")
    func wholeMilliseconds() {
        // The store keeps times as integer milliseconds and turns them back into Dates; the canonical "at"
        // must show the same millisecond. Between 2^40 ms (2004-11-03) and 2^31 s (2038-01-19) this is exact:
        // Double(ms) / 1000 is off by at most 2^-23 s, times 1000 is under half an ulp of ms, so it rounds back.
        let failures = millisecondMismatches(
            bases: [1_099_511_627_776, 1_600_000_000_000, 1_700_000_000_000, 1_795_000_000_000, 2_147_483_640_000],
            random: 1_099_511_627_776...2_147_483_647_999)
        #expect(failures.isEmpty, "\(failures.count) millisecond values lost precision, e.g. \(failures.prefix(5))")
    }

    @Test("whole-millisecond times outside Nov 2004 – Jan 2038 keep their millisecond too")
    func wholeMillisecondsOutsideRange() {
        // floor(t × 1000) alone lands a hair below for about a quarter of the milliseconds in
        // 2004-01-10…2004-11-03 and 2038-01-19…2039-09-07; Date.millisecondsSince1970 absorbs that error.
        let failures = millisecondMismatches(
            bases: [0, 1_075_000_000_000, 2_150_000_000_000, -1_000_000_000_000], count: 2000)
        #expect(failures.isEmpty, "\(failures.count) millisecond values lost precision, e.g. \(failures.prefix(3))")
    }

    @Test("the timestamp's shape is fixed")
    func timestampShape() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let s = AuditCanonicalEncoding.timestamp(
                Date(timeIntervalSince1970: Double.random(in: -2e9...4e9, using: &rng)))
            #expect(s.count == 24, "\(s)")
            #expect(s.hasSuffix("Z"))
            let pattern = #/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/#
            #expect(s.wholeMatch(of: pattern) != nil, "\(s)")
        }
    }

    // MARK: strings

    @Test("control characters are escaped as \\u00XX, except the five short escapes")
    func controlCharacters() {
        let r = minimalRecord(detail: ["k": "\u{0}\u{1}\u{7}\u{b}\u{e}\u{1f}|\u{8}\u{c}\n\r\t|\"\\/\u{7f}"])
        #expect(
            text(r).contains(#""detail":{"k":"\u0000\u0001\u0007\u000b\u000e\u001f|\b\f\n\r\t|\"\\/"# + "\u{7f}\"}"))
    }

    @Test("every control character below 0x20 is escaped and no raw one remains", arguments: 0..<0x20)
    func eachControl(code: Int) {
        let s = String(UnicodeScalar(UInt8(code)))
        let bytes = AuditCanonicalEncoding.encode(minimalRecord(detail: ["k": s]))
        #expect(!bytes.contains { $0 < 0x20 })
        let short: [Int: String] = [8: #"\b"#, 9: #"\t"#, 10: #"\n"#, 12: #"\f"#, 13: #"\r"#]
        let expected = short[code] ?? String(format: "\\u%04x", code)
        #expect(String(decoding: bytes, as: UTF8.self).contains(#""k":""# + expected + #"""#))
    }

    @Test("non-ASCII passes through as UTF-8")
    func nonASCII() {
        let value = "Zürich ✓ 📦 日本"
        let bytes = AuditCanonicalEncoding.encode(minimalRecord(detail: ["place": value]))
        let needle = Array(#""place":""#.utf8) + Array(value.utf8) + [UInt8(ascii: "\"")]
        #expect(bytes.firstRange(of: needle) != nil)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("\\u"))
        var r = minimalRecord()
        r.trackingNumber = "Ø-42"
        #expect(AuditCanonicalEncoding.encode(r).firstRange(of: Array(#""tracking":"Ø-42""#.utf8)) != nil)
    }

    @Test("keys are sorted by Unicode code point, not by UTF-16 unit or locale")
    func codePointOrder() {
        // U+FB00 sorts before U+1F600 by code point, after it by UTF-16 (0xD83D < 0xFB00).
        let keys = ["😀", "ﬀ", "é", "b", "a", "ab", "Z", "_", "A"]
        let detail = Dictionary(uniqueKeysWithValues: keys.map { ($0, "1") })
        let s = text(minimalRecord(detail: detail))
        #expect(s.contains(#""detail":{"A":"1","Z":"1","_":"1","a":"1","ab":"1","b":"1","é":"1","ﬀ":"1","😀":"1"}"#))
    }

    @Test("the output is valid JSON that carries the record's values")
    func parsesAsJSON() throws {
        let detail = ["reason": "dropoff", "a\"b": "x\n", "ctl": "\u{1}\u{1f}", "uni": "Zürich 📦", "bs": "\\"]
        let bytes = AuditCanonicalEncoding.encode(goldenRecord(detail: detail))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["v"] as? Int == 1)
        #expect(object["type"] as? String == "parcel.deposited")
        #expect(object["tracking"] as? String == "1Z999AA10123456784")
        #expect(object["detail"] as? [String: String] == detail)
        #expect((object["actor"] as? [String: String]) == ["kind": "courier", "id": "c-7f3a", "role": "courier"])
    }

    @Test("encoding is deterministic and independent of dictionary order")
    func deterministic() {
        let pairs = (0..<64).map { ("key\($0)", "value \($0)") }
        var forward: [String: String] = [:]
        for (k, v) in pairs { forward[k] = v }
        var backward: [String: String] = [:]
        for (k, v) in pairs.reversed() { backward[k] = v }
        // A dictionary that grew and shrank has a different internal layout.
        var churned: [String: String] = [:]
        for i in 0..<1000 { churned["junk\(i)"] = "x" }
        for (k, v) in pairs.shuffled() { churned[k] = v }
        for i in 0..<1000 { churned["junk\(i)"] = nil }
        #expect(forward == backward && backward == churned)

        let a = AuditCanonicalEncoding.encode(goldenRecord(detail: forward))
        #expect(AuditCanonicalEncoding.encode(goldenRecord(detail: backward)) == a)
        #expect(AuditCanonicalEncoding.encode(goldenRecord(detail: churned)) == a)
        for _ in 0..<20 {
            #expect(
                AuditCanonicalEncoding.encode(goldenRecord(detail: Dictionary(uniqueKeysWithValues: pairs.shuffled())))
                    == a)
        }
        // And the detail keys come out in order: key0, key1, key10, key11, …
        let s = String(decoding: a, as: UTF8.self)
        let positions = pairs.map(\.0).sorted().map { s.range(of: "\"\($0)\":")!.lowerBound }
        #expect(positions == positions.sorted())
    }

    @Test("any change to the record changes the bytes and the leaf hash")
    func sensitivity() {
        let base = goldenRecord()
        let baseHash = AuditCanonicalEncoding.leafHash(AuditCanonicalEncoding.encode(base))
        var variants: [AuditRecord] = []
        var r = base
        r.id = UUID()
        variants.append(r)
        r = base
        r.occurredAt = base.occurredAt.addingTimeInterval(0.001)
        variants.append(r)
        r = base
        r.type = "parcel.picked_up"
        variants.append(r)
        r = base
        r.outcome = .failure
        variants.append(r)
        r = base
        r.actor.id = "c-7f3b"
        variants.append(r)
        r = base
        r.parcelId = nil
        variants.append(r)
        r = base
        r.trackingNumber = "1Z999AA10123456785"
        variants.append(r)
        r = base
        r.detail["reason"] = "dropof"
        variants.append(r)
        for v in variants {
            #expect(AuditCanonicalEncoding.leafHash(AuditCanonicalEncoding.encode(v)) != baseHash)
        }
    }

    // MARK: leaf hash

    @Test("leafHash of the empty input is the RFC 6962 empty leaf")
    func emptyLeaf() {
        #expect(
            hex(AuditCanonicalEncoding.leafHash([]))
                == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    }

    @Test("leafHash(bytes) is SHA-256(0x00 ‖ bytes)", arguments: [0, 1, 31, 32, 33, 64, 500, 4096])
    func leafHashDefinition(n: Int) {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let expected = Array(SHA256.hash(data: [0x00] + bytes))
        #expect(AuditCanonicalEncoding.leafHash(bytes) == expected)
        #expect(AuditCanonicalEncoding.leafHash(bytes) != Array(SHA256.hash(data: bytes)))
        #expect(AuditCanonicalEncoding.leafHash(bytes) != Array(SHA256.hash(data: [0x01] + bytes)))
    }
}
