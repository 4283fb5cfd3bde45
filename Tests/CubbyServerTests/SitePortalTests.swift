import CubbyCore
import CubbyDemo
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import CubbyServer

/// The portal's Sites, Units and Carriers pages: a site created and changed from its form, a unit created from a
/// typed or uploaded layout and drawn as the cabinet is built, and a carrier with its courier credential; bad input
/// shows the page again with the reason and changes nothing.
@Suite("The portal's sites, units and carriers pages")
struct SitePortalTests {
    static let form = "application/x-www-form-urlencoded"
    static let multipartType = "multipart/form-data; boundary=\(RecipientPortalTests.boundary)"

    static func html(_ r: HTTPResult) -> String { String(decoding: r.data, as: UTF8.self) }

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }

    static func body(_ csrf: String, _ fields: [(String, String)]) -> String {
        (["csrf=" + csrf] + fields.map { "\($0.0)=\(encode($0.1))" }).joined(separator: "&")
    }

    static func siteFields(name: String, zone: String = "Europe/Paris", reminders: String = "24, 48") -> [(
        String, String
    )] {
        [
            ("name", name), ("address", "1 Quai de la Gare, Paris"), ("timeZone", zone), ("language", "en"),
            ("language", "es"), ("pickupLifetimeHours", "72"), ("reservationMinutes", "15"),
            ("reminderHours", reminders), ("quietHours", "22:00-07:00"),
        ]
    }

    static func sites(_ w: TestWorld) async throws -> [SiteRecord] {
        try await w.parts.store.read { s in try await s.sitesRecords(organization: w.manifest.organizationId) }
    }

    static func units(_ w: TestWorld, site: String) async throws -> [UnitRecord] {
        try await w.parts.store.read { s in try await s.units(site: site) }
    }

    @Test(
        "a site is created and changed from its form; bad settings show the form again and change nothing",
        arguments: Backend.available)
    func sites(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let cookie = "cubby_session=\(boss.session)"
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            try await w.test { c in
                let list = try await c.call(.get, "/admin/sites", cookie: cookie)
                #expect(list.status == 200 && Self.html(list).contains("Riverside Apartments"))
                #expect(Self.html(list).contains("Create the site") && Self.html(list).contains(">Sites</a>"))

                let before = try await Self.sites(w).count
                let badZone = try await c.call(
                    .post, "/admin/sites", json: Self.body(csrf, Self.siteFields(name: "Gare", zone: "Mars/Olympus")),
                    contentType: Self.form, cookie: cookie)
                #expect(badZone.status == 400 && Self.html(badZone).contains("IANA time zone"))
                #expect(Self.html(badZone).contains("value=\"Gare\""), "the form keeps what was sent")
                let badHours = try await c.call(
                    .post, "/admin/sites",
                    json: Self.body(csrf, Self.siteFields(name: "Gare", reminders: "24, 99999999999999999")),
                    contentType: Self.form, cookie: cookie)
                #expect(badHours.status == 400 && Self.html(badHours).contains("role=\"alert\""))
                let late = try await c.call(
                    .post, "/admin/sites", json: Self.body(csrf, Self.siteFields(name: "Gare", reminders: "24, 900")),
                    contentType: Self.form, cookie: cookie)
                #expect(late.status == 400 && Self.html(late).contains("before the pickup lifetime ends"))
                #expect(try await Self.sites(w).count == before)

                let made = try await c.call(
                    .post, "/admin/sites", json: Self.body(csrf, Self.siteFields(name: "Gare du Nord")),
                    contentType: Self.form, cookie: cookie)
                #expect(made.status == 303)
                let location = try #require(made.headers[.location])
                #expect(location.hasSuffix("?done=created"))
                let id = String(location.dropFirst("/admin/sites/".count).prefix(36))
                let site = try #require(try await Self.sites(w).first { $0.id == id })
                #expect(site.name == "Gare du Nord" && site.timeZone == "Europe/Paris" && site.languages == "en,es")
                #expect(site.pickupLifetimeSeconds == 72 * 3_600 && site.reservationSeconds == 900)
                #expect(site.reminderHours == "24,48" && site.quietHours == "22:00-07:00")
                let page = Self.html(try await c.call(.get, location, cookie: cookie))
                #expect(page.contains("The site was created") && page.contains("value=\"Gare du Nord\""))
                #expect(page.contains("/admin/sites/\(id)/on-call") && page.contains("No locker units yet"))

                var change = Self.siteFields(name: "Gare du Nord", reminders: "")
                change[2] = ("timeZone", "America/New_York")
                change.removeAll { $0 == ("quietHours", "22:00-07:00") }
                let saved = try await c.call(
                    .post, "/admin/sites/\(id)", json: Self.body(csrf, change), contentType: Self.form, cookie: cookie)
                #expect(saved.status == 303 && saved.headers[.location] == "/admin/sites/\(id)?done=saved")
                let changed = try #require(try await Self.sites(w).first { $0.id == id })
                #expect(
                    changed.timeZone == "America/New_York" && changed.reminderHours == "" && changed.quietHours == "")
                let refused = try await c.call(
                    .post, "/admin/sites/\(id)",
                    json: Self.body(csrf, Self.siteFields(name: "Gare de l'Est").filter { $0.0 != "language" }),
                    contentType: Self.form, cookie: cookie)
                #expect(refused.status == 400)
                #expect(try await Self.sites(w).first { $0.id == id } == changed)
                #expect(try await w.auditTypes().filter { $0.hasPrefix("site.") } == ["site.created", "site.updated"])
            }
        }
    }

    @Test(
        "a unit is created from a typed or an uploaded layout and drawn where its compartments are",
        arguments: Backend.available)
    func unitsFromLayouts(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let cookie = "cubby_session=\(boss.session)"
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            try await w.test { c in
                let before = try await Self.units(w, site: w.site).count
                let bad = try await c.call(
                    .post, "/admin/sites/\(w.site)/units",
                    json: Self.body(csrf, [("name", "Lobby"), ("columns", "S S M\nXL Q")]),
                    contentType: Self.form, cookie: cookie)
                #expect(bad.status == 400 && Self.html(bad).contains("Line 2, compartment 2"))
                #expect(Self.html(bad).contains("The unit was not created"))
                #expect(Self.html(bad).contains("S S M\nXL Q</textarea>"), "the form keeps what was sent")
                let empty = try await c.call(
                    .post, "/admin/sites/\(w.site)/units", json: Self.body(csrf, [("name", "Lobby")]),
                    contentType: Self.form, cookie: cookie)
                #expect(empty.status == 400)
                let tooMany = try await c.call(
                    .post, "/admin/sites/\(w.site)/units",
                    json: Self.body(
                        csrf,
                        [("name", "Wall"), ("columns", Array(repeating: "S", count: 21).joined(separator: "\n"))]),
                    contentType: Self.form, cookie: cookie)
                #expect(tooMany.status == 400 && Self.html(tooMany).contains("1–20 columns"))
                #expect(try await Self.units(w, site: w.site).count == before)

                let made = try await c.call(
                    .post, "/admin/sites/\(w.site)/units",
                    json: Self.body(csrf, [("name", "Lobby"), ("columns", "S s M*\nXL")]),
                    contentType: Self.form, cookie: cookie)
                #expect(made.status == 303)
                let location = try #require(made.headers[.location])
                #expect(location.hasPrefix("/admin/units/") && location.hasSuffix("?done=created"))
                let unitId = String(location.dropFirst("/admin/units/".count).prefix(36))
                let compartments = try await w.parts.store.read { s in try await s.compartments(unit: unitId) }
                let places = compartments.map { "\($0.label):\($0.gridColumn!),\($0.gridRow!)+\($0.gridRows)" }
                #expect(places.sorted() == ["A1:0,0+1", "A2:0,1+1", "A3:0,2+2", "B1:1,0+8"])
                #expect(compartments.first { $0.label == "A3" }?.accessible == true)

                let page = try await c.call(.get, location, cookie: cookie)
                let html = Self.html(page)
                #expect(page.status == 200 && html.contains("The unit was created"))
                #expect(html.contains("<caption id=\"grid-caption\">Compartments of Lobby by column and row</caption>"))
                #expect(html.contains("<th scope=\"col\">Column A</th><th scope=\"col\">Column B</th>"))
                #expect(html.contains("rowspan=\"2\" class=\"cell state-available\" id=\"c-A3\""))
                #expect(html.contains("rowspan=\"8\" class=\"cell state-available\" id=\"c-B1\""))
                #expect(html.contains("<th scope=\"row\">Row 8</th>") && !html.contains("Row 9"))
                #expect(html.components(separatedBy: "class=\"empty\"").count - 1 == 4, "A4 to A7 are empty places")
                #expect(html.contains("No controller enrolled yet") && html.contains("Take A1 out of service"))

                // The same layout as the CLI's file, uploaded; a file with an unknown field creates nothing.
                let layout = """
                    {"name": "Garage", "columns": [{"compartments": [
                      {"size": "L", "widthMm": 500, "heightMm": 300, "depthMm": 600, "accessible": true, "label": "G1"},
                      {"size": "S", "widthMm": 500, "heightMm": 150, "depthMm": 600, "accessible": false, "label": "G2"}]}]}
                    """
                let count = try await Self.units(w, site: w.site).count
                let wrong = try await c.call(
                    .post, "/admin/sites/\(w.site)/units",
                    json: RecipientPortalTests.multipart(
                        [("csrf", csrf), ("name", "")],
                        file: (
                            "layout", "garage.json",
                            layout.replacingOccurrences(of: "\"label\": \"G2\"", with: "\"colour\": 1")
                        )),
                    contentType: Self.multipartType, cookie: cookie)
                #expect(wrong.status == 400 && Self.html(wrong).contains("unknown field(s): colour"))
                #expect(try await Self.units(w, site: w.site).count == count)
                let uploaded = try await c.call(
                    .post, "/admin/sites/\(w.site)/units",
                    json: RecipientPortalTests.multipart(
                        [("csrf", csrf), ("name", "")], file: ("layout", "garage.json", layout)),
                    contentType: Self.multipartType, cookie: cookie)
                #expect(uploaded.status == 303)
                let garage = try #require(try await Self.units(w, site: w.site).first { $0.name == "Garage" })
                let cells = try await w.parts.store.read { s in try await s.compartments(unit: garage.id) }
                #expect(cells.map { "\($0.label):\($0.gridRow!)+\($0.gridRows)" }.sorted() == ["G1:0+2", "G2:2+1"])
                let site = Self.html(try await c.call(.get, "/admin/sites/\(w.site)", cookie: cookie))
                #expect(site.contains("<a href=\"/admin/units/\(garage.id)\">Garage</a>"))
                #expect(try await w.auditTypes().filter { $0 == "unit.created" }.count == 2)
            }
        }
    }

    @Test(
        "the unit page shows the parcel held, takes a compartment out of service and back, renames the unit",
        arguments: Backend.available)
    func unitPage(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let parcel = try await ParcelNoticeTests.deposit(w, "GRID-1")
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let cookie = "cubby_session=\(boss.session)"
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            try await w.test { c in
                let page = Self.html(try await c.call(.get, "/admin/units/\(w.unit)", cookie: cookie))
                #expect(page.contains("<a href=\"/admin/parcels/\(parcel)\">Parcel GRID-1</a>"))
                #expect(page.contains("class=\"cell state-occupied\""))
                let dashboard = Self.html(try await c.call(.get, "/admin/dashboard", cookie: cookie))
                #expect(dashboard.contains("<a href=\"/admin/units/\(w.unit)\">"))
                #expect(dashboard.contains("<a href=\"/admin/sites/\(w.site)\">"))

                let free = try #require(
                    try await w.parts.store.read { s in try await s.compartments(unit: w.unit) }.first {
                        $0.state == .available
                    })
                @Sendable func outOfService(_ c: CompartmentRecord) -> CompartmentRecord {
                    var c = c
                    c.state = .outOfService
                    return c
                }
                let out = try await c.call(
                    .post, "/admin/compartments/service",
                    json: Self.body(
                        csrf, [("back", "unit"), ("compartment", free.id), ("inService", "false"), ("note", "")]),
                    contentType: Self.form, cookie: cookie)
                #expect(out.status == 303 && out.headers[.location] == "/admin/units/\(w.unit)?done=out-of-service")
                let after = Self.html(try await c.call(.get, out.headers[.location]!, cookie: cookie))
                #expect(after.contains("Return \(free.label) to service") && after.contains("is out of service"))
                #expect(try await w.parts.store.read { s in try await s.compartment(free.id) }?.state == .outOfService)

                // An empty compartment's size and mark change from the form; bad input and a full one change nothing.
                let nothing = try await c.call(
                    .post, "/admin/units/\(w.unit)/compartments", json: Self.body(csrf, [("compartment", free.id)]),
                    contentType: Self.form, cookie: cookie)
                #expect(nothing.status == 400 && Self.html(nothing).contains("Choose what to change"))
                let narrow = try await c.call(
                    .post, "/admin/units/\(w.unit)/compartments",
                    json: Self.body(csrf, [("compartment", free.id), ("size", "XL"), ("widthMm", "5")]),
                    contentType: Self.form, cookie: cookie)
                #expect(narrow.status == 400 && Self.html(narrow).contains("The inner width must be 100–1200 mm"))
                #expect(try await w.parts.store.read { s in try await s.compartment(free.id) } == outOfService(free))
                let held = try #require(
                    try await w.parts.store.read { s in try await s.compartments(unit: w.unit) }.first {
                        $0.parcelId == parcel
                    })
                let full = try await c.call(
                    .post, "/admin/units/\(w.unit)/compartments",
                    json: Self.body(csrf, [("compartment", held.id), ("accessible", "yes")]),
                    contentType: Self.form, cookie: cookie)
                #expect(full.status == 409 && Self.html(full).contains("holds or awaits a parcel"))
                let changed = try await c.call(
                    .post, "/admin/units/\(w.unit)/compartments",
                    json: Self.body(csrf, [("compartment", free.id), ("size", "XL"), ("accessible", "yes")]),
                    contentType: Self.form, cookie: cookie)
                #expect(changed.status == 303)
                let now = try #require(try await w.parts.store.read { s in try await s.compartment(free.id) })
                #expect(now.size == .extraLarge && now.accessible && now.widthMm == free.widthMm)
                #expect(try await w.auditTypes().filter { $0 == "compartment.changed" }.count == 1)

                let badName = try await c.call(
                    .post, "/admin/units/\(w.unit)/name", json: Self.body(csrf, [("name", "")]),
                    contentType: Self.form, cookie: cookie)
                #expect(badName.status == 400 && Self.html(badName).contains("Name must be"))
                let renamed = try await c.call(
                    .post, "/admin/units/\(w.unit)/name", json: Self.body(csrf, [("name", "North lobby")]),
                    contentType: Self.form, cookie: cookie)
                #expect(renamed.status == 303)
                #expect(try await w.parts.store.read { s in try await s.unit(w.unit) }?.name == "North lobby")
                let busy = try await c.call(
                    .post, "/admin/units/\(w.unit)/decommission", json: Self.body(csrf, []), contentType: Self.form,
                    cookie: cookie)
                #expect(busy.status == 409 && Self.html(busy).contains("still holds parcels"))
                #expect(try await w.parts.store.read { s in try await s.unit(w.unit) }?.decommissionedAt == nil)

                let locked = try await c.call(
                    .post, "/admin/units/\(w.unit)/lockdown",
                    json: Self.body(csrf, [("back", "unit"), ("reason", "drill")]),
                    contentType: Self.form, cookie: cookie)
                #expect(locked.status == 303 && locked.headers[.location] == "/admin/units/\(w.unit)?done=locked")
                let lockedPage = Self.html(try await c.call(.get, "/admin/units/\(w.unit)", cookie: cookie))
                #expect(lockedPage.contains("Locked down</strong> since") && lockedPage.contains("Release lockdown"))
            }
        }
    }

    @Test(
        "a carrier is created, changed, given a courier credential shown once, and deactivated",
        arguments: Backend.available)
    func carriers(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let cookie = "cubby_session=\(boss.session)"
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            let org = w.manifest.organizationId
            @Sendable func count() async throws -> Int {
                try await w.parts.store.read { s in try await s.carriers(organization: org).count }
            }
            try await w.test { c in
                let before = try await count()
                let bad = try await c.call(
                    .post, "/admin/carriers", json: Self.body(csrf, [("name", ""), ("site", w.site)]),
                    contentType: Self.form, cookie: cookie)
                #expect(bad.status == 400 && Self.html(bad).contains("Name must be"))
                let foreign = try await c.call(
                    .post, "/admin/carriers", json: Self.body(csrf, [("name", "Swift Post"), ("site", "nope")]),
                    contentType: Self.form, cookie: cookie)
                #expect(foreign.status == 400 && Self.html(foreign).contains("value=\"Swift Post\""))
                #expect(try await count() == before)

                let made = try await c.call(
                    .post, "/admin/carriers", json: Self.body(csrf, [("name", "Swift Post"), ("site", w.site)]),
                    contentType: Self.form, cookie: cookie)
                #expect(made.status == 303)
                let location = try #require(made.headers[.location])
                let id = String(location.dropFirst("/admin/carriers/".count).prefix(36))
                let page = Self.html(try await c.call(.get, location, cookie: cookie))
                #expect(page.contains("Issue the courier credential") && page.contains("Riverside Apartments"))
                let list = Self.html(try await c.call(.get, "/admin/carriers", cookie: cookie))
                #expect(list.contains("<a href=\"/admin/carriers/\(id)\">Swift Post</a>"))

                let renamed = try await c.call(
                    .post, "/admin/carriers/\(id)", json: Self.body(csrf, [("name", "Swift Parcel")]),
                    contentType: Self.form, cookie: cookie)
                #expect(renamed.status == 303)
                let view = try await w.parts.provisioning.carrier(try principal(w, .superAdmin), id: id)
                #expect(view.carrier.name == "Swift Parcel" && view.siteIds.isEmpty, "no box ticked: no site served")

                let once = PortalRoutes.once()
                let badDays = try await c.call(
                    .post, "/admin/carriers/\(id)/credentials",
                    json: Self.body(csrf, [("once", once), ("label", "van 7"), ("days", "forever")]),
                    contentType: Self.form, cookie: cookie)
                #expect(badDays.status == 400 && Self.html(badDays).contains("number of days"))
                let issued = try await c.call(
                    .post, "/admin/carriers/\(id)/credentials",
                    json: Self.body(csrf, [("once", PortalRoutes.once()), ("label", "van 7"), ("days", "30")]),
                    contentType: Self.form, cookie: cookie)
                #expect(issued.status == 200)
                let shown = Self.html(issued)
                let start = try #require(shown.range(of: "<code id=\"issued-token\">"))
                let token = String(shown[start.upperBound...].prefix { $0 != "<" })
                #expect(token.hasPrefix("cby_courier_"))
                let me = try await c.call(.get, "/api/v1/carriers/\(id)", token: token)
                #expect(me.status == 403, "a courier credential answers as a courier: \(me.status)")
                let again = Self.html(try await c.call(.get, "/admin/carriers/\(id)", cookie: cookie))
                #expect(!again.contains(token) && again.contains("van 7 (courier, active"))

                let off = try await c.call(
                    .post, "/admin/carriers/\(id)/deactivate", json: Self.body(csrf, []), contentType: Self.form,
                    cookie: cookie)
                #expect(off.status == 303)
                let gone = Self.html(try await c.call(.get, "/admin/carriers/\(id)?done=deactivated", cookie: cookie))
                #expect(gone.contains("deactivated at") && !gone.contains("Issue the courier credential"))
                #expect(gone.contains("van 7 (courier, revoked"))
                #expect(
                    try await w.auditTypes().filter { $0.hasPrefix("carrier.") || $0 == "credential.issued" } == [
                        "carrier.created", "carrier.updated", "credential.issued", "carrier.deactivated",
                    ])
            }
        }
    }

    @Test(
        "a site's administrator sees only their sites and may not create sites or carriers; auditors see none",
        arguments: Backend.available)
    func roles(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let other = try await w.parts.provisioning.createSite(
                try principal(w, .superAdmin), .init(name: "Elsewhere", address: "2 Far Road", timeZone: "UTC"))
            let admin = try await w.staffMember("site@example.org", .admin, sites: [w.site])
            let auditor = try await w.staffMember("audit@example.org", .auditor, sites: [w.site])
            let adminCookie = "cubby_session=\(admin.session)"
            let csrf = w.parts.keys.formToken("s:" + admin.session)
            try await w.test { c in
                let list = Self.html(try await c.call(.get, "/admin/sites", cookie: adminCookie))
                #expect(list.contains("Riverside Apartments") && !list.contains("Elsewhere"))
                #expect(!list.contains("Create the site") && list.contains(">Carriers</a>"))
                #expect(try await c.call(.get, "/admin/sites/\(other.id)", cookie: adminCookie).status == 404)
                let created = try await c.call(
                    .post, "/admin/sites", json: Self.body(csrf, Self.siteFields(name: "Mine")), contentType: Self.form,
                    cookie: adminCookie)
                #expect(created.status == 403)
                let unit = try await c.call(
                    .post, "/admin/sites/\(other.id)/units",
                    json: Self.body(csrf, [("name", "Sneaky"), ("columns", "S")]), contentType: Self.form,
                    cookie: adminCookie)
                #expect(unit.status == 404)
                #expect(try await Self.units(w, site: other.id).isEmpty)
                let carrier = try await c.call(
                    .post, "/admin/carriers", json: Self.body(csrf, [("name", "Mine")]), contentType: Self.form,
                    cookie: adminCookie)
                #expect(carrier.status == 403)
                #expect(try await c.call(.get, "/admin/units/\(w.unit)", cookie: adminCookie).status == 200)

                let auditorCookie = "cubby_session=\(auditor.session)"
                for path in ["/admin/sites", "/admin/sites/\(w.site)", "/admin/carriers", "/admin/units/\(w.unit)"] {
                    #expect(try await c.call(.get, path, cookie: auditorCookie).status == 403, "\(path)")
                }
                let nav = Self.html(try await c.call(.get, "/admin/dashboard", cookie: auditorCookie))
                #expect(!nav.contains(">Sites</a>") && !nav.contains(">Carriers</a>"))
                let bossNav = Self.html(
                    try await c.call(.get, "/admin/dashboard", cookie: "cubby_session=\(boss.session)"))
                #expect(bossNav.contains("<a href=\"/admin/sites\">Sites</a>"))
                #expect(bossNav.contains("<a href=\"/admin/carriers\">Carriers</a>"))
            }
        }
    }
}

