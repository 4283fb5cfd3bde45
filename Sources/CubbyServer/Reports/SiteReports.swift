import CubbyCore
import CubbyStore
import Foundation

/// One site's report for a period, in the site's calendar.
struct SiteReport: Sendable {
    /// A range of times from deposit to pickup, `[lower, upper)` in minutes (`upper` nil: no end).
    struct Bucket: Sendable, Equatable {
        var label: String
        var short: String
        var lower: Int64
        var upper: Int64?
        var count: Int
    }

    /// Per unit, one number per day of the period.
    struct UnitSeries: Sendable {
        var unitId: String
        var name: String
        var compartments: Int
        var values: [Int]
    }

    var site: SiteRecord
    var period: ReportPeriod
    /// Parcels deposited, and picked up, per day of the period (all units).
    var deposited: [Int]
    var pickedUp: [Int]
    /// Parcels picked up in the period by time from deposit to pickup.
    var buckets: [Bucket]
    var pickups: Int
    /// Median and 90th percentile of that time, in minutes (nearest rank); nil without pickups.
    var medianMinutes: Int64?
    var p90Minutes: Int64?
    /// Per unit: compartments holding a parcel at the end of each day (for today: now).
    var occupancy: [UnitSeries]
    /// Per unit: codes refused at the unit each day.
    var failedCodes: [UnitSeries]

    /// The buckets of the deposit-to-pickup chart, in minutes.
    static let bucketBounds: [(label: String, short: String, lower: Int64, upper: Int64?)] = [
        ("under 1 hour", "<1h", 0, 60), ("1 to 4 hours", "1–4h", 60, 240), ("4 to 12 hours", "4–12h", 240, 720),
        ("12 to 24 hours", "12–24h", 720, 1440), ("1 to 2 days", "1–2d", 1440, 2880),
        ("2 to 3 days", "2–3d", 2880, 4320), ("3 to 5 days", "3–5d", 4320, 7200), ("5 to 7 days", "5–7d", 7200, 10080),
        ("7 days or more", "≥7d", 10080, nil),
    ]

    /// The value at `fraction` of `counts` (minutes, parcels; ascending), by nearest rank.
    static func quantile(_ counts: [(minutes: Int64, count: Int)], _ fraction: Double) -> Int64? {
        let total = counts.reduce(0) { $0 + $1.count }
        guard total > 0 else { return nil }
        let rank = max(1, Int((fraction * Double(total)).rounded(.up)))
        var seen = 0
        for (minutes, count) in counts {
            seen += count
            if seen >= rank { return minutes }
        }
        return counts.last?.minutes
    }

    /// Minutes as people read them: "45 min", "3 h 12 min", "2 d 4 h".
    static func duration(_ minutes: Int64) -> String {
        if minutes < 60 { return "\(minutes) min" }
        if minutes < 1440 { return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min" }
        let hours = (minutes % 1440) / 60
        return hours == 0 ? "\(minutes / 1440) d" : "\(minutes / 1440) d \(hours) h"
    }
}

/// Builds sites' reports from counts the database makes per unit and day (see `ReportRepository`).
struct SiteReports: Sendable {
    let ledger: Ledger

    /// The caller's sites, by name.
    func sites(_ p: Principal) async throws -> [SiteRecord] {
        let org = p.organizationId.idString
        return try await ledger.store.read { s in try await s.sitesRecords(organization: org) }
            .filter { p.organizationWide || Scope.covers(p, siteId: $0.id) }
            .sorted { ($0.name, $0.id) < ($1.name, $1.id) }
    }

    /// Today in a site's calendar.
    func today(_ site: SiteRecord) -> Int {
        ReportPeriod.day(at: ledger.clock.now().millisecondsSince1970, in: Self.zone(site))
    }

    static func zone(_ site: SiteRecord) -> TimeZone {
        TimeZone(identifier: site.timeZone) ?? TimeZone(identifier: "UTC")!
    }

