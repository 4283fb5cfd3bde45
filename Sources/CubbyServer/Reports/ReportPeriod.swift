import CubbyCore
import CubbyStore
import Foundation

/// A report's period: whole days from `first` to `last` (both included) in a site's calendar, as days since
/// 1970-01-01. The instants it covers run from the site's midnight that starts `first` to the one that ends `last`.
struct ReportPeriod: Sendable, Equatable {
    var first: Int
    var last: Int

    /// The longest period a report covers.
    static let maxDays = 366
    /// The period shown when none is asked for: the last 30 days, today included.
    static let defaultDays = 30

    var days: Int { last - first + 1 }
    var dayNumbers: ClosedRange<Int> { first...last }

    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()

    /// The day number of a `YYYY-MM-DD` date, or nil when it is not one (a real date between the years 1900 and 2200).
    static func day(_ text: String) -> Int? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1900...2200).contains(y)
        else { return nil }
        guard let date = utc.date(from: DateComponents(year: y, month: m, day: d)) else { return nil }
        let back = utc.dateComponents([.year, .month, .day], from: date)
        guard back.year == y, back.month == m, back.day == d else { return nil }
        return Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// A day number as `YYYY-MM-DD`.
    static func text(_ day: Int) -> String {
        let c = utc.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(day) * 86_400))
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// A day number as the charts' short label, `MM-DD`.
    static func short(_ day: Int) -> String { String(text(day).dropFirst(5)) }

    /// The site's day at instant `ms`.
    static func day(at ms: Int64, in zone: TimeZone) -> Int {
        let offset = Int64(zone.secondsFromGMT(for: Date(millisecondsSince1970: ms))) * 1000
        return Int((ms + offset).floorDiv(86_400_000))
    }

    /// The instant the site's day `day` begins (its first instant when midnight is skipped by a clock change).
    static func start(of day: Int, in zone: TimeZone) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let noonUTC = Double(day) * 86_400 + 43_200
        let guess = Date(
            timeIntervalSince1970: noonUTC - Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: noonUTC))))
        return calendar.startOfDay(for: guess).millisecondsSince1970
    }

    /// The period's instants cut where the site's clock changes its offset.
    func segments(in zone: TimeZone) -> [ReportSegment] {
        let end = Self.start(of: last + 1, in: zone)
        var at = Self.start(of: first, in: zone)
        var out: [ReportSegment] = []
        while at < end {
            let here = Date(millisecondsSince1970: at)
            let next = zone.nextDaylightSavingTimeTransition(after: here).map(\.millisecondsSince1970) ?? end
            let stop = min(max(next, at + 1), end)
            out.append(ReportSegment(start: at, end: stop, offset: Int64(zone.secondsFromGMT(for: here)) * 1000))
            at = stop
        }
        return out
    }

    /// The period a request asks for: `from` and `to` as `YYYY-MM-DD` in the site's calendar, empty for the default
    /// (the last 30 days up to `today`). Throws `invalidRequest` with what is wrong.
    static func parse(from: String, to: String, today: Int) throws -> ReportPeriod {
        let fromText = from.trimmingCharacters(in: .whitespaces)
        let toText = to.trimmingCharacters(in: .whitespaces)
        let last: Int
        if toText.isEmpty {
            last = today
        } else if let d = day(toText) {
            last = d
        } else {
            throw DomainError.invalidRequest("The end of the period is not a date: write it as YYYY-MM-DD.")
        }
        let first: Int
        if fromText.isEmpty {
            first = last - defaultDays + 1
        } else if let d = day(fromText) {
            first = d
        } else {
            throw DomainError.invalidRequest("The start of the period is not a date: write it as YYYY-MM-DD.")
        }
        guard first <= last else {
            throw DomainError.invalidRequest("The period starts after it ends: choose a start on or before its end.")
        }
        guard last - first + 1 <= maxDays else {
            throw DomainError.invalidRequest("The period is longer than \(maxDays) days: choose a shorter one.")
        }
        return ReportPeriod(first: first, last: last)
    }
}

extension Int64 {
    /// Division rounded toward minus infinity.
    func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
