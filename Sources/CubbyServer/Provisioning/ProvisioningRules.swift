import CubbyCore
import CubbyStore
import Foundation

/// Every check of what a site, a unit's layout, a compartment or a carrier may be: one place, used by the desk that
/// both the API and the CLI call. A failed check is `invalidRequest` (400) and nothing is written.
enum ProvisioningRules {
    static func bad(_ message: String) -> DomainError { .invalidRequest(message) }

    /// One line of a bounded length in code points (as the API document's `maxLength` counts), without control
    /// characters or line separators, that neither starts nor ends with white space.
    static func text(_ raw: String, _ field: String, _ length: ClosedRange<Int>) throws -> String {
        let scalars = raw.unicodeScalars
        let ok =
            length.contains(scalars.count)
            && !scalars.contains(where: {
                $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}"
            })
            && scalars.first.map { !$0.properties.isWhitespace } == true
            && scalars.last.map { !$0.properties.isWhitespace } == true
        guard ok else {
            throw bad(
                "\(field) must be \(length.lowerBound)–\(length.upperBound) characters on one line, without control characters or surrounding spaces"
            )
        }
        return raw
    }

    static func name(_ raw: String) throws -> String { try text(raw, "name", SiteSettings.nameLength) }
    static func address(_ raw: String) throws -> String { try text(raw, "address", SiteSettings.addressLength) }

    /// An IANA time zone this server knows, e.g. `America/New_York` or `UTC` (not `EST5`, not an offset).
    static func timeZone(_ raw: String) throws -> String {
        guard TimeZone(identifier: raw) != nil, raw == "UTC" || TimeZone.knownTimeZoneIdentifiers.contains(raw) else {
            throw bad("timeZone must be an IANA time zone such as America/New_York or Europe/Paris")
        }
        return raw
    }

    static func languages(_ list: [String]) throws -> [String] {
        let offered = SiteSettings.kioskLanguages
        guard !list.isEmpty, Set(list).count == list.count, list.allSatisfy(offered.contains) else {
            throw bad(
                "languages must be a non-empty list without repeats of: \(offered.joined(separator: ", "))")
        }
        return list
    }

    static func pickupLifetime(_ seconds: Int) throws -> Int {
        let r = SiteSettings.pickupLifetimeSeconds
        guard r.contains(seconds) else {
            throw bad("pickupLifetimeSeconds must be \(r.lowerBound)–\(r.upperBound) (1 to 30 days)")
        }
        return seconds
    }

    static func reservation(_ seconds: Int) throws -> Int {
        let r = SiteSettings.reservationSeconds
        guard r.contains(seconds) else {
            throw bad("reservationSeconds must be \(r.lowerBound)–\(r.upperBound) (1 to 60 minutes)")
        }
        return seconds
    }

    /// Ascending whole hours after a deposit, each before the parcel's lifetime ends.
    static func reminders(_ hours: [Int], lifetimeSeconds: Int) throws -> [Int] {
        guard hours.count <= SiteSettings.maxReminders else {
            throw bad("reminderHours holds at most \(SiteSettings.maxReminders) reminders")
        }
        guard hours.allSatisfy({ $0 >= 1 }), zip(hours, hours.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw bad("reminderHours must be whole hours of at least 1, strictly ascending")
        }
        // Compared by division: a huge number of hours must be refused, not overflow.
        guard hours.allSatisfy({ $0 < (lifetimeSeconds + 3_599) / 3_600 }) else {
            throw bad("each of reminderHours must fall before the pickup lifetime ends")
        }
        return hours
    }

    /// Quiet hours as stored: `HH:MM-HH:MM` (24-hour clock, a span that is not empty), or empty for none (nil).
    static func quietHours(_ text: String?) throws -> String {
        guard let text else { return "" }
        guard let quiet = QuietHours(text: text) else {
            throw bad("quietHours must be HH:MM-HH:MM on a 24-hour clock, start and end differing, or null for none")
        }
        return quiet.text
    }

    static func list(_ text: String) -> [String] { text.split(separator: ",").map(String.init) }
    static func hours(_ text: String) -> [Int] { text.split(separator: ",").compactMap { Int($0) } }

    // MARK: layouts

    /// The compartment a layout slot becomes: its size, dimensions and flag checked, its label given.
    struct PlannedCompartment: Sendable, Equatable {
        var label: String
        var size: SizeClass
        var inner: Dimensions
        var accessible: Bool
        /// Its column from the left, its row from the top and the rows it spans, in cells as high as the unit's
        /// lowest compartment.
        var column = 0
        var row = 0
        var rows = 1
    }

    /// Places planned compartments in the cabinet's grid: a cell is as high as the lowest compartment of the unit,
    /// each compartment spans its height in cells (rounded, at least one), stacked from the top of its column.
    static func place(_ columns: [[PlannedCompartment]]) -> [PlannedCompartment] {
        let cell = max(1, columns.joined().map(\.inner.height).min() ?? 1)
        var out: [PlannedCompartment] = []
        for (i, column) in columns.enumerated() {
            var top = 0
            for var c in column {
                c.column = i
                c.row = top
                c.rows = max(1, Int((Double(c.inner.height) / Double(cell)).rounded()))
                top += c.rows
                out.append(c)
            }
        }
        return out
    }

    static func size(_ text: String, _ at: String) throws -> SizeClass {
        guard let s = SizeClass(rawValue: text) else { throw bad("\(at).size must be one of S, M, L, XL") }
        return s
    }

    static func dimension(_ value: Int, _ field: String, _ range: ClosedRange<Int>) throws -> Int {
        guard range.contains(value) else {
            throw bad("\(field) must be \(range.lowerBound)–\(range.upperBound) mm")
        }
        return value
    }

    static func dimensions(width: Int, height: Int, depth: Int, at: String) throws -> Dimensions {
        Dimensions(
            width: try dimension(width, "\(at).widthMm", UnitLayoutBounds.widthMm),
            height: try dimension(height, "\(at).heightMm", UnitLayoutBounds.heightMm),
            depth: try dimension(depth, "\(at).depthMm", UnitLayoutBounds.depthMm))
    }

    static func label(_ raw: String, at: String) throws -> String {
        let ok =
            UnitLayoutBounds.labelLength.contains(raw.count)
            && raw.unicodeScalars.allSatisfy { $0.isASCII && (RequestValidation.isAlnum(UInt8($0.value)) || $0 == "-") }
        guard ok else {
            throw bad(
                "\(at).label must be \(UnitLayoutBounds.labelLength.lowerBound)–\(UnitLayoutBounds.labelLength.upperBound) letters, digits or '-'"
            )
        }
        return raw
    }

    /// The label of the compartment at `row` (from the top) of `column` (from the left): A1, A2 … B1 ….
    static func generatedLabel(column: Int, row: Int) -> String {
        "\(Character(UnicodeScalar(UInt8(65 + column))))\(row + 1)"
    }

    /// Checks a layout and plans its compartments, in column order, top to bottom.
    static func plan(_ layout: UnitLayout) throws -> [PlannedCompartment] {
        let b = UnitLayoutBounds.self
        guard b.columns.contains(layout.columns.count) else {
            throw bad("columns must hold \(b.columns.lowerBound)–\(b.columns.upperBound) columns")
        }
        var columns: [[PlannedCompartment]] = []
        for (i, column) in layout.columns.enumerated() {
            guard b.compartmentsPerColumn.contains(column.compartments.count) else {
                throw bad(
                    "columns[\(i)].compartments must hold \(b.compartmentsPerColumn.lowerBound)–\(b.compartmentsPerColumn.upperBound) compartments"
                )
            }
            columns.append([])
            for (j, slot) in column.compartments.enumerated() {
                let at = "columns[\(i)].compartments[\(j)]"
                columns[i].append(
                    PlannedCompartment(
                        label: try slot.label.map { try label($0, at: at) } ?? generatedLabel(column: i, row: j),
                        size: try size(slot.size, at),
                        inner: try dimensions(
                            width: slot.widthMm, height: slot.heightMm, depth: slot.depthMm, at: at),
                        accessible: slot.accessible))
            }
        }
        let planned = place(columns)
        guard b.totalCompartments.contains(planned.count) else {
            throw bad("a unit holds at most \(b.totalCompartments.upperBound) compartments")
        }
        var seen: Set<String> = []
        for c in planned {
            guard seen.insert(c.label.uppercased()).inserted else {
                throw bad("label \(c.label) is used twice in this unit; labels must be unique")
            }
        }
        return planned
    }

    // MARK: carriers

    /// Site ids as a set of ids of the organization; an unknown one is `notFound`, as a foreign one is.
    static func siteIds(_ raw: [String], organizationSites: Set<String>, visible: (String) -> Bool) throws -> [String] {
        guard raw.count <= 100 else { throw bad("siteIds holds at most 100 sites") }
        var out: [String] = []
        for text in raw {
            guard let id = EntityID.parse(text) else { throw bad("siteIds must hold site ids (UUIDs)") }
            guard organizationSites.contains(id), visible(id) else {
                throw DomainError.notFound("site \(id) not found")
            }
            if !out.contains(id) { out.append(id) }
        }
        return out
    }
}
