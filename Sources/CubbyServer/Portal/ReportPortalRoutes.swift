import CubbyCore
import CubbyStore
import Foundation
import Hummingbird

/// The portal's Reports page: for one of the staff member's sites and a period of days in the site's calendar,
/// parcels delivered and picked up per day, time from deposit to pickup, occupancy and failed codes per unit, each
/// drawn as SVG with its table beside it.
struct ReportPortalRoutes {
    let reports: SiteReports
    let gate: PortalGate

    var pages: PortalPages { gate.pages }

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/reports", .viewReports) { req, _, call in
            try await reportsPage(req, call)
        }
    }

    func reportsPage(_ req: Request, _ call: PortalCall) async throws -> Response {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        let query = req.uri.queryParameters
        let sites = try await reports.sites(s.principal)
        let asked = String(query.get("site")?.prefix(64) ?? "")
        let fromText = String(query.get("from")?.prefix(32) ?? "")
        let toText = String(query.get("to")?.prefix(32) ?? "")
        var values: [String: Any] = ["hasSites": !sites.isEmpty, "from": fromText, "to": toText]
        guard let site = asked.isEmpty ? sites.first : sites.first(where: { $0.id == asked }) else {
            if asked.isEmpty {
                return pages.page("reports", title: "Reports", session: s, formToken: call.formToken, values)
            }
            throw DomainError.notFound("site \(asked) not found")
        }
        values["siteOptions"] = sites.map {
            ["id": $0.id, "name": $0.name, "selected": $0.id == site.id] as [String: Any]
        }
        values["siteName"] = site.name
        values["timeZone"] = site.timeZone
        let period: ReportPeriod
        do {
            period = try ReportPeriod.parse(from: fromText, to: toText, today: reports.today(site))
        } catch DomainError.invalidRequest(let message) {
            values["error"] = message
            return pages.page(
                "reports", title: "Reports", session: s, formToken: call.formToken, values, status: .badRequest)
        }
        let report = try await reports.report(s.principal, siteId: site.id, period: period)
        values["from"] = ReportPeriod.text(period.first)
        values["to"] = ReportPeriod.text(period.last)
        for (k, v) in Self.values(report) { values[k] = v }
        return pages.page("reports", title: "Reports", session: s, formToken: call.formToken, values)
    }

    /// Days as the tables show them, and as the charts label them.
    static func dayRows(_ period: ReportPeriod, _ values: [Int]) -> [[String: Any]] {
        period.dayNumbers.enumerated().map { i, day in
            ["day": ReportPeriod.text(day), "value": values[i]]
        }
    }

    static func chart(
        _ id: String, _ title: String, _ summary: String, _ kind: SVGChart.Kind, labels: [String], values: [Int],
        yLabel: String
    ) -> String {
        SVGChart(
            id: id, title: title, summary: summary, kind: kind, labels: labels, values: values.map(Double.init),
            yLabel: yLabel
        ).render()
    }

    /// The page's charts and tables.
    static func values(_ r: SiteReport) -> [String: Any] {
        let period = r.period
        let labels = period.dayNumbers.map(ReportPeriod.short)
        let span = "\(ReportPeriod.text(period.first)) to \(ReportPeriod.text(period.last))"
        let depositedTotal = r.deposited.reduce(0, +)
        let pickedTotal = r.pickedUp.reduce(0, +)
        var out: [String: Any] = [
            "hasReport": true, "period": span, "days": period.days,
            "depositedTotal": depositedTotal, "pickedUpTotal": pickedTotal,
            "depositedChart": chart(
                "chart-deposited", "Parcels delivered per day at \(r.site.name), \(span)",
                "Bar chart: \(depositedTotal) parcels deposited over \(period.days) days; the table beside it lists each day.",
                .bars, labels: labels, values: r.deposited, yLabel: "parcels"),
            "depositedRows": dayRows(period, r.deposited),
            "pickedUpChart": chart(
                "chart-picked-up", "Parcels picked up per day at \(r.site.name), \(span)",
                "Bar chart: \(pickedTotal) parcels picked up over \(period.days) days; the table beside it lists each day.",
                .bars, labels: labels, values: r.pickedUp, yLabel: "parcels"),
            "pickedUpRows": dayRows(period, r.pickedUp),
            "pickups": r.pickups,
            "dwellChart": chart(
                "chart-dwell", "Time from deposit to pickup at \(r.site.name), \(span)",
                "Bar chart of \(r.pickups) parcels picked up in the period, by time from deposit to pickup; the table beside it lists each range.",
                .bars, labels: r.buckets.map(\.short), values: r.buckets.map(\.count), yLabel: "parcels"),
            "dwellRows": r.buckets.map { ["label": $0.label, "count": $0.count] as [String: Any] },
        ]
        if let median = r.medianMinutes, let p90 = r.p90Minutes {
            out["dwell"] = ["median": SiteReport.duration(median), "p90": SiteReport.duration(p90)]
        }
        out["units"] = r.occupancy.enumerated().map { i, unit -> [String: Any] in
            let failed = r.failedCodes[i]
            let failedTotal = failed.values.reduce(0, +)
            let peak = unit.values.max() ?? 0
            return [
                "name": unit.name, "index": i, "compartments": unit.compartments, "failedTotal": failedTotal,
                "occupancyChart": chart(
                    "chart-occupancy-\(i)", "Compartments occupied at the end of each day, unit \(unit.name)",
                    "Line chart over \(period.days) days, at most \(peak) of \(unit.compartments) compartments; the table beside it lists each day.",
                    .line, labels: labels, values: unit.values, yLabel: "compartments"),
                "occupancyRows": dayRows(period, unit.values),
                "failedChart": chart(
                    "chart-failed-\(i)", "Codes refused per day, unit \(unit.name)",
                    "Bar chart: \(failedTotal) codes refused over \(period.days) days; the table beside it lists each day.",
                    .bars, labels: labels, values: failed.values, yLabel: "codes"),
                "failedRows": dayRows(period, failed.values),
            ]
        }
        out["hasUnits"] = !r.occupancy.isEmpty
        return out
    }
}
