/// A CSV file read whole: its header and its records, each with its number.
public struct CSVTable: Sendable, Equatable {
    /// One record after the header.
    public struct Row: Sendable, Equatable {
        /// The record's number in the file, the header being row 1 (what a spreadsheet shows).
        public var number: Int
        /// The line the record starts on (differs from `number` after quoted line breaks or blank lines).
        public var line: Int
        public var fields: [String]

        public init(number: Int, line: Int, fields: [String]) {
            self.number = number
            self.line = line
            self.fields = fields
        }
    }

    public var header: [String]
    public var rows: [Row]
}

/// Why a CSV file cannot be read. Each names the line where the problem is.
public enum CSVError: Error, Equatable, Sendable {
    case empty
    case invalidUTF8(line: Int)
    case nulByte(line: Int)
    case unterminatedQuote(line: Int)
    /// A quote inside an unquoted field, or text after a closing quote.
    case strayQuote(line: Int)
    /// A carriage return not followed by a line feed outside quotes.
    case loneCarriageReturn(line: Int)
    case fieldCount(row: Int, line: Int, expected: Int, found: Int)
    case tooManyRows(limit: Int)

    public var message: String {
        switch self {
        case .empty: "the file is empty; it needs a header row"
        case .invalidUTF8(let line): "line \(line) is not valid UTF-8"
        case .nulByte(let line): "line \(line) contains a NUL byte"
        case .unterminatedQuote(let line): "the quoted field starting on line \(line) is never closed"
        case .strayQuote(let line):
            "line \(line) has a quote inside an unquoted field or text after a closing quote (write a quote as \"\")"
        case .loneCarriageReturn(let line): "line \(line) has a carriage return that does not end the line"
        case .fieldCount(let row, let line, let expected, let found):
            "row \(row) (line \(line)) has \(found) field(s); the header has \(expected)"
        case .tooManyRows(let limit): "the file has more than \(limit) rows"
        }
    }
}

/// A strict RFC 4180 reader: quoted fields with doubled quotes, embedded commas and line breaks, CRLF or LF line
/// ends, an optional UTF-8 byte-order mark. Every record has the header's number of fields; blank lines are skipped.
public enum CSVParser {
    private static let quote = UInt8(ascii: "\"")
    private static let comma = UInt8(ascii: ",")
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// Reads `bytes`; stops with `tooManyRows` as soon as a record past `maxRows` (not counting the header) appears.
    public static func parse(_ bytes: [UInt8], maxRows: Int = .max) throws(CSVError) -> CSVTable {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        try validate(bytes, from: start)
        var records: [CSVTable.Row] = []
        var header: [String]? = nil
        var i = start
        let n = bytes.count
        var line = 1
        var number = 0
        var field: [UInt8] = []
        while i < n {
            let recordLine = line
            var fields: [String] = []
            var blank = true
            var ended = false
            while !ended {
                field.removeAll(keepingCapacity: true)
                if i < n, bytes[i] == quote {
                    blank = false
                    i += 1
                    while true {
                        guard i < n else { throw .unterminatedQuote(line: recordLine) }
                        let c = bytes[i]
                        if c == quote {
                            if i + 1 < n, bytes[i + 1] == quote {
                                field.append(quote)
                                i += 2
                                continue
                            }
                            i += 1
                            break
                        }
                        if c == lf { line += 1 }
                        field.append(c)
                        i += 1
                    }
                    guard i == n || bytes[i] == comma || bytes[i] == lf || bytes[i] == cr else {
                        throw .strayQuote(line: line)
                    }
                } else {
                    while i < n, bytes[i] != comma, bytes[i] != lf, bytes[i] != cr {
                        if bytes[i] == quote { throw .strayQuote(line: line) }
                        field.append(bytes[i])
                        i += 1
                    }
                    if !field.isEmpty { blank = false }
                }
                fields.append(String(decoding: field, as: UTF8.self))
                if i == n {
                    ended = true
                } else if bytes[i] == comma {
                    blank = false
                    i += 1
                } else if bytes[i] == cr {
                    guard i + 1 < n, bytes[i + 1] == lf else { throw .loneCarriageReturn(line: line) }
                    i += 2
                    line += 1
                    ended = true
                } else {
                    i += 1
                    line += 1
                    ended = true
                }
            }
            if blank { continue }
            number += 1
            guard let head = header else {
                header = fields
                continue
            }
            guard fields.count == head.count else {
                throw .fieldCount(row: number, line: recordLine, expected: head.count, found: fields.count)
            }
            guard records.count < maxRows else { throw .tooManyRows(limit: maxRows) }
            records.append(CSVTable.Row(number: number, line: recordLine, fields: fields))
        }
        guard let header else { throw .empty }
        return CSVTable(header: header, rows: records)
    }

    /// Checks that `bytes` are well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF) and hold no NUL.
    static func validate(_ bytes: [UInt8], from start: Int) throws(CSVError) {
        var i = start
        var line = 1
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            if b < 0x80 {
                if b == 0 { throw .nulByte(line: line) }
                if b == lf { line += 1 }
                i += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                upper = 0x9F
            case 0xF0:
                length = 4
                lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                upper = 0x8F
            default: throw .invalidUTF8(line: line)
            }
            guard i + length <= n, (lower...upper).contains(bytes[i + 1]) else { throw .invalidUTF8(line: line) }
            for k in 2..<length where !(0x80...0xBF).contains(bytes[i + k]) { throw .invalidUTF8(line: line) }
            i += length
        }
    }
}
