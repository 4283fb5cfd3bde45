import SQLKit

/// A stretch of time in which a site's clock keeps one offset from UTC: a local day is
/// `(t + offset) / 86_400_000` for every instant `t` in it.
public struct ReportSegment: Sendable, Equatable {
    /// First instant, in milliseconds since 1970 (inclusive).
    public var start: Int64
    /// Last instant, in milliseconds since 1970 (exclusive).
    public var end: Int64
    /// The site's offset from UTC during the stretch, in milliseconds.
    public var offset: Int64

    public init(start: Int64, end: Int64, offset: Int64) {
        self.start = start
        self.end = end
        self.offset = offset
    }
}

/// How many things happened at one unit on one local day.
public struct UnitDayCount: Sendable, Equatable {
    public var unitId: String
    /// Days since 1970-01-01 in the site's calendar.
    public var day: Int
    public var count: Int
    /// Of those, the parcels deposited before the instant the query was given (they were inside at that instant).
    public var depositedBefore: Int

    public init(unitId: String, day: Int, count: Int, depositedBefore: Int = 0) {
        self.unitId = unitId
        self.day = day
        self.count = count
        self.depositedBefore = depositedBefore
    }
}

/// The moments of a parcel's life that reports count.
public enum ParcelMoment: String, Sendable, CaseIterable {
    case deposited, pickedUp, removed

    /// The column, one of a closed set (never text from a request).
    var column: String {
        switch self {
        case .deposited: "deposited_at"
        case .pickedUp: "picked_up_at"
        case .removed: "removed_at"
        }
    }
}

/// Reads for the portal's reports. Each reads one site's rows of a period through an index of migration 28 and
/// counts in SQL; nothing is read per parcel.
extension StoreSession {
    static let dayMillis: Int64 = 86_400_000

    /// Parcels per unit and local day at which `moment` happened within the segments, and how many of them had been
    /// deposited before `before` (the period's start: the parcels that were inside then).
    public func parcelsPerDay(site: String, _ moment: ParcelMoment, segments: [ReportSegment], before: Int64)
        async throws -> [UnitDayCount]
    {
        var out: [UnitDayCount] = []
        let column = moment.column
        for segment in segments where segment.end > segment.start {
            let day = "(\(column) + \(segment.offset)) / \(Self.dayMillis)"
            let rows = try await sql.raw(
                """
                SELECT unit_id, \(unsafeRaw: day) AS d, COUNT(*) AS n,
                  SUM(CASE WHEN deposited_at < \(bind: before) THEN 1 ELSE 0 END) AS b FROM parcels
                WHERE site_id = \(bind: site) AND \(unsafeRaw: column) >= \(bind: segment.start)
                  AND \(unsafeRaw: column) < \(bind: segment.end)
                GROUP BY unit_id, \(unsafeRaw: day)
                """
            ).all()
            out += try rows.map {
                var count = try Self.unitDay($0)
                count.depositedBefore = try $0.decode(column: "b", as: Int?.self) ?? 0
                return count
            }
        }
        return out
    }

    /// `pickup.code_rejected` audit events per unit and local day within the segments.
    public func codesRejectedPerDay(site: String, segments: [ReportSegment]) async throws -> [UnitDayCount] {
        var out: [UnitDayCount] = []
        for segment in segments where segment.end > segment.start {
            let day = "(occurred_at + \(segment.offset)) / \(Self.dayMillis)"
            // The event type is written out (not bound) so both databases use the partial index on it.
            let rows = try await sql.raw(
                """
                SELECT unit_id, \(unsafeRaw: day) AS d, COUNT(*) AS n FROM audit_events
                WHERE type = 'pickup.code_rejected' AND site_id = \(bind: site)
                  AND occurred_at >= \(bind: segment.start) AND occurred_at < \(bind: segment.end)
                  AND unit_id IS NOT NULL
                GROUP BY unit_id, \(unsafeRaw: day)
                """
            ).all()
            out += try rows.map { try Self.unitDay($0) }
        }
        return out
    }

    static func unitDay(_ row: any SQLRow) throws -> UnitDayCount {
        UnitDayCount(
            unitId: try row.decode(column: "unit_id", as: String.self), day: try row.decode(column: "d", as: Int.self),
            count: try row.decode(column: "n", as: Int.self))
    }

    /// Parcels picked up in `[from, to)` by whole minutes from deposit to pickup: (minutes, parcels), shortest first.
    public func minutesToPickup(site: String, from: Int64, to: Int64) async throws -> [(minutes: Int64, count: Int)] {
        try await sql.raw(
            """
            SELECT (picked_up_at - deposited_at) / 60000 AS m, COUNT(*) AS n FROM parcels
            WHERE site_id = \(bind: site) AND picked_up_at >= \(bind: from) AND picked_up_at < \(bind: to)
              AND deposited_at IS NOT NULL
            GROUP BY (picked_up_at - deposited_at) / 60000 ORDER BY m
            """
        ).all().map { (try $0.decode(column: "m", as: Int64.self), try $0.decode(column: "n", as: Int.self)) }
    }

    /// Per unit, the parcels deposited before `at` that were still inside at `after`: not picked up or removed before
    /// it (an expired parcel stays in its compartment until it is removed). With the parcels that left between `at`
    /// and `after` (`parcelsPerDay`'s `depositedBefore`), these are the parcels inside at `at`.
    public func parcelsInCompartments(site: String, units: [String], at: Int64, after: Int64) async throws
        -> [String: Int]
    {
        guard !units.isEmpty else { return [:] }
        // Three disjoint sets, each read through an index: parcels still inside, and those that left at or after
        // `after` by pickup or by removal. The `+` keeps `deposited_at` a filter, not the index's range.
        let rows = try await sql.raw(
            """
            SELECT unit_id, COUNT(*) AS n FROM (
              SELECT unit_id FROM parcels
              WHERE unit_id IN (\(binds: units)) AND state IN ('deposited', 'expired') AND +deposited_at < \(bind: at)
              UNION ALL
              SELECT unit_id FROM parcels
              WHERE site_id = \(bind: site) AND picked_up_at >= \(bind: after) AND +deposited_at < \(bind: at)
              UNION ALL
              SELECT unit_id FROM parcels
              WHERE site_id = \(bind: site) AND removed_at >= \(bind: after) AND +deposited_at < \(bind: at)
            ) inside GROUP BY unit_id
            """
        ).all()
        var out: [String: Int] = [:]
        for row in rows {
            out[try row.decode(column: "unit_id", as: String.self)] = try row.decode(column: "n", as: Int.self)
        }
        return out
    }
}
