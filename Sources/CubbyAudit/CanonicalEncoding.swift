import Crypto
import CubbyCore
import Foundation

/// The canonical bytes of an audit event, version 1. They never change: the Merkle tree commits to them.
///
/// UTF-8 JSON, object keys sorted by Unicode code point, no insignificant whitespace, absent values
/// omitted, strings escaped with the minimal set (`"`, `\`, control characters as `\u00XX` except
/// `\b \f \n \r \t`), times as RFC 3339 UTC with milliseconds, ids as lowercase UUIDs. The top-level
/// object carries `"v":1`.
public enum AuditCanonicalEncoding {
    /// Version of the encoding written in each event.
    public static let version = 1

    /// The canonical bytes of `record`.
    public static func encode(_ record: AuditRecord) -> [UInt8] {
        var actor: [(String, CanonicalValue)] = [("kind", .string(record.actor.kind.rawValue))]
        if let id = record.actor.id { actor.append(("id", .string(id))) }
        if let role = record.actor.role { actor.append(("role", .string(role))) }

        var fields: [(String, CanonicalValue)] = [
            ("v", .int(Int64(version))),
            ("id", .string(record.id.idString)),
            ("at", .string(timestamp(record.occurredAt))),
            ("type", .string(record.type)),
            ("outcome", .string(record.outcome.rawValue)),
            ("actor", .object(actor)),
        ]
        func add(_ key: String, _ id: UUID?) {
            if let id { fields.append((key, .string(id.idString))) }
        }
        add("org", record.organizationId)
        add("site", record.siteId)
        add("unit", record.unitId)
        add("compartment", record.compartmentId)
        add("parcel", record.parcelId)
        if let t = record.trackingNumber { fields.append(("tracking", .string(t))) }
        if !record.detail.isEmpty {
            fields.append(("detail", .object(record.detail.map { ($0.key, CanonicalValue.string($0.value)) })))
        }
        var out: [UInt8] = []
        out.reserveCapacity(512)
        CanonicalValue.object(fields).write(into: &out)
        return out
    }

    /// A string-to-string map as a JSON object in the same canonical form (keys sorted, minimal escapes).
    public static func json(_ object: [String: String]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        CanonicalValue.object(object.map { ($0.key, CanonicalValue.string($0.value)) }).write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// SHA-256 of the canonical bytes with the RFC 6962 leaf prefix 0x00.
    public static func leafHash(_ canonical: [UInt8]) -> [UInt8] {
        TreeHash.leaf(canonical).bytes
    }

    /// RFC 3339 UTC with exactly three fractional digits, e.g. `2026-11-21T09:30:00.125Z`.
    public static func timestamp(_ date: Date) -> String {
        let millis = date.millisecondsSince1970
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = Int(millis - seconds * 1000)
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }
}

/// The values the canonical encoding can hold: no floats, no nulls.
enum CanonicalValue {
    case string(String)
    case int(Int64)
    case object([(String, CanonicalValue)])

    func write(into out: inout [UInt8]) {
        switch self {
        case .int(let v):
            out.append(contentsOf: String(v).utf8)
        case .string(let s):
            Self.writeString(s, into: &out)
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            // UTF-8 byte order is code point order.
            let sorted = members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
            for (i, (key, value)) in sorted.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [
                    0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)],
                    hex[Int(byte & 0xF)],
                ])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
