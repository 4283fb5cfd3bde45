import CubbyCore
import Foundation
import Testing

/// One row of the "Event types" table in docs/audit.md.
struct DocumentedEventType: Sendable {
    var type: String
    var meaning: String
    var actor: String
    var detail: String
    var line: Int
}

/// Reads the "Event types" table of docs/audit.md.
enum AuditEventTypeTable {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/audit.md").path

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// The table's rows, in document order; throws when the section, the table or a row is malformed.
    static func rows(in text: String) throws -> [DocumentedEventType] {
        let lines = text.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "## Event types" })
        else {
            throw Malformed(description: "docs/audit.md has no \"## Event types\" section")
        }
        var rows: [DocumentedEventType] = []
        var sawHeader = false
        for index in (start + 1)..<lines.count {
            let line = lines[index].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("## ") { break }
            guard line.hasPrefix("|") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 4, line.hasSuffix("|") else {
                throw Malformed(
                    description: "docs/audit.md:\(index + 1): a row needs 4 cells, found \(cells.count): \(line)")
            }
            if !sawHeader {
                guard cells == ["type", "meaning", "actor", "detail fields"] else {
                    throw Malformed(description: "docs/audit.md:\(index + 1): unexpected header \(cells)")
                }
                sawHeader = true
                continue
            }
            if cells.allSatisfy({ $0.allSatisfy { $0 == "-" || $0 == ":" } && !$0.isEmpty }) { continue }
            let typeCell = cells[0]
            guard typeCell.count > 2, typeCell.hasPrefix("`"), typeCell.hasSuffix("`") else {
                throw Malformed(description: "docs/audit.md:\(index + 1): the type is not in backticks: \(typeCell)")
            }
            rows.append(
                DocumentedEventType(
                    type: String(typeCell.dropFirst().dropLast()), meaning: cells[1], actor: cells[2], detail: cells[3],
                    line: index + 1))
        }
        return rows
    }

    static func rows() throws -> [DocumentedEventType] {
        try rows(in: String(contentsOfFile: path, encoding: .utf8))
    }
}

@Suite("Audit event types and their documentation")
struct AuditEventTypeTests {
    let code = Set(AuditEventType.allCases.map(\.rawValue))

    @Test func documentedTypesAreExactlyTheEnumsCases() throws {
        let rows = try AuditEventTypeTable.rows()
        #expect(!rows.isEmpty, "the Event types table in docs/audit.md has no rows")
        let documented = Set(rows.map(\.type))
        let undocumented = code.subtracting(documented).sorted()
        let notInCode = documented.subtracting(code).sorted()
        #expect(
            documented == code,
            "not documented in docs/audit.md: \(undocumented); documented but not in AuditEventType: \(notInCode)")
    }

    @Test func noTypeIsDocumentedTwice() throws {
        let rows = try AuditEventTypeTable.rows()
        let lines = Dictionary(grouping: rows, by: \.type).mapValues { $0.map(\.line) }
        let twice = lines.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }.map {
            "\($0.key) at lines \($0.value)"
        }
        #expect(twice == [], "documented more than once: \(twice)")
        #expect(rows.count == Set(rows.map(\.type)).count)
    }

    @Test func everyRowHasAMeaningAndAnActor() throws {
        for row in try AuditEventTypeTable.rows() {
            #expect(!row.meaning.isEmpty, "\(row.type) (docs/audit.md:\(row.line)) has no meaning")
            #expect(!row.actor.isEmpty, "\(row.type) (docs/audit.md:\(row.line)) has no actor")
        }
    }

    @Test func rowsAreSortedByType() throws {
        let types = try AuditEventTypeTable.rows().map(\.type)
        #expect(types == types.sorted(), "the Event types table is not sorted by type")
    }

    @Test(arguments: AuditEventType.allCases)
    func rawValueIsDotted(_ type: AuditEventType) throws {
        let pattern = try Regex("^[a-z]+(\\.[a-z_]+)+$")
        #expect(type.rawValue.wholeMatch(of: pattern) != nil, "\(type) has raw value \"\(type.rawValue)\"")
    }

    @Test func rawValuesAreUniqueAndRoundTrip() throws {
        #expect(code.count == AuditEventType.allCases.count)
        for type in AuditEventType.allCases {
            #expect(AuditEventType(rawValue: type.rawValue) == type)
            let json = try JSONEncoder().encode(type)
            #expect(String(decoding: json, as: UTF8.self) == "\"\(type.rawValue)\"")
        }
    }

    /// The parser itself: it must see a missing row, a duplicate, an empty cell and a missing section.
    @Test func theTableParserFindsWhatIsWrong() throws {
        let text = """
            # Log

            ## Event types

            Prose with a | pipe is not a row.

            | type | meaning | actor | detail fields |
            |---|---|---|---|
            | `a.one` | First. | system | — |
            | `a.one` | Again. | device | `x` |
            | `b.two` |  | console |  |

            ## Next

            | `c.three` | Outside the section. | system | — |
            """
        let rows = try AuditEventTypeTable.rows(in: text)
        #expect(rows.map(\.type) == ["a.one", "a.one", "b.two"])
        #expect(rows.map(\.meaning) == ["First.", "Again.", ""])
        #expect(rows.map(\.actor) == ["system", "device", "console"])
        #expect(rows.map(\.line) == [9, 10, 11])
        #expect(throws: AuditEventTypeTable.Malformed.self) {
            try AuditEventTypeTable.rows(in: "# Log\n\nNo table here.\n")
        }
        #expect(throws: AuditEventTypeTable.Malformed.self) {
            try AuditEventTypeTable.rows(
                in:
                    "## Event types\n\n| type | meaning | actor | detail fields |\n|---|---|---|---|\n| a.one | x | y | z |\n"
            )
        }
    }
}