@Suite("A unit's grid: compartments where the cabinet has them, the unknown ones placed after")
struct UnitGridTests {
    static func compartment(_ label: String, _ place: (Int, Int, Int)?) -> CompartmentRecord {
        CompartmentRecord(
            id: label, unitId: "u", label: label, size: .small, inner: SizeClass.small.typicalInnerDimensions,
            accessible: false, position: place)
    }

    static func layout(_ grid: UnitGrid) -> [String] {
        grid.rows.map { row in
            row.map { cell in cell.compartment.map { "\($0.label)/\(cell.rows)" } ?? "_" }.joined(separator: " ")
        }
    }

    @Test func placedSpansAndGaps() {
        let grid = UnitGrid.arrange([
            Self.compartment("B1", (1, 0, 3)), Self.compartment("A2", (0, 1, 1)), Self.compartment("A1", (0, 0, 1)),
        ])
        #expect(grid.columns == 2)
        #expect(Self.layout(grid) == ["A1/1 B1/3", "A2/1", "_"])
    }

    @Test func unknownOrCollidingPlacesGoAfterTheKnownOnes() {
        let grid = UnitGrid.arrange([
            Self.compartment("A1", (0, 0, 2)), Self.compartment("X9", (0, 1, 1)), Self.compartment("K", nil),
            Self.compartment("Z", (500, 0, 1)),
        ])
        #expect(Self.layout(grid) == ["A1/2 K/1 Z/1", "X9/1 _"])
    }

    @Test func aUnitWithoutPositionsStandsInColumnsOfTen() {
        let grid = UnitGrid.arrange((1...12).map { Self.compartment(String(format: "C%02d", $0), nil) })
        #expect(grid.columns == 2 && grid.rows.count == 10)
        #expect(Self.layout(grid)[0] == "C01/1 C11/1" && Self.layout(grid)[9] == "C10/1 _")
    }
}