    /// The site's report for `period`; a site outside the caller's reach is `notFound`.
    func report(_ p: Principal, siteId: String, period: ReportPeriod) async throws -> SiteReport {
        try AccessPolicy.require(p, .viewReports)
        let ledger = self.ledger
        let site = try await ledger.store.read { s in try await ledger.siteInScope(s, siteId, p) }
        let zone = Self.zone(site)
        let segments = period.segments(in: zone)
        let start = segments.first?.start ?? 0
        let end = segments.last?.end ?? 0
        let siteId = site.id
        let read = try await ledger.store.read { s in
            let units = try await s.units(site: siteId)
            let compartments = try await s.compartmentStates(organization: site.organizationId)
            return (
                units: units, compartments: compartments,
                deposited: try await s.parcelsPerDay(site: siteId, .deposited, segments: segments, before: start),
                pickedUp: try await s.parcelsPerDay(site: siteId, .pickedUp, segments: segments, before: start),
                removed: try await s.parcelsPerDay(site: siteId, .removed, segments: segments, before: start),
                codes: try await s.codesRejectedPerDay(site: siteId, segments: segments),
                minutes: try await s.minutesToPickup(site: siteId, from: start, to: end),
                inside: try await s.parcelsInCompartments(
                    site: siteId, units: units.map(\.id), at: start, after: end)
            )
        }
        let days = period.days
        func index(_ day: Int) -> Int? {
            let i = day - period.first
            return (0..<days).contains(i) ? i : nil
        }
        func total(_ counts: [UnitDayCount]) -> [Int] {
            var out = Array(repeating: 0, count: days)
            for c in counts { if let i = index(c.day) { out[i] += c.count } }
            return out
        }
        func perUnit(_ counts: [UnitDayCount]) -> [String: [Int]] {
            var out: [String: [Int]] = [:]
            for c in counts {
                guard let i = index(c.day) else { continue }
                out[c.unitId, default: Array(repeating: 0, count: days)][i] += c.count
            }
            return out
        }
        // Inside at the start: those still inside at the end, and those that left during the period.
        var inside = read.inside
        for c in read.pickedUp + read.removed where c.depositedBefore > 0 {
            inside[c.unitId, default: 0] += c.depositedBefore
        }
        var boxes: [String: Int] = [:]
        for row in read.compartments { boxes[row.unitId, default: 0] += row.count }
        let ins = perUnit(read.deposited)
        let outs = perUnit(read.pickedUp + read.removed)
        let codes = perUnit(read.codes)
        // Units retired before the period without a parcel or a code in it are left out.
        let units = read.units.filter { u in
            u.decommissionedAt.map { $0 >= start } ?? true || ins[u.id] != nil || codes[u.id] != nil
                || (inside[u.id] ?? 0) > 0
        }.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
        let zeros = Array(repeating: 0, count: days)
        let occupancy = units.map { u -> SiteReport.UnitSeries in
            var level = inside[u.id] ?? 0
            let added = ins[u.id] ?? zeros
            let taken = outs[u.id] ?? zeros
            let values = (0..<days).map { i -> Int in
                level += added[i] - taken[i]
                return level
            }
            return .init(unitId: u.id, name: u.name, compartments: boxes[u.id] ?? 0, values: values)
        }
        let failed = units.map {
            SiteReport.UnitSeries(
                unitId: $0.id, name: $0.name, compartments: boxes[$0.id] ?? 0, values: codes[$0.id] ?? zeros)
        }
        let buckets = SiteReport.bucketBounds.map { b in
            SiteReport.Bucket(
                label: b.label, short: b.short, lower: b.lower, upper: b.upper,
                count: read.minutes.filter { row in row.minutes >= b.lower && (b.upper.map { row.minutes < $0 } ?? true)
                }
                .reduce(0) { $0 + $1.count })
        }
        return SiteReport(
            site: site, period: period, deposited: total(read.deposited), pickedUp: total(read.pickedUp),
            buckets: buckets, pickups: read.minutes.reduce(0) { $0 + $1.count },
            medianMinutes: SiteReport.quantile(read.minutes, 0.5), p90Minutes: SiteReport.quantile(read.minutes, 0.9),
            occupancy: occupancy, failedCodes: failed)
    }
}
