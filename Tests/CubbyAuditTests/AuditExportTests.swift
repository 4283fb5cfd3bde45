import Foundation
import Testing

@testable import CubbyAudit

@Suite("Audit exports: JSON lines, CSV, CEF")
struct AuditExportTests {
    static func row(tracking: String? = "1Z|9=9\\x", detail: [String: String] = ["reason": "a=b\nc"]) -> AuditExportRow
    {
        AuditExportRow(
            index: 41, id: "0d9f6c1e-7a51-4b52-9c83-1f2a3b4c5d6e", occurredAt: "2026-11-21T09:30:00.125Z",
            occurredAtMillis: 1_795_253_400_125, type: "pickup.code_rejected", outcome: "failure", actorKind: "device",
            actorId: "u-1", actorRole: "device", organizationId: "org-1", siteId: "site-1", unitId: "unit-1",
            compartmentId: nil, parcelId: nil, trackingNumber: tracking, detail: detail,
            canonical: Array("{\"v\":1}".utf8),
            leafHash: [0xde, 0xad, 0xbe, 0xef])
    }

    @Test("CEF header: pipes and backslashes escaped; extension: backslash, equals and line breaks escaped")
    func cefEscaping() {
        let line = AuditExportFormat.cef.line(Self.row())
        #expect(line.hasPrefix("CEF:0|Cubby|cubby|1|pickup.code_rejected|pickup code rejected|5|"))
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false, "one event, one line")
        #expect(line.contains(#"cs6=1Z|9\=9\\x"#))
        #expect(line.contains(#"msg={"reason":"a\=b\\nc"}"#))
        #expect(line.contains("rt=1795253400125"))
        #expect(line.contains("cn1=41"))
        #expect(!line.contains("cs4="), "absent values are left out")
        // A header field with a pipe or backslash cannot break the header apart.
        #expect(CEFLine.header(#"a|b\c"#) == #"a\|b\\c"#)
        // The header is the first seven unescaped pipes; the extension starts right after them.
        var pipes = 0
        var previous: Character = " "
        var headerEnd = line.startIndex
        for i in line.indices {
            if line[i] == "|" && previous != "\\" {
                pipes += 1
                if pipes == 7 {
                    headerEnd = line.index(after: i)
                    break
                }
            }
            previous = line[i]
        }
        #expect(line[headerEnd...].hasPrefix("rt="))
    }

    @Test("CEF extension values parse back to the original text")
    func cefRoundTrip() {
        let nasty = "x=1 y\\z\r\nend"
        let escaped = CEFLine.value(nasty)
        var out = ""
        var it = escaped.makeIterator()
        while let ch = it.next() {
            if ch == "\\", let n = it.next() {
                switch n {
                case "n": out.append("\n")
                case "r": out.append("\r")
                default: out.append(n)
                }
            } else {
                out.append(ch)
            }
        }
        #expect(out == nasty.replacingOccurrences(of: "\r\n", with: "\n"))
        #expect(!escaped.contains("\n") && !escaped.contains("\r"))
    }

    @Test("CSV quotes what needs quoting and defuses formulas")
    func csv() throws {
        let header = try #require(AuditExportFormat.csv.header)
        #expect(header.hasPrefix("index,id,occurredAt,type"))
        #expect(header.hasSuffix("\r\n"))
        #expect(CSVField.escape("plain") == "plain")
        #expect(CSVField.escape("a,b") == "\"a,b\"")
        #expect(CSVField.escape("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVField.escape("line\nbreak") == "\"line\nbreak\"")
        #expect(CSVField.escape("=HYPERLINK(\"x\")") == "\"'=HYPERLINK(\"\"x\"\")\"")
        #expect(CSVField.escape("+1") == "'+1")
        #expect(CSVField.escape("@sum") == "'@sum")
        let line = AuditExportFormat.csv.line(Self.row(tracking: "-danger"))
        #expect(line.contains(",'-danger,"))
        #expect(line.hasPrefix("41,0d9f6c1e"))
    }

    @Test("JSON lines carry the canonical bytes and leaf hash and decode back")
    func jsonl() throws {
        let line = AuditExportFormat.jsonl.line(Self.row())
        #expect(line.hasSuffix("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["index"] as? Int == 41)
        #expect(object["canonical"] as? String == Data("{\"v\":1}".utf8).base64EncodedString())
        #expect(object["leafHash"] as? String == "deadbeef")
        #expect(object["trackingNumber"] as? String == "1Z|9=9\\x")
        #expect(object["compartmentId"] is NSNull)
        #expect((object["detail"] as? [String: String])?["reason"] == "a=b\nc")
    }
}
