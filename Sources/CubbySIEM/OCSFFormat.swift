import CubbyAudit
import CubbyCore
import Foundation

/// OCSF 1.5.0 JSON records: Detection Finding (2004), Authentication (3002), Account Change (3001).
///
/// Every record carries the base event's required attributes (`activity_id`, `category_uid`, `class_uid`,
/// `metadata` with `product` and `version`, `severity_id`, `time`, `type_uid` = class × 100 + activity), and in
/// `metadata` the audit event's id (`uid`), its leaf index (`sequence`) and its log's origin (`log_name`), so a SOC
/// can ask the server for the inclusion proof of exactly that leaf. Ids only: never a name, an address or a code.
public enum OCSFFormat {
    public static let schemaVersion = "1.5.0"

    public static func record(_ event: SecurityEvent, productVersion: String) -> [String: Any] {
        let r = event.record
        let classUID = event.kind.ocsfClassUID
        let activity: (id: Int, name: String)
        let category: (uid: Int, name: String)
        switch event.kind {
        case .finding(let a, _):
            activity = (a.rawValue, a.name)
            category = (2, "Findings")
        case .authentication(let a):
            activity = (a.rawValue, a.name)
            category = (3, "Identity & Access Management")
        case .accountChange(let a):
            activity = (a.rawValue, a.name)
            category = (3, "Identity & Access Management")
        }
        var metadata: [String: Any] = [
            "version": schemaVersion,
            "uid": r.id.idString,
            "sequence": event.leafIndex,
            "log_name": event.logOrigin,
            "event_code": r.type,
            "product": ["name": CEFFormat.product, "vendor_name": CEFFormat.vendor, "version": productVersion],
        ]
        if let org = r.organizationId { metadata["tenant_uid"] = org.idString }
        var out: [String: Any] = [
            "activity_id": activity.id,
            "activity_name": activity.name,
            "category_uid": category.uid,
            "category_name": category.name,
            "class_uid": classUID,
            "class_name": className(classUID),
            "type_uid": classUID * 100 + activity.id,
            "severity_id": event.severity.ocsfID,
            "severity": event.severity.ocsfName,
            "time": r.occurredAt.millisecondsSince1970,
            "message": CEFFormat.message(event),
            "status_id": r.outcome == .success ? 1 : 2,
            "status": r.outcome == .success ? "Success" : "Failure",
            "metadata": metadata,
        ]
        var unmapped: [String: Any] = [
            "actor_role": r.actor.role ?? r.actor.kind.rawValue, "outcome": r.outcome.rawValue,
        ]
        for (k, v) in r.detail where k != "address" { unmapped["detail_" + k] = v }
        if let site = r.siteId { unmapped["site_id"] = site.idString }
        if let parcel = r.parcelId { unmapped["parcel_id"] = parcel.idString }
        out["unmapped"] = unmapped
        let actorUser = r.actor.id.map { ["uid": $0, "type": r.actor.role ?? r.actor.kind.rawValue] }
        if let actorUser { out["actor"] = ["user": actorUser] }
        if let address = r.detail["address"] { out["src_endpoint"] = ["ip": address] }
        switch event.kind {
        case .finding(_, let title):
            var info: [String: Any] = [
                "uid": r.detail["alertId"] ?? r.id.idString, "title": title,
                "types": [r.type], "created_time": r.occurredAt.millisecondsSince1970,
            ]
            if let alert = r.detail["alertId"] { info["related_events"] = [["uid": alert]] }
            out["finding_info"] = info
            var resources: [[String: Any]] = []
            if let unit = r.unitId {
                var res: [String: Any] = ["uid": unit.idString, "type": "Locker unit"]
                if let name = event.unitName { res["name"] = name }
                resources.append(res)
            }
            if let compartment = r.compartmentId {
                var res: [String: Any] = ["uid": compartment.idString, "type": "Compartment"]
                if let label = event.compartmentLabel { res["name"] = label }
                resources.append(res)
            }
            if !resources.isEmpty { out["resources"] = resources }
        case .authentication:
            // The subject of a sign-in is the account that signed in; a failure for an unknown account has none.
            out["user"] = ["uid": r.actor.id ?? "unknown", "type": r.actor.role ?? r.actor.kind.rawValue]
            out["is_mfa"] = r.type.hasPrefix("staff.")
            if let reason = r.detail["reason"] { out["status_detail"] = reason }
        case .accountChange:
            out["user"] = ["uid": event.subjectUID ?? "unknown"]
        }
        return out
    }

    static func className(_ uid: Int) -> String {
        switch uid {
        case 2004: "Detection Finding"
        case 3002: "Authentication"
        default: "Account Change"
        }
    }

    /// The record as one line of JSON, keys sorted, every character outside ASCII written as a `\u` escape of four
    /// hex digits, so the syslog message stays ASCII.
    public static func json(_ event: SecurityEvent, productVersion: String) -> String {
        let object = record(event, productVersion: productVersion)
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        var out = ""
        for scalar in String(decoding: data, as: UTF8.self).unicodeScalars {
            if scalar.isASCII {
                out.unicodeScalars.append(scalar)
            } else {
                for unit in String(scalar).utf16 {
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            }
        }
        return out
    }
}
