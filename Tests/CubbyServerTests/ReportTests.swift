import CubbyCore
import CubbyDemo
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import CubbyServer

/// The Reports page's numbers: what is counted on which day of the site's calendar.
@Suite("Reports: parcels per day, time to pickup, occupancy and failed codes per unit")
struct ReportTests {
    /// An instant written with its offset, e.g. `2026-10-30T23:30:00-04:00`.
    static func at(_ text: String) -> Int64 {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)!.millisecondsSince1970
    }

    static func parcel(
        _ w: TestWorld, unit: String, _ tracking: String, deposited: String, pickedUp: String? = nil,
        removed: String? = nil, expired: Bool = false
    ) -> ParcelRecord {
        let m = w.manifest
        let state: ParcelState =
            pickedUp != nil ? .pickedUp : removed != nil ? .removed : expired ? .expired : .deposited
        var p = ParcelRecord(
            id: EntityID.make(), organizationId: m.organizationId, siteId: m.siteId, unitId: unit,
            carrierId: m.carrierId, recipientId: m.recipients[0].id, trackingNumber: tracking, size: .small,
            state: state, createdAt: at(deposited))
        p.depositedAt = at(deposited)
        p.pickedUpAt = pickedUp.map(at)
        p.removedAt = removed.map(at)
        if expired || removed != nil { p.expiredAt = at(deposited) + Milliseconds.day }
        return p
    }

    static func rejected(_ w: TestWorld, unit: String, _ when: String) -> AuditRecord {
        AuditRecord(
            occurredAt: Date(millisecondsSince1970: at(when)), event: .pickupCodeRejected, outcome: .failure,
            actor: Actor(kind: .device, id: unit, role: "device"),
            organizationId: UUID(uuidString: w.manifest.organizationId),
            siteId: UUID(uuidString: w.manifest.siteId), unitId: UUID(uuidString: unit), detail: ["method": "pin"])
    }

    /// Parcels and refused codes around the end of daylight saving time in New York (the demo site's zone), on
    /// 2026-11-01 at 02:00 EDT.
    static func seed(_ w: TestWorld) async throws {
        let (one, two) = (w.manifest.units[0].id, w.manifest.units[1].id)
        let parcels = [
            // Deposited late on the 30th, picked up across midnight: one hour.
            parcel(w, unit: one, "R1", deposited: "2026-10-31T03:30:00Z", pickedUp: "2026-10-31T04:30:00Z"),
            // Deposited at 23:59 on 1 November (already the 2nd in UTC), picked up 10 h 1 min later.
            parcel(w, unit: one, "R2", deposited: "2026-11-01T23:59:00-05:00", pickedUp: "2026-11-02T10:00:00-05:00"),
            // In before the period: one expired and still inside, one expired and removed on 2 November.
            parcel(w, unit: one, "R3", deposited: "2026-10-29T12:00:00-04:00", expired: true),
            parcel(w, unit: one, "R4", deposited: "2026-10-29T12:00:00-04:00", removed: "2026-11-02T09:00:00-05:00"),
            // Came and went before the period.
            parcel(w, unit: one, "R5", deposited: "2026-10-28T12:00:00-04:00", pickedUp: "2026-10-29T12:00:00-04:00"),
            // The second unit: deposited on the last day, picked up after the period.
            parcel(w, unit: two, "R6", deposited: "2026-11-03T08:00:00-05:00", pickedUp: "2026-11-05T08:00:00-05:00"),
        ]
        let codes = [
            rejected(w, unit: one, "2026-11-01T00:30:00-04:00"),
            // 01:30 again, an hour later, once the clocks went back: still 1 November.
            rejected(w, unit: one, "2026-11-01T01:30:00-05:00"),
            // 23:59 on 30 October in New York, 31 October in UTC.
            rejected(w, unit: two, "2026-10-30T23:59:00-04:00"),
            // The day after the period.
            rejected(w, unit: two, "2026-11-04T00:00:00-05:00"),
        ]
        try await w.parts.store.write { s in
            try await s.insertParcels(parcels)
            try await s.appendAudit(codes)
        }
    }

    static func boss(_ w: TestWorld) throws -> Principal {
        Principal(
            role: .superAdmin, credentialId: .make(),
            organizationId: try #require(OrganizationID(uuidString: w.manifest.organizationId)))
    }

    @Test("days in the site's time zone across a clock change", arguments: Backend.available)
    func aggregation(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            try await Self.seed(w)
            let period = try ReportPeriod.parse(from: "2026-10-30", to: "2026-11-03", today: 20_000)
            let r = try await SiteReports(ledger: w.desk.ledger).report(
                try Self.boss(w), siteId: w.manifest.siteId, period: period)
            #expect(r.site.timeZone == "America/New_York")
            #expect(r.deposited == [1, 0, 1, 0, 1])
            #expect(r.pickedUp == [0, 1, 0, 1, 0])
            #expect(r.pickups == 2)
            #expect(r.medianMinutes == 60 && r.p90Minutes == 601)
            #expect(r.buckets.map(\.count) == [0, 1, 1, 0, 0, 0, 0, 0, 0])
            let one = try #require(r.occupancy.first { $0.unitId == w.manifest.units[0].id })
            let two = try #require(r.occupancy.first { $0.unitId == w.manifest.units[1].id })
            // Two inside at the start (one expired: it stays until removed); the removal on the 2nd ends one.
            #expect(one.values == [3, 2, 3, 1, 1])
            #expect(two.values == [0, 0, 0, 0, 1])
            #expect(one.compartments == DemoSeed.demoLayout.count)
            let codesOne = try #require(r.failedCodes.first { $0.unitId == w.manifest.units[0].id })
            let codesTwo = try #require(r.failedCodes.first { $0.unitId == w.manifest.units[1].id })
            #expect(codesOne.values == [0, 0, 2, 0, 0])
            #expect(codesTwo.values == [1, 0, 0, 0, 0])

            // One day only, inside the clock change: the 25-hour day.
            let day = try ReportPeriod.parse(from: "2026-11-01", to: "2026-11-01", today: 20_000)
            let d = try await SiteReports(ledger: w.desk.ledger).report(
                try Self.boss(w), siteId: w.manifest.siteId, period: day)
            #expect(d.deposited == [1] && d.pickedUp == [0] && d.pickups == 0 && d.medianMinutes == nil)
            #expect(d.occupancy.first { $0.unitId == w.manifest.units[0].id }?.values == [3])
            #expect(d.failedCodes.first { $0.unitId == w.manifest.units[0].id }?.values == [2])

            // After the period of the seed: the parcel picked up on the 5th was inside on the 4th, as was the expired
            // one never removed; the removal of the 2nd no longer counts.
            let later = try ReportPeriod.parse(from: "2026-11-04", to: "2026-11-04", today: 20_000)
            let l = try await SiteReports(ledger: w.desk.ledger).report(
                try Self.boss(w), siteId: w.manifest.siteId, period: later)
            #expect(l.deposited == [0] && l.pickedUp == [0])
            #expect(l.occupancy.map(\.values) == [[1], [1]])
            #expect(l.failedCodes.first { $0.unitId == w.manifest.units[1].id }?.values == [1])
        }
    }

    @Test("the page: charts and tables for the staff member's sites only; 404 outside; bad periods answered 400")
    func page() async throws {
        try await TestWorld.with(.sqlite) { w in
            try await Self.seed(w)
            let harbour = try await w.parts.provisioning.createSite(
                try Self.boss(w), .init(name: "Harbour", address: "2 Quay Street", timeZone: "Europe/Lisbon"))
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let local = try await w.staffMember("local@example.org", .admin, sites: [w.site])
            let away = try await w.staffMember("away@example.org", .admin, sites: [harbour.id])
            let auditor = try await w.staffMember("audit@example.org", .auditor, sites: [w.site])
            let site = w.manifest.siteId
            try await w.test { c in
                func get(_ path: String, _ m: StaffMember) async throws -> (Int, String) {
                    let r = try await c.call(.get, path, cookie: "cubby_session=\(m.session)")
                    return (r.status, String(decoding: r.data, as: UTF8.self))
                }
                let (status, html) = try await get(
                    "/admin/reports?site=\(site)&from=2026-10-30&to=2026-11-03", local)
                #expect(status == 200)
                #expect(html.contains("href=\"/admin/reports\""))
                #expect(html.components(separatedBy: "role=\"img\"").count - 1 == 3 + 2 * 2)
                #expect(html.components(separatedBy: "<caption").count - 1 == 3 + 2 * 2)
                #expect(html.contains("<th scope=\"row\">2026-11-01</th><td>1</td>"))
                #expect(html.contains("aria-labelledby=\"chart-deposited-title chart-deposited-desc\""))
                #expect(html.contains("<strong class=\"median\">1 h</strong>"))
                #expect(html.contains("<strong class=\"p90\">10 h 1 min</strong>"))
                #expect(!html.contains("Harbour"), "another site's name is not offered")

                // The default: the last 30 days of the first site in reach.
                let (plain, plainHTML) = try await get("/admin/reports", local)
                #expect(plain == 200 && plainHTML.contains("(30 days, time zone America/New_York)"))
                #expect(try await get("/admin/reports", auditor).0 == 200)
                #expect(try await get("/admin/reports?site=\(harbour.id)", boss).0 == 200)

                // Another site's staff: their own site only; this one does not exist for them.
                let (awayStatus, awayHTML) = try await get("/admin/reports", away)
                #expect(awayStatus == 200 && awayHTML.contains("Harbour") && !awayHTML.contains("Riverside"))
                #expect(try await get("/admin/reports?site=\(site)", away).0 == 404)
                #expect(try await get("/admin/reports?site=\(harbour.id)", local).0 == 404)
                #expect(try await get("/admin/reports?site=\(UUID().uuidString)", boss).0 == 404)
                #expect(try await get("/admin/reports?site=%3Cscript%3E", boss).0 == 404)

                for (query, words) in [
                    ("from=2026-02-30&to=2026-03-01", "not a date"), ("from=2026-11-03&to=2026-10-30", "starts after"),
                    ("from=2025-01-01&to=2026-11-03", "longer than 366 days"), ("to=tomorrow", "not a date"),
                    ("from=%3Cb%3E", "not a date"),
                ] {
                    let (bad, badHTML) = try await get("/admin/reports?site=\(site)&\(query)", local)
                    #expect(bad == 400, "\(query)")
                    #expect(badHTML.contains(words) && badHTML.contains("id=\"report-from\""), "\(query)")
                    #expect(!badHTML.contains("<b>") && !badHTML.contains("role=\"img\""), "\(query)")
                }
            }
        }
    }

    @Test func periods() throws {
        let today = try #require(ReportPeriod.day("2026-11-18"))
        #expect(ReportPeriod.text(today) == "2026-11-18")
        #expect(try ReportPeriod.parse(from: "", to: "", today: today) == ReportPeriod(first: today - 29, last: today))
        #expect(try ReportPeriod.parse(from: "2025-11-18", to: "2026-11-18", today: today).days == 366)
        for bad in ["2026-2-01", "2026-02-29", "20261-01-01", "２０２６-01-01", "1899-12-31", "-2026-01-01", "2026-01-1"] {
            #expect(ReportPeriod.day(bad) == nil, "\(bad)")
        }
        #expect(ReportPeriod.day("2028-02-29") != nil)
        let ny = try #require(TimeZone(identifier: "America/New_York"))
        let p = try ReportPeriod.parse(from: "2026-10-31", to: "2026-11-01", today: today)
        let segments = p.segments(in: ny)
        #expect(segments.count == 2)
        #expect(segments.map(\.offset) == [-4 * 3_600_000, -5 * 3_600_000])
        #expect(segments.first?.start == ReportTests.at("2026-10-31T00:00:00-04:00"))
        #expect(segments.last?.end == ReportTests.at("2026-11-02T00:00:00-05:00"))
        #expect(segments[0].end == segments[1].start)
        #expect(ReportPeriod.day(at: ReportTests.at("2026-11-02T04:59:00Z"), in: ny) == ReportPeriod.day("2026-11-01"))
        #expect(SiteReport.quantile([(10, 1), (20, 8), (30, 1)], 0.9) == 20)
        #expect(SiteReport.quantile([(10, 1), (20, 8), (30, 2)], 0.9) == 30)
        #expect(SiteReport.duration(45) == "45 min" && SiteReport.duration(1500) == "1 d 1 h")
    }
}
