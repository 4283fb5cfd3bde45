import CubbyCrypto
import Foundation

/// One audit event as exports see it: its position in the log, its fields and its canonical bytes.
public struct AuditExportRow: Sendable, Equatable {
    public var index: Int64
    public var id: String
    /// RFC 3339 UTC with milliseconds.
    public var occurredAt: String
    public var occurredAtMillis: Int64
    public var type: String
    public var outcome: String
    public var actorKind: String
    public var actorId: String?
    public var actorRole: String?
    public var organizationId: String?
    public var siteId: String?
    public var unitId: String?
    public var compartmentId: String?
    public var parcelId: String?
    public var trackingNumber: String?
    public var detail: [String: String]
    public var canonical: [UInt8]
    public var leafHash: [UInt8]

    public init(
        index: Int64, id: String, occurredAt: String, occurredAtMillis: Int64, type: String, outcome: String,
        actorKind: String,
        actorId: String?, actorRole: String?, organizationId: String?, siteId: String?, unitId: String?,
        compartmentId: String?,
        parcelId: String?, trackingNumber: String?, detail: [String: String], canonical: [UInt8], leafHash: [UInt8]
    ) {
        self.index = index
        self.id = id
        self.occurredAt = occurredAt
        self.occurredAtMillis = occurredAtMillis
        self.type = type
        self.outcome = outcome
        self.actorKind = actorKind
        self.actorId = actorId
        self.actorRole = actorRole
        self.organizationId = organizationId
        self.siteId = siteId
        self.unitId = unitId
        self.compartmentId = compartmentId
        self.parcelId = parcelId
        self.trackingNumber = trackingNumber
        self.detail = detail
        self.canonical = canonical
        self.leafHash = leafHash
    }
}

/// The export formats: JSON lines for tools, CSV for spreadsheets, ArcSight CEF for SIEMs.
public enum AuditExportFormat: String, Sendable, CaseIterable {
    case jsonl, csv, cef

    /// The text before the first row (the CSV header line), if any.
    public var header: String? {
        switch self {
        case .csv:
            CSVField.line([
                "index", "id", "occurredAt", "type", "outcome", "actorKind", "actorId", "actorRole", "organizationId",
                "siteId", "unitId", "compartmentId", "parcelId", "trackingNumber", "detail", "leafHash",
            ])
        case .jsonl, .cef: nil
        }
    }

    /// One row as one line (with its line break).
    public func line(_ row: AuditExportRow) -> String {
        switch self {
        case .jsonl: JSONLine.line(row)
        case .csv: CSVField.line(CSVField.fields(row))
        case .cef: CEFLine.line(row)
        }
    }

    static func detailJSON(_ detail: [String: String]) -> String {
        guard !detail.isEmpty,
            let data = try? JSONSerialization.data(
                withJSONObject: detail, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    static func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }
}

/// JSON lines: the decoded fields plus the canonical bytes (base64) and leaf hash (hex), so a tool can re-hash.
enum JSONLine {
    static func line(_ r: AuditExportRow) -> String {
        var object: [String: Any] = [
            "index": r.index, "id": r.id, "occurredAt": r.occurredAt, "type": r.type, "outcome": r.outcome,
            "actor": [
                "kind": r.actorKind, "id": r.actorId as Any? ?? NSNull(), "role": r.actorRole as Any? ?? NSNull(),
            ],
            "detail": r.detail, "canonical": Data(r.canonical).base64EncodedString(),
            "leafHash": AuditExportFormat.hex(r.leafHash),
        ]
        for (k, v) in [
            ("organizationId", r.organizationId), ("siteId", r.siteId), ("unitId", r.unitId),
            ("compartmentId", r.compartmentId), ("parcelId", r.parcelId), ("trackingNumber", r.trackingNumber),
        ] {
            object[k] = v ?? NSNull()
        }
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// CSV per RFC 4180, with cells that a spreadsheet would run as a formula defused by a leading `'`.
enum CSVField {
    static func fields(_ r: AuditExportRow) -> [String] {
        [
            String(r.index), r.id, r.occurredAt, r.type, r.outcome, r.actorKind, r.actorId ?? "", r.actorRole ?? "",
            r.organizationId ?? "",
            r.siteId ?? "", r.unitId ?? "", r.compartmentId ?? "", r.parcelId ?? "", r.trackingNumber ?? "",
            AuditExportFormat.detailJSON(r.detail), AuditExportFormat.hex(r.leafHash),
        ]
    }

    static func line(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: ",") + "\r\n"
    }

    static func escape(_ raw: String) -> String {
        var value = raw
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// ArcSight Common Event Format: `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`.
///
/// Header fields escape `\` and `|`; extension values escape `\`, `=` and line breaks (`\n`, `\r`).
enum CEFLine {
    static func line(_ r: AuditExportRow) -> String {
        let severity =
            switch r.outcome {
            case "denied": "7"
            case "failure": "5"
            default: r.type.hasPrefix("unit.") ? "6" : "3"
            }
        let header = [
            "CEF:0", header("Cubby"), header("cubby"), header("1"), header(r.type), header(name(r)), severity,
        ]
        var ext: [(String, String)] = [
            ("rt", String(r.occurredAtMillis)), ("externalId", r.id), ("act", r.type), ("outcome", r.outcome),
            ("cn1Label", "leafIndex"), ("cn1", String(r.index)),
            ("cs1Label", "actorKind"), ("cs1", r.actorKind),
        ]
        if let v = r.actorId { ext.append(("suid", v)) }
        if let v = r.actorRole { ext.append(("spriv", v)) }
        let custom: [(String, String, String?)] = [
            ("cs2", "siteId", r.siteId), ("cs3", "unitId", r.unitId), ("cs4", "compartmentId", r.compartmentId),
            ("cs5", "parcelId", r.parcelId), ("cs6", "trackingNumber", r.trackingNumber),
        ]
        for (key, label, value) in custom {
            if let value {
                ext.append((key + "Label", label))
                ext.append((key, value))
            }
        }
        if let org = r.organizationId { ext.append(("deviceExternalId", org)) }
        if !r.detail.isEmpty { ext.append(("msg", AuditExportFormat.detailJSON(r.detail))) }
        ext.append(("fileHash", AuditExportFormat.hex(r.leafHash)))
        return header.joined(separator: "|") + "|" + ext.map { "\($0.0)=\(value($0.1))" }.joined(separator: " ") + "\n"
    }

    static func name(_ r: AuditExportRow) -> String {
        r.type.replacingOccurrences(of: ".", with: " ").replacingOccurrences(of: "_", with: " ")
    }

    static func header(_ s: String) -> String { CEFEscape.header(s) }
    static func value(_ s: String) -> String { CEFEscape.value(s) }
}

/// CEF's escaping, for the export and the syslog forwarder alike.
public enum CEFEscape {
    /// A header field: `\` and `|` escaped, a line break becomes a space.
    public static func header(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
    }

    /// An extension value: `\`, `=` and line breaks escaped (`\n`, `\r`; CRLF is one `\n`).
    public static func value(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "=", with: "\\=")
            .replacingOccurrences(of: "\r\n", with: "\\n").replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\r", with: "\\r")
    }
}
