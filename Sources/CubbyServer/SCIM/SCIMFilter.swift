import Foundation

/// An attribute path (RFC 7644 §3.10): an optional schema URN, an attribute name and an optional sub-attribute.
public struct SCIMAttributePath: Sendable, Equatable, CustomStringConvertible {
    /// The schema URN the path was qualified with, if any.
    public var schema: String?
    public var name: String
    public var subAttribute: String?

    public init(schema: String? = nil, _ name: String, _ subAttribute: String? = nil) {
        self.schema = schema
        self.name = name
        self.subAttribute = subAttribute
    }

    public var description: String {
        (schema.map { $0 + ":" } ?? "") + name + (subAttribute.map { "." + $0 } ?? "")
    }

    /// Parses `[URI ":"] ATTRNAME ["." ATTRNAME]`.
    static func parse(_ text: String) -> SCIMAttributePath? {
        var schema: String? = nil
        var rest = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            schema = String(text[..<colon])
            rest = text[text.index(after: colon)...]
            guard let s = schema, s.lowercased().hasPrefix("urn:") else { return nil }
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy(isAttributeName) else { return nil }
        return SCIMAttributePath(schema: schema, String(parts[0]), parts.count == 2 ? String(parts[1]) : nil)
    }

    /// `ALPHA *(nameChar)` with nameChar `-`, `_`, digit or letter (RFC 7643 §2.1; `$ref` is allowed as well).
    static func isAttributeName(_ s: Substring) -> Bool {
        if s == "$ref" { return true }
        guard let first = s.unicodeScalars.first, first.isASCIILetter else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

/// A SCIM filter expression (RFC 7644 §3.4.2.2).
public indirect enum SCIMFilter: Sendable, Equatable {
    /// The comparison operators.
    public enum Operator: String, Sendable, CaseIterable {
        case eq, ne, co, sw, ew, gt, lt, ge, le
    }

    case compare(SCIMAttributePath, Operator, SCIMJSON)
    case present(SCIMAttributePath)
    case and(SCIMFilter, SCIMFilter)
    case or(SCIMFilter, SCIMFilter)
    case not(SCIMFilter)
    /// `attr[filter]`: some value of the multi-valued `attr` matches `filter`.
    case valuePath(SCIMAttributePath, SCIMFilter)

    /// Parses a filter; `invalidFilter` for anything the grammar does not allow.
    public static func parse(_ text: String) throws(SCIMError) -> SCIMFilter {
        var parser = try FilterParser(text)
        let filter = try parser.filter(nested: false)
        guard parser.atEnd else { throw .invalidFilter("unexpected \(parser.peekDescription) in the filter") }
        return filter
    }

    /// The conjunction's terms, flattened (a lone term is a conjunction of one).
    public var conjuncts: [SCIMFilter] {
        if case .and(let l, let r) = self { return l.conjuncts + r.conjuncts }
        return [self]
    }

    /// Whether `object` matches the filter. String comparisons ignore case, as SCIM's `caseExact` false does.
    public func matches(_ object: [String: SCIMJSON]) throws(SCIMError) -> Bool {
        switch self {
        case .and(let l, let r):
            guard try l.matches(object) else { return false }
            return try r.matches(object)
        case .or(let l, let r):
            if try l.matches(object) { return true }
            return try r.matches(object)
        case .not(let f): return try !f.matches(object)
        case .present(let path):
            return Self.values(at: path, in: object).contains { v in
                switch v {
                case .null: false
                case .string(let s): !s.isEmpty
                case .array(let a): !a.isEmpty
                case .object(let o): !o.isEmpty
                default: true
                }
            }
        case .compare(let path, let op, let value):
            for v in Self.values(at: path, in: object) {
                if try Self.compare(v, op, value) { return true }
            }
            return false
        case .valuePath(let path, let inner):
            guard let items = object.attribute(path.name) else { return false }
            let elements = items.arrayValue ?? [items]
            for element in elements {
                if let o = element.objectValue, try inner.matches(o) { return true }
            }
            return false
        }
    }

    /// The values a path reaches: a multi-valued attribute gives each element (or each element's `value`).
    static func values(at path: SCIMAttributePath, in object: [String: SCIMJSON]) -> [SCIMJSON] {
        guard let top = object.attribute(path.name) else { return [] }
        let elements = top.arrayValue ?? [top]
        return elements.compactMap { e -> SCIMJSON? in
            if let sub = path.subAttribute { return e.objectValue?.attribute(sub) }
            if let o = e.objectValue { return o.attribute("value") }
            return e
        }
    }

    static func compare(_ actual: SCIMJSON, _ op: Operator, _ expected: SCIMJSON) throws(SCIMError) -> Bool {
        switch (actual, expected) {
        case (.string(let a), .string(let b)):
            let x = a.lowercased()
            let y = b.lowercased()
            switch op {
            case .eq: return x == y
            case .ne: return x != y
            case .co: return x.contains(y)
            case .sw: return x.hasPrefix(y)
            case .ew: return x.hasSuffix(y)
            case .gt: return x > y
            case .ge: return x >= y
            case .lt: return x < y
            case .le: return x <= y
            }
        case (.number(let a), .number(let b)):
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            case .gt: return a > b
            case .ge: return a >= b
            case .lt: return a < b
            case .le: return a <= b
            case .co, .sw, .ew: throw .invalidFilter("\(op.rawValue) does not apply to numbers")
            }
        case (.bool(let a), .bool(let b)):
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            default: throw .invalidFilter("\(op.rawValue) does not apply to booleans")
            }
        default:
            return op == .ne
        }
    }
}

