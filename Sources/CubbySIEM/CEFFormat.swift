import CubbyAudit
import CubbyCore
import Foundation

/// ArcSight Common Event Format, version 0:
/// `CEF:0|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension`.
///
/// Escaping is the audit export's (`CEFEscape`). Keys are the standard ones, with the Cubby-specific
/// facts in labelled custom fields: `cs1` the actor's role, `cs2` the log's origin, `cn1` the leaf index, `cs3` the
/// site, `cs4` the compartment, `cs5` the parcel, `cs6` the detail's other facts.
public enum CEFFormat {
    public static let vendor = "Cubby"
    public static let product = "Cubby"

    public static func line(_ event: SecurityEvent, productVersion: String) -> String {
        let r = event.record
        let header = [
            "CEF:0", header(vendor), header(product), header(productVersion), header(r.type),
            header(name(event)), String(event.severity.cefValue),
        ].joined(separator: "|")
        var ext: [(String, String)] = [
            ("rt", String(r.occurredAt.millisecondsSince1970)),
            ("externalId", r.id.idString),
            ("cat", event.kind.category),
            ("outcome", r.outcome.rawValue),
        ]
        if let actor = r.actor.id { ext.append(("suid", actor)) }
        ext.append(("cs1Label", "actorRole"))
        ext.append(("cs1", r.actor.role ?? r.actor.kind.rawValue))
        ext.append(("cs2Label", "logOrigin"))
        ext.append(("cs2", event.logOrigin))
        ext.append(("cn1Label", "leafIndex"))
        ext.append(("cn1", String(event.leafIndex)))
        if let address = r.detail["address"] { ext.append(("src", address)) }
        if let subject = event.subjectUID, case .accountChange = event.kind { ext.append(("duid", subject)) }
        if let site = r.siteId {
            ext.append(("cs3Label", "site"))
            ext.append(("cs3", [site.idString, event.siteName].compactMap { $0 }.joined(separator: " ")))
        }
        if let unit = r.unitId {
            ext.append(("deviceExternalId", unit.idString))
            if let name = event.unitName { ext.append(("dvchost", name)) }
        }
        if let compartment = r.compartmentId {
            ext.append(("cs4Label", "compartment"))
            ext.append(
                (
                    "cs4",
                    [compartment.idString, event.compartmentLabel].compactMap { $0 }.joined(
                        separator: " ")
                ))
        }
        if let parcel = r.parcelId {
            ext.append(("cs5Label", "parcel"))
            ext.append(("cs5", parcel.idString))
        }
        let rest = r.detail.filter { $0.key != "address" }.sorted { $0.key < $1.key }
        if !rest.isEmpty {
            ext.append(("cs6Label", "detail"))
            ext.append(("cs6", rest.map { "\($0.key)=\($0.value)" }.joined(separator: ";")))
        }
        ext.append(("msg", message(event)))
        return header + "|" + ext.map { "\($0.0)=\(value($0.1))" }.joined(separator: " ")
    }

    /// The short name of the event: a finding's title, else the audit type's words.
    static func name(_ event: SecurityEvent) -> String {
        if case .finding(_, let title) = event.kind { return title }
        return event.record.type.replacingOccurrences(of: ".", with: " ").replacingOccurrences(of: "_", with: " ")
    }

    /// One sentence: what, where.
    static func message(_ event: SecurityEvent) -> String {
        var places: [String] = []
        if let site = event.siteName { places.append("site \(site)") }
        if let unit = event.unitName { places.append("unit \(unit)") }
        if let compartment = event.compartmentLabel { places.append("compartment \(compartment)") }
        return name(event) + (places.isEmpty ? "" : " at " + places.joined(separator: ", "))
    }

    static func header(_ text: String) -> String { CEFEscape.header(text) }
    static func value(_ text: String) -> String { CEFEscape.value(text) }
}
