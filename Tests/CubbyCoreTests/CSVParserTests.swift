import CubbyCore
import Testing

@Suite("CSV: a strict RFC 4180 reader")
struct CSVParserTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var header: [String]
        var rows: [[String]]
        var testDescription: String { name }

        init(_ name: String, _ text: String, _ header: [String], _ rows: [[String]]) {
            self.name = name
            self.bytes = Array(text.utf8)
            self.header = header
            self.rows = rows
        }

        init(_ name: String, bytes: [UInt8], _ header: [String], _ rows: [[String]]) {
            self.name = name
            self.bytes = bytes
            self.header = header
            self.rows = rows
        }
    }

    static let good: [Case] = [
        Case("plain LF", "a,b\n1,2\n", ["a", "b"], [["1", "2"]]),
        Case("CRLF", "a,b\r\n1,2\r\n3,4\r\n", ["a", "b"], [["1", "2"], ["3", "4"]]),
        Case("no final line break", "a,b\n1,2", ["a", "b"], [["1", "2"]]),
        Case("quoted comma", "a,b\n\"x, y\",2\n", ["a", "b"], [["x, y", "2"]]),
        Case("doubled quotes", "a\n\"say \"\"hi\"\"\"\n", ["a"], [["say \"hi\""]]),
        Case("line break in quotes", "a,b\n\"line 1\nline 2\",z\n", ["a", "b"], [["line 1\nline 2", "z"]]),
        Case("CRLF in quotes", "a,b\r\n\"x\r\ny\",z\r\n", ["a", "b"], [["x\r\ny", "z"]]),
        Case("empty fields", "a,b,c\n,,\n", ["a", "b", "c"], [["", "", ""]]),
        Case("quoted empty field", "a\n\"\"\n", ["a"], [[""]]),
        Case("blank lines skipped", "a,b\n\n1,2\n\r\n3,4\n\n", ["a", "b"], [["1", "2"], ["3", "4"]]),
        Case("spaces kept", "a,b\n x , y \n", ["a", "b"], [[" x ", " y "]]),
        Case("UTF-8 text", "name\nAna García\n李小龙\n", ["name"], [["Ana García"], ["李小龙"]]),
        Case("header only", "a,b\n", ["a", "b"], []),
        Case(
            "byte-order mark", bytes: [0xEF, 0xBB, 0xBF] + Array("email,name\nx@y.org,X\n".utf8), ["email", "name"],
            [["x@y.org", "X"]]),
    ]

    @Test(arguments: good)
    func readsWellFormedFiles(_ c: Case) throws {
        let table = try CSVParser.parse(c.bytes)
        #expect(table.header == c.header)
        #expect(table.rows.map(\.fields) == c.rows)
    }

    @Test func rowNumbersCountTheHeaderAndLinesCountLineBreaks() throws {
        let table = try CSVParser.parse(Array("a,b\n\"1\n1\",2\n\n3,4\n".utf8))
        #expect(table.rows.map(\.number) == [2, 3])
        #expect(table.rows.map(\.line) == [2, 5])
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var error: CSVError
        var testDescription: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "empty file", bytes: [], error: .empty),
        Bad(name: "only a BOM", bytes: [0xEF, 0xBB, 0xBF], error: .empty),
        Bad(name: "unterminated quote", bytes: Array("a,b\n1,\"open\n2,3\n".utf8), error: .unterminatedQuote(line: 2)),
        Bad(name: "quote inside an unquoted field", bytes: Array("a,b\n1,x\"y\n".utf8), error: .strayQuote(line: 2)),
        Bad(name: "text after a closing quote", bytes: Array("a,b\n\"x\"y,2\n".utf8), error: .strayQuote(line: 2)),
        Bad(
            name: "too few fields", bytes: Array("a,b,c\n1,2,3\n1,2\n".utf8),
            error: .fieldCount(row: 3, line: 3, expected: 3, found: 2)),
        Bad(
            name: "too many fields", bytes: Array("a,b\n1,2,3\n".utf8),
            error: .fieldCount(row: 2, line: 2, expected: 2, found: 3)),
        Bad(name: "NUL byte", bytes: Array("a,b\n1,".utf8) + [0] + Array("2\n".utf8), error: .nulByte(line: 2)),
        Bad(
            name: "invalid UTF-8 (lone continuation)", bytes: Array("a\n".utf8) + [0x80, 0x0A],
            error: .invalidUTF8(line: 2)),
        Bad(
            name: "invalid UTF-8 (overlong)", bytes: Array("a\n".utf8) + [0xC0, 0xAF, 0x0A],
            error: .invalidUTF8(line: 2)),
        Bad(
            name: "invalid UTF-8 (surrogate)", bytes: Array("a\n".utf8) + [0xED, 0xA0, 0x80],
            error: .invalidUTF8(line: 2)),
        Bad(name: "invalid UTF-8 (truncated)", bytes: Array("a\n".utf8) + [0xE2, 0x82], error: .invalidUTF8(line: 2)),
        Bad(name: "Latin-1 file", bytes: Array("name\nGarc".utf8) + [0xED, 0x61, 0x0A], error: .invalidUTF8(line: 2)),
        Bad(name: "lone carriage return", bytes: Array("a,b\r1,2\n".utf8), error: .loneCarriageReturn(line: 1)),
    ]

    @Test(arguments: bad)
    func refusesMalformedFiles(_ c: Bad) {
        #expect(throws: c.error) { try CSVParser.parse(c.bytes) }
    }

    @Test func stopsAtTheRowLimit() throws {
        let text = "a\n" + String(repeating: "x\n", count: 11)
        #expect(throws: CSVError.tooManyRows(limit: 10)) { try CSVParser.parse(Array(text.utf8), maxRows: 10) }
        #expect(try CSVParser.parse(Array(text.utf8), maxRows: 11).rows.count == 11)
    }
}

@Suite("Recipient fields: checked and normalised in one place")
struct RecipientRulesTests {
    @Test func phonesAreE164() throws {
        #expect(try RecipientRules.phone("+1 (555) 010-0199") == "+15550100199")
        #expect(try RecipientRules.phone("+34.612.345.678") == "+34612345678")
        for bad in ["5550100199", "+0123456789", "+1234567", "+1234567890123456", "+1555abc0199", "", "+"] {
            #expect(throws: RecipientError.self, "\(bad)") { try RecipientRules.phone(bad) }
        }
    }

    @Test func emailsAreTrimmedAndLowercased() throws {
        #expect(try RecipientRules.email("Ana.Garcia@Example.ORG") == "ana.garcia@example.org")
        for bad in [
            "ana", "ana@", "@example.org", "ana@example", "a b@example.org", "ana@@example.org", "ana@x..org",
            " ana@example.org", "ana@example.org.", "ana@example.org\n", "ana;bob@example.org",
        ] {
            #expect(throws: RecipientError.self, "\(bad)") { try RecipientRules.email(bad) }
        }
    }

    @Test func apartmentsFoldForSearch() throws {
        #expect(try RecipientRules.apartment("  Apt   4b ") == "Apt 4b")
        #expect(RecipientRules.apartmentKey("Apt 4B") == RecipientRules.apartmentKey("apt  4b"))
        #expect(throws: RecipientError.self) { try RecipientRules.apartment(String(repeating: "9", count: 33)) }
        #expect(throws: RecipientError.self) { try RecipientRules.name("tab\u{7}bell") }
        #expect(PreferredLanguage(naming: "Español") == .es)
        #expect(PreferredLanguage(naming: "fr") == nil)
    }
}
