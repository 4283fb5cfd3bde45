import Foundation

/// A JSON value as SCIM documents carry it: resources, PATCH operations and filters' comparison values.
public indirect enum SCIMJSON: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([SCIMJSON])
    case object([String: SCIMJSON])

    /// Parses a JSON text; nil when it is not JSON.
    public static func parse(_ data: Data) -> SCIMJSON? {
        try? JSONDecoder().decode(SCIMJSON.self, from: data)
    }

    /// The value's JSON text, keys sorted.
    public var data: Data {
        var out = ""
        write(to: &out)
        return Data(out.utf8)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([SCIMJSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: SCIMJSON].self))
        }
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n):
            if n.rounded() == n, abs(n) < 1e15 { out += String(Int64(n)) } else { out += "\(n)" }
        case .string(let s): Self.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, k) in fields.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                Self.quote(k, into: &out)
                out += ":"
                fields[k]!.write(to: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var objectValue: [String: SCIMJSON]? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [SCIMJSON]? { if case .array(let a) = self { a } else { nil } }

    /// A boolean, also from the strings "true"/"false" in any case (some identity providers send `"False"`).
    public var lenientBool: Bool? {
        switch self {
        case .bool(let b): b
        case .string(let s) where s.lowercased() == "true": true
        case .string(let s) where s.lowercased() == "false": false
        default: nil
        }
    }
}

extension Dictionary where Key == String, Value == SCIMJSON {
    /// The value of an attribute whose name matches `name` case-insensitively, as SCIM attribute names do.
    func attribute(_ name: String) -> SCIMJSON? {
        if let v = self[name] { return v }
        let lower = name.lowercased()
        return first(where: { $0.key.lowercased() == lower })?.value
    }

    /// The key actually used for `name` in this object, if any.
    func key(matching name: String) -> String? {
        if self[name] != nil { return name }
        let lower = name.lowercased()
        return keys.first(where: { $0.lowercased() == lower })
    }
}