/// A recursive-descent parser for the filter grammar; `not` binds tighter than `and`, `and` tighter than `or`.
struct FilterParser {
    enum Token: Equatable {
        case word(String)
        case string(String)
        case open, close, openBracket, closeBracket
    }

    private var tokens: [Token]
    private var index = 0

    init(_ text: String) throws(SCIMError) {
        tokens = try Self.tokenize(text)
    }

    var atEnd: Bool { index == tokens.count }

    var peekDescription: String {
        guard index < tokens.count else { return "end" }
        switch tokens[index] {
        case .word(let w): return "'\(w)'"
        case .string: return "a string"
        case .open: return "'('"
        case .close: return "')'"
        case .openBracket: return "'['"
        case .closeBracket: return "']'"
        }
    }

    static func tokenize(_ text: String) throws(SCIMError) -> [Token] {
        guard text.utf8.count <= 4096 else { throw .invalidFilter("the filter is too long") }
        var out: [Token] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case " ", "\t", "\n", "\r": i += 1
            case "(":
                out.append(.open)
                i += 1
            case ")":
                out.append(.close)
                i += 1
            case "[":
                out.append(.openBracket)
                i += 1
            case "]":
                out.append(.closeBracket)
                i += 1
            case "\"":
                // A JSON string: read to the closing quote, then let the JSON decoder unescape it.
                var j = i + 1
                var escaped = false
                while j < chars.count {
                    if escaped {
                        escaped = false
                    } else if chars[j] == "\\" {
                        escaped = true
                    } else if chars[j] == "\"" {
                        break
                    }
                    j += 1
                }
                guard j < chars.count else { throw .invalidFilter("a string in the filter is not closed") }
                var literal = String.UnicodeScalarView()
                literal.append(contentsOf: chars[i...j])
                guard let value = SCIMJSON.parse(Data(String(literal).utf8))?.stringValue else {
                    throw .invalidFilter("a string in the filter is not a valid JSON string")
                }
                out.append(.string(value))
                i = j + 1
            default:
                var j = i
                while j < chars.count, !" \t\n\r()[]\"".unicodeScalars.contains(chars[j]) { j += 1 }
                var word = String.UnicodeScalarView()
                word.append(contentsOf: chars[i..<j])
                out.append(.word(String(word)))
                i = j
            }
        }
        return out
    }

    private mutating func next() -> Token? {
        guard index < tokens.count else { return nil }
        defer { index += 1 }
        return tokens[index]
    }

    private func peekWord() -> String? {
        guard index < tokens.count, case .word(let w) = tokens[index] else { return nil }
        return w.lowercased()
    }

    /// FILTER = term *("or" term)
    mutating func filter(nested: Bool) throws(SCIMError) -> SCIMFilter {
        var left = try conjunction(nested: nested)
        while peekWord() == "or" {
            index += 1
            left = .or(left, try conjunction(nested: nested))
        }
        return left
    }

    mutating func conjunction(nested: Bool) throws(SCIMError) -> SCIMFilter {
        var left = try unary(nested: nested)
        while peekWord() == "and" {
            index += 1
            left = .and(left, try unary(nested: nested))
        }
        return left
    }

    mutating func unary(nested: Bool) throws(SCIMError) -> SCIMFilter {
        if peekWord() == "not" {
            index += 1
            guard next() == .open else { throw .invalidFilter("'not' must be followed by '('") }
            let inner = try filter(nested: nested)
            guard next() == .close else { throw .invalidFilter("a '(' is not closed") }
            return .not(inner)
        }
        if index < tokens.count, tokens[index] == .open {
            index += 1
            let inner = try filter(nested: nested)
            guard next() == .close else { throw .invalidFilter("a '(' is not closed") }
            return inner
        }
        guard case .word(let word)? = next() else {
            throw .invalidFilter(
                "expected an attribute name, found \(index <= tokens.count ? "something else" : "end")")
        }
        guard let path = SCIMAttributePath.parse(word) else {
            throw .invalidFilter("'\(word)' is not an attribute path")
        }
        if index < tokens.count, tokens[index] == .openBracket {
            guard !nested, path.subAttribute == nil else {
                throw .invalidFilter("value filters cannot be nested or follow a sub-attribute")
            }
            index += 1
            let inner = try filter(nested: true)
            guard next() == .closeBracket else { throw .invalidFilter("a '[' is not closed") }
            return .valuePath(path, inner)
        }
        guard case .word(let opWord)? = next() else { throw .invalidFilter("expected an operator after '\(word)'") }
        if opWord.lowercased() == "pr" { return .present(path) }
        guard let op = SCIMFilter.Operator(rawValue: opWord.lowercased()) else {
            throw .invalidFilter("'\(opWord)' is not a filter operator")
        }
        switch next() {
        case .string(let s)?: return .compare(path, op, .string(s))
        case .word(let w)?:
            switch w.lowercased() {
            case "true": return .compare(path, op, .bool(true))
            case "false": return .compare(path, op, .bool(false))
            case "null": return .compare(path, op, .null)
            default:
                guard w.first.map({ $0 == "-" || $0.isNumber }) == true, let n = Double(w), n.isFinite else {
                    throw .invalidFilter("'\(w)' is not a value; strings are written in double quotes")
                }
                return .compare(path, op, .number(n))
            }
        default: throw .invalidFilter("expected a value after '\(opWord)'")
        }
    }

    /// A PATCH path (RFC 7644 §3.5.2): `attrPath` or `valuePath [subAttr]`.
    static func patchPath(_ text: String) throws(SCIMError) -> SCIMPatchPath {
        var parser: FilterParser
        do { parser = try FilterParser(text) } catch { throw .invalidPath("'\(text)' is not a valid path") }
        guard case .word(let word)? = parser.next(), let path = SCIMAttributePath.parse(word) else {
            throw .invalidPath("'\(text)' is not a valid path")
        }
        if parser.atEnd { return SCIMPatchPath(attribute: path, filter: nil, subAttribute: nil) }
        guard path.subAttribute == nil, parser.next() == .openBracket else {
            throw .invalidPath("'\(text)' is not a valid path")
        }
        let filter: SCIMFilter
        do { filter = try parser.filter(nested: true) } catch { throw .invalidPath(error.detail) }
        guard parser.next() == .closeBracket else { throw .invalidPath("a '[' is not closed in '\(text)'") }
        var sub: String? = nil
        if case .word(let rest)? = parser.next() {
            guard rest.hasPrefix("."), SCIMAttributePath.isAttributeName(rest.dropFirst()) else {
                throw .invalidPath("'\(text)' is not a valid path")
            }
            sub = String(rest.dropFirst())
        }
        guard parser.atEnd else { throw .invalidPath("'\(text)' is not a valid path") }
        return SCIMPatchPath(attribute: path, filter: filter, subAttribute: sub)
    }
}

/// Where a PATCH operation points: an attribute (with its sub-attribute), or the values of a multi-valued
/// attribute that match a filter, optionally one sub-attribute of them.
public struct SCIMPatchPath: Sendable, Equatable {
    public var attribute: SCIMAttributePath
    public var filter: SCIMFilter?
    public var subAttribute: String?
}
