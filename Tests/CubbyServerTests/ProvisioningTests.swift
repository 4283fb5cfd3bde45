import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

extension TestWorld {
    /// An admin API key limited to `sites` (nil: the whole organization).
    func adminKey(sites: [String]?) async throws -> String {
        let token = SecretGenerator.credential(prefix: "cby_admin_")
        try await parts.store.write { s in
            try await s.insertCredential(
                CredentialRecord(
                    id: EntityID.make(), kind: "admin", tokenHash: parts.keys.credentialHash(token),
                    organizationId: manifest.organizationId, siteIds: sites?.joined(separator: ","),
                    label: "test admin",
                    createdAt: clock.now.millisecondsSince1970))
        }
        return token
    }

    /// The console's principal: the organization as a whole.
    func consolePrincipal() async throws -> Principal {
        let sites = try await parts.store.read { s in try await s.sites(organization: manifest.organizationId) }
        return Principal(
            role: .superAdmin, credentialId: .make(),
            organizationId: try #require(.init(uuidString: manifest.organizationId)),
            siteIds: Set(sites.compactMap(SiteID.init(uuidString:))))
    }

    /// Rows of the provisioned tables and of the audit log, to show that a refused request changed nothing.
    func provisioningCounts() async throws -> [Int] {
        try await parts.store.read { s in
            [
                try await s.siteCount(), try await s.unitCount(), try await s.compartmentCount(),
                try await s.carrierCount(), try await s.auditCount(),
            ]
        }
    }
}

/// A JSON body from a dictionary.
func body(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

/// A small layout: `columns` columns of `rows` compartments of size S.
func layout(name: String? = "Lobby C", columns: Int = 2, rows: Int = 3, extra: [String: Any] = [:]) -> [String: Any] {
    var slot: [String: Any] = ["size": "S", "widthMm": 400, "heightMm": 100, "depthMm": 550, "accessible": false]
    for (k, v) in extra { slot[k] = v }
    var out: [String: Any] = [
        "columns": Array(repeating: ["compartments": Array(repeating: slot, count: rows)], count: columns)
    ]
    if let name { out["name"] = name }
    return out
}

@Suite("Sites, units, compartments and carriers are provisioned through the API and the CLI's desk")
struct ProvisioningTests {
    static var goodSite: [String: Any] {
        ["name": "Harbour Lofts", "address": "2 Quay Street", "timeZone": "Europe/Paris"]
    }

    @Test(arguments: Backend.available)
    func siteIsCreatedReadAndUpdated(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = w.manifest.adminToken
            try await w.test { c in
                let created = try await c.call(.post, "/api/v1/sites", token: admin, json: body(Self.goodSite))
                #expect(created.status == 201)
                let site = created.body
                let id = try #require(site.str("id"))
                #expect(created.headers[.location] == "/api/v1/sites/\(id)")
                #expect(site["languages"] as? [String] == ["en"])
                #expect(site["pickupLifetimeSeconds"] as? Int == 604_800)
                #expect(site["reservationSeconds"] as? Int == 600)
                #expect(site["reminderHours"] as? [Int] == [24, 72])
                #expect(site.str("quietHours") == "21:00-08:00")
                #expect(site["updatedAt"] is NSNull)
                #expect(site.str("timeZone") == "Europe/Paris")

                let list = try await c.call(.get, "/api/v1/sites", token: admin)
                let ids = (list.body["sites"] as? [[String: Any]] ?? []).compactMap { $0.str("id") }
                #expect(Set(ids) == [w.site, id])
                #expect(try await c.call(.get, "/api/v1/sites/\(id)", token: admin).body.str("name") == "Harbour Lofts")

                let patched = try await c.call(
                    .patch, "/api/v1/sites/\(id)", token: admin,
                    json: body([
                        "languages": ["es", "en"], "reminderHours": [12, 48], "timeZone": "America/New_York",
                        "pickupLifetimeSeconds": 432_000,
                    ]))
                #expect(patched.status == 200)
                #expect(patched.body["languages"] as? [String] == ["es", "en"])
                #expect(patched.body["reminderHours"] as? [Int] == [12, 48])
                #expect(patched.body["pickupLifetimeSeconds"] as? Int == 432_000)
                #expect(patched.body.str("timeZone") == "America/New_York")
                #expect(patched.body.str("name") == "Harbour Lofts")
                #expect(patched.body.str("updatedAt") != nil)
                #expect(patched.body.str("quietHours") == "21:00-08:00", "kept when not sent")
                let quiet = try await c.call(
                    .patch, "/api/v1/sites/\(id)", token: admin, json: body(["quietHours": "22:30-07:15"]))
                #expect(quiet.body.str("quietHours") == "22:30-07:15")
                let none = try await c.call(.patch, "/api/v1/sites/\(id)", token: admin, json: #"{"quietHours":null}"#)
                #expect(none.status == 200)
                #expect(none.body["quietHours"] is NSNull)
                #expect(try await w.parts.store.read { s in try await s.site(id) }?.quietHours == "")
                // The new lifetime is what drop-offs at the site use.
                let stored = try await w.parts.store.read { s in try await s.site(id) }
                #expect(stored?.pickupLifetimeSeconds == 432_000)
                // A site from a request with every field.
                var full = Self.goodSite
                full["languages"] = ["en", "es"]
                full["pickupLifetimeSeconds"] = 86_400 * 2
                full["reservationSeconds"] = 300
                full["reminderHours"] = [6, 24, 47]
                full["timeZone"] = "UTC"
                full["quietHours"] = NSNull()
                let second = try await c.call(.post, "/api/v1/sites", token: admin, json: body(full))
                #expect(second.status == 201)
                #expect(second.body["quietHours"] is NSNull)
                #expect(second.body["reminderHours"] as? [Int] == [6, 24, 47])
                // A short lifetime keeps only the default reminders before it ends.
                var short = Self.goodSite
                short["pickupLifetimeSeconds"] = 86_400 * 2
                #expect(
                    try await c.call(.post, "/api/v1/sites", token: admin, json: body(short)).body["reminderHours"]
                        as? [Int] == [24])
            }
            let types = try await w.auditTypes()
            #expect(types.filter { $0 == "site.created" }.count == 3)
            #expect(types.filter { $0 == "site.updated" }.count == 3)
        }
    }

    @Test(arguments: Backend.available)
    func badSitesAreRefusedAndChangeNothing(backend: Backend) async throws {
        func with(_ key: String, _ value: Any?) -> [String: Any] {
            var b = Self.goodSite
            b[key] = value ?? NSNull()
            return b
        }
        var noName = Self.goodSite
        noName["name"] = nil
        let bad: [(String, String)] = [
            ("missing name", body(noName)),
            ("empty name", body(with("name", ""))),
            ("name with a space in front", body(with("name", " Harbour"))),
            ("name with a line break", body(with("name", "Harbour\nLofts"))),
            ("name too long", body(with("name", String(repeating: "x", count: 81)))),
            ("empty address", body(with("address", ""))),
            ("time zone EST5", body(with("timeZone", "EST5"))),
            ("time zone Mars/Base", body(with("timeZone", "Mars/Base"))),
            ("empty time zone", body(with("timeZone", ""))),
            ("time zone lower case", body(with("timeZone", "europe/paris"))),
            ("time zone as an offset", body(with("timeZone", "GMT+5"))),
            ("time zone a number", body(with("timeZone", 5))),
            ("no languages", body(with("languages", [String]()))),
            ("a language the kiosk does not speak", body(with("languages", ["fr"]))),
            ("a language twice", body(with("languages", ["en", "en"]))),
            ("null languages", body(with("languages", nil))),
            ("lifetime of an hour", body(with("pickupLifetimeSeconds", 3_600))),
            ("lifetime of 40 days", body(with("pickupLifetimeSeconds", 40 * 86_400))),
            ("reservation of 30 s", body(with("reservationSeconds", 30))),
            ("reservation of 2 h", body(with("reservationSeconds", 7_200))),
            ("reminders descending", body(with("reminderHours", [72, 24]))),
            ("reminder twice", body(with("reminderHours", [24, 24]))),
            ("reminder at 0 h", body(with("reminderHours", [0]))),
            ("reminder after the lifetime", body(with("reminderHours", [24, 168]))),
            ("too many reminders", body(with("reminderHours", [1, 2, 3, 4, 5, 6]))),
            ("quiet hours at 24:00", body(with("quietHours", "21:00-24:00"))),
            ("quiet hours that end as they start", body(with("quietHours", "21:00-21:00"))),
            ("quiet hours in 12-hour time", body(with("quietHours", "9:00pm-8:00am"))),
            ("quiet hours as a list", body(with("quietHours", ["21:00", "08:00"]))),
            ("unknown field", body(with("colour", "blue"))),
            ("not an object", "[1]"),
        ]
        try await TestWorld.with(backend) { w in
            let before = try await w.provisioningCounts()
            try await w.test { c in
                for (name, json) in bad {
                    let r = try await c.call(.post, "/api/v1/sites", token: w.manifest.adminToken, json: json)
                    #expect(r.status == 400, "\(name): \(r.status)")
                    #expect(["invalid_request", "invalid_json"].contains(r.body.str("error") ?? ""), "\(name)")
                }
                let patches: [(String, [String: Any])] = [
                    ("nothing", [:]),
                    ("a reminder after the kept lifetime", ["reminderHours": [200]]),
                    ("a lifetime before the kept reminders", ["pickupLifetimeSeconds": 86_400]),
                    ("bad time zone", ["timeZone": "EST5"]),
                    ("bad quiet hours", ["quietHours": "late"]),
                    ("unknown field", ["id": UUID().uuidString]),
                    ("null name", ["name": NSNull()]),
                    ("null with a good field", ["name": NSNull(), "address": "3 Quay Street"]),
                ]
                for (name, patch) in patches {
                    let r = try await c.call(
                        .patch, "/api/v1/sites/\(w.site)", token: w.manifest.adminToken, json: body(patch))
                    #expect(r.status == 400, "\(name): \(r.status)")
                }
                let missing = try await c.call(
                    .patch, "/api/v1/sites/\(UUID().uuidString)", token: w.manifest.adminToken,
                    json: body(["name": "X"]))
                #expect(missing.status == 404)
            }
            #expect(try await w.provisioningCounts() == before)
            let site = try await w.parts.store.read { s in try await s.site(w.site) }
            #expect(site?.updatedAt == nil && site?.reminderHours == "24,72")
        }
    }

    @Test(arguments: Backend.available)
    func anAdminOfSomeSitesReachesOnlyThem(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let other = try await w.otherSite()
            let mine = try await w.adminKey(sites: [w.site])
            try await w.test { c in
                // Creating sites and carriers is organization-wide power.
                #expect(try await c.call(.post, "/api/v1/sites", token: mine, json: body(Self.goodSite)).status == 403)
                #expect(
                    try await c.call(
                        .post, "/api/v1/carriers", token: mine, json: body(["name": "X", "siteIds": [w.site]])
                    ).status == 403)
                #expect(
                    try await c.call(.post, "/api/v1/carriers/\(w.manifest.carrierId)/deactivate", token: mine).status
                        == 403)
                let list = try await c.call(.get, "/api/v1/sites", token: mine)
                #expect((list.body["sites"] as? [[String: Any]])?.compactMap { $0.str("id") } == [w.site])
                #expect(try await c.call(.get, "/api/v1/sites/\(other.site)", token: mine).status == 404)
                #expect(
                    try await c.call(.patch, "/api/v1/sites/\(other.site)", token: mine, json: body(["name": "X"]))
                        .status == 404)
                #expect(
                    try await c.call(.post, "/api/v1/sites/\(other.site)/units", token: mine, json: body(layout()))
                        .status == 404)
                #expect(
                    try await c.call(.patch, "/api/v1/units/\(other.unit)", token: mine, json: body(["name": "X"]))
                        .status == 404)
                #expect(try await c.call(.post, "/api/v1/units/\(other.unit)/decommission", token: mine).status == 404)
                // Its own site it runs: a unit there, renamed.
                let unit = try await c.call(.post, "/api/v1/sites/\(w.site)/units", token: mine, json: body(layout()))
                #expect(unit.status == 201)
                let unitId = try #require(unit.body.str("id"))
                #expect(
                    try await c.call(.patch, "/api/v1/units/\(unitId)", token: mine, json: body(["name": "Lobby D"]))
                        .body.str("name") == "Lobby D")
                #expect(
                    try await c.call(.patch, "/api/v1/sites/\(w.site)", token: mine, json: body(["name": "Riverside"]))
                        .status == 200)
                // Carriers it sees: those serving its site, with only its sites.
                let boss = w.manifest.adminToken
                let both = try await c.call(
                    .post, "/api/v1/carriers", token: boss,
                    json: body(["name": "Both", "siteIds": [w.site, other.site]]))
                #expect(both.status == 201)
                let elsewhere = try await c.call(
                    .post, "/api/v1/carriers", token: boss, json: body(["name": "Elsewhere", "siteIds": [other.site]]))
                let carriers =
                    try await c.call(.get, "/api/v1/carriers", token: mine).body["carriers"]
                    as? [[String: Any]] ?? []
                #expect(Set(carriers.compactMap { $0.str("name") }) == ["Demo Express", "Both"])
                #expect(carriers.allSatisfy { ($0["siteIds"] as? [String]) == [w.site] })
                #expect(
                    try await c.call(
                        .get, "/api/v1/carriers/\(elsewhere.body.str("id") ?? "")", token: mine
                    ).status == 404)
                // Auditors read none of it.
                #expect(try await c.call(.get, "/api/v1/sites", token: w.manifest.auditorToken).status == 403)
                #expect(try await c.call(.get, "/api/v1/carriers", token: w.manifest.auditorToken).status == 403)
            }
        }
    }

    @Test(arguments: Backend.available)
    func unitIsBuiltRenamedAndDecommissioned(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = w.manifest.adminToken
            let p = try await w.consolePrincipal()
            try await w.test { c in
                var l = layout(columns: 2, rows: 2)
                var columns = l["columns"] as! [[String: Any]]
                var second = columns[1]["compartments"] as! [[String: Any]]
                second[1] = [
                    "size": "XL", "widthMm": 450, "heightMm": 800, "depthMm": 600, "accessible": true, "label": "BIG-1",
                ]
                columns[1]["compartments"] = second
                l["columns"] = columns
                let created = try await c.call(.post, "/api/v1/sites/\(w.site)/units", token: admin, json: body(l))
                #expect(created.status == 201)
                let unitId = try #require(created.body.str("id"))
                #expect(created.headers[.location] == "/api/v1/units/\(unitId)")
                #expect(created.body["decommissioned"] as? Bool == false)
                #expect(created.body["decommissionedAt"] is NSNull)
                let compartments = created.body["compartments"] as? [[String: Any]] ?? []
                #expect(compartments.compactMap { $0.str("label") }.sorted() == ["A1", "A2", "B1", "BIG-1"])
                let big = try #require(compartments.first { $0.str("label") == "BIG-1" })
                #expect(big.str("size") == "XL" && big["accessible"] as? Bool == true)
                #expect(big["width"] as? Int == 450 && big["height"] as? Int == 800 && big["depth"] as? Int == 600)
                #expect(compartments.allSatisfy { $0.str("state") == "available" && $0.str("id") != nil })
                // The same view as GET.
                let read = try await c.call(.get, "/api/v1/units/\(unitId)", token: admin)
                #expect((read.body["compartments"] as? [[String: Any]])?.count == 4)

                let renamed = try await c.call(
                    .patch, "/api/v1/units/\(unitId)", token: admin, json: body(["name": "Lobby C (north)"]))
                #expect(renamed.status == 200 && renamed.body.str("name") == "Lobby C (north)")
                #expect(
                    try await c.call(.patch, "/api/v1/units/\(unitId)", token: admin, json: body(["name": ""])).status
                        == 400)

                // Its controller's credential and a pending enrollment code stop working when it is decommissioned.
                let (_, device) = try await w.staff.issueCredential(
                    p, actor: .console, .init(kind: .device, label: "Lobby C kiosk", days: 30, unitId: unitId))
                #expect(try await c.call(.get, "/api/v1/units/\(unitId)", token: device).status == 200)
                let code = try await c.call(.post, "/api/v1/units/\(unitId)/enrollment-codes", token: admin)
                #expect(code.status == 201)

                let gone = try await c.call(.post, "/api/v1/units/\(unitId)/decommission", token: admin)
                #expect(gone.status == 200)
                #expect(gone.body["decommissioned"] as? Bool == true)
                #expect(gone.body.str("decommissionedAt") != nil)
                #expect(try await c.call(.get, "/api/v1/units/\(unitId)", token: device).status == 401)
                #expect(
                    try await c.call(
                        .get, "/api/v1/units/\(unitId)", token: admin
                    ).body["decommissioned"] as? Bool == true)
                let enroll = try await c.call(
                    .post, EdgeLink.enrollPath, json: body(["code": code.body.str("code") ?? ""]))
                #expect(enroll.status == 403 && enroll.body.str("error") == "invalid_code")
                let again = try await c.call(.post, "/api/v1/units/\(unitId)/enrollment-codes", token: admin)
                #expect(again.status == 409 && again.body.str("error") == "unit_decommissioned")
                let dropoff = try await c.call(
                    .post, "/api/v1/units/\(unitId)/dropoffs", token: w.manifest.courierToken,
                    json: body([
                        "trackingNumber": "DECOM1", "recipientId": w.manifest.recipients[0].id, "size": "S",
                    ]))
                #expect(dropoff.status == 409 && dropoff.body.str("error") == "unit_decommissioned")
                let announce = try await c.call(
                    .post, "/api/v1/parcels", token: w.manifest.carrierToken,
                    json: body([
                        "trackingNumber": "DECOM2", "recipientId": w.manifest.recipients[0].id, "size": "S",
                        "unitId": unitId,
                    ]))
                #expect(announce.status == 409 && announce.body.str("error") == "unit_decommissioned")
                #expect(
                    try await c.call(.patch, "/api/v1/units/\(unitId)", token: admin, json: body(["name": "X"])).status
                        == 409)
                #expect(try await c.call(.post, "/api/v1/units/\(unitId)/decommission", token: admin).status == 409)
            }
            let types = try await w.auditTypes()
            for t in ["unit.created", "unit.renamed", "unit.decommissioned"] { #expect(types.contains(t), "\(t)") }
            #expect(try await w.parcelCountIs(0))
        }
    }

    @Test(arguments: Backend.available)
    func aUnitHoldingAParcelIsNotDecommissioned(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            try await w.test { c in
                let dropoff = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                    json: body(["trackingNumber": "HELD1", "recipientId": w.manifest.recipients[0].id, "size": "S"]))
                #expect(dropoff.status == 201)
                // The simulated door closes on the parcel: it is deposited, and the unit is still not empty.
                try await w.settle()
                let before = try await w.provisioningCounts()
                let r = try await c.call(.post, "/api/v1/units/\(w.unit)/decommission", token: w.manifest.adminToken)
                #expect(r.status == 409 && r.body.str("error") == "unit_not_empty")
                #expect(try await w.provisioningCounts() == before)
                #expect(try await c.call(.get, "/api/v1/units/\(w.unit)", token: w.device).status == 200)
                // Its reserved compartment cannot be changed either; an empty one can.
                let compartment = try #require(dropoff.body.obj("compartment")?.str("id"))
                let busy = try await c.call(
                    .patch, "/api/v1/units/\(w.unit)/compartments/\(compartment)", token: w.manifest.adminToken,
                    json: body(["size": "XL"]))
                #expect(busy.status == 409 && busy.body.str("error") == "compartment_not_empty")
            }
        }
    }

    @Test(arguments: Backend.available)
    func compartmentsChangeOnlyWhileEmpty(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = w.manifest.adminToken
            let other = try await w.otherSite()
            let view = try await w.desk.unit(try await w.consolePrincipal(), id: w.unit)
            let free = try #require(view.compartments.first { $0.size == .small })
            let path = "/api/v1/units/\(w.unit)/compartments/\(free.id)"
            try await w.test { c in
                let changed = try await c.call(
                    .patch, path, token: admin,
                    json: body(["size": "M", "heightMm": 200, "accessible": true]))
                #expect(changed.status == 200)
                #expect(changed.body.str("size") == "M" && changed.body["height"] as? Int == 200)
                #expect(changed.body["accessible"] as? Bool == true && changed.body["width"] as? Int == 400)
                let before = try await w.provisioningCounts()
                let bad: [(String, String, Int)] = [
                    ("nothing", body([:]), 400),
                    ("bad size", body(["size": "XXL"]), 400),
                    ("too narrow", body(["widthMm": 20]), 400),
                    ("too tall", body(["heightMm": 5_000]), 400),
                    ("depth zero", body(["depthMm": 0]), 400),
                    ("null", body(["accessible": NSNull()]), 400),
                    ("unknown field", body(["label": "Z9"]), 400),
                ]
                for (name, json, status) in bad {
                    let r = try await c.call(.patch, path, token: admin, json: json)
                    #expect(r.status == status, "\(name): \(r.status)")
                }
                #expect(
                    try await c.call(
                        .patch, "/api/v1/units/\(w.unit)/compartments/\(UUID().uuidString)", token: admin,
                        json: body(["size": "S"])
                    ).status == 404)
                // A compartment of another unit is not found under this one.
                let elsewhere = try #require(
                    try await w.desk.unit(try await w.consolePrincipal(), id: w.manifest.units[1].id).compartments.first
                )
                #expect(
                    try await c.call(
                        .patch, "/api/v1/units/\(w.unit)/compartments/\(elsewhere.id)", token: admin,
                        json: body(["size": "S"])
                    ).status == 404)
                let limited = try await w.adminKey(sites: [other.site])
                #expect(try await c.call(.patch, path, token: limited, json: body(["size": "S"])).status == 404)
                #expect(try await w.provisioningCounts() == before)
            }
            let after = try await w.parts.store.read { s in try await s.compartment(free.id) }
            #expect(after?.size == .medium && after?.heightMm == 200 && after?.accessible == true)
            #expect(try await w.auditTypes().filter { $0 == "compartment.changed" }.count == 1)
        }
    }

    @Test(arguments: Backend.available)
    func badLayoutsAreRefusedAndChangeNothing(backend: Backend) async throws {
        func slotLayout(_ change: [String: Any]) -> [String: Any] { layout(columns: 1, rows: 1, extra: change) }
        var labelClash = layout(columns: 2, rows: 2)
        var cols = labelClash["columns"] as! [[String: Any]]
        var firstColumn = cols[0]["compartments"] as! [[String: Any]]
        firstColumn[0]["label"] = "a2"
        cols[0]["compartments"] = firstColumn
        labelClash["columns"] = cols
        var unknownInColumn = layout(columns: 1, rows: 1)
        unknownInColumn["columns"] = [
            [
                "compartments": (layout(columns: 1, rows: 1)["columns"] as! [[String: Any]])[0]["compartments"]!,
                "door": "left",
            ]
        ]
        var missingAccessible = layout(columns: 1, rows: 1)
        missingAccessible["columns"] = [
            ["compartments": [["size": "S", "widthMm": 400, "heightMm": 100, "depthMm": 550]]]
        ]
        let layouts: [(String, [String: Any])] = [
            ("no columns", layout(columns: 0)),
            ("21 columns", layout(columns: 21, rows: 1)),
            ("an empty column", layout(columns: 1, rows: 0)),
            ("21 compartments in a column", layout(columns: 1, rows: 21)),
            ("more than 200 compartments", layout(columns: 11, rows: 19)),
            ("size XXL", slotLayout(["size": "XXL"])),
            ("width 50 mm", slotLayout(["widthMm": 50])),
            ("height 3 m", slotLayout(["heightMm": 3_000])),
            ("depth 0", slotLayout(["depthMm": 0])),
            ("negative width", slotLayout(["widthMm": -400])),
            ("fractional height", slotLayout(["heightMm": 100.5])),
            ("label with a space", slotLayout(["label": "A 1"])),
            ("label too long", slotLayout(["label": "ABCDEFGHI"])),
            ("empty label", slotLayout(["label": ""])),
            ("null label", slotLayout(["label": NSNull()])),
            ("labels equal but for case", labelClash),
            ("unknown field in a compartment", slotLayout(["colour": "red"])),
            ("unknown field in a column", unknownInColumn),
            ("missing accessible", missingAccessible),
            ("accessible as text", slotLayout(["accessible": "yes"])),
            ("missing name", layout(name: nil)),
            ("empty name", layout(name: "")),
        ]
        let bad = layouts.map { ($0.0, body($0.1)) }
        try await TestWorld.with(backend) { w in
            let before = try await w.provisioningCounts()
            try await w.test { c in
                for (name, json) in bad {
                    let r = try await c.call(
                        .post, "/api/v1/sites/\(w.site)/units", token: w.manifest.adminToken, json: json)
                    #expect(
                        r.status == 400 && r.body.str("error") == "invalid_request", "\(name): \(r.status) \(r.body)")
                }
                #expect(
                    try await c.call(
                        .post, "/api/v1/sites/\(UUID().uuidString)/units", token: w.manifest.adminToken,
                        json: body(layout())
                    ).status == 404)
                #expect(
                    try await c.call(
                        .post, "/api/v1/sites/not-an-id/units", token: w.manifest.adminToken, json: body(layout())
                    ).status == 404)
            }
            #expect(try await w.provisioningCounts() == before)
            // The largest layout the bounds allow is built.
            let p = try await w.consolePrincipal()
            let slot = UnitLayout.Slot(size: "S", widthMm: 100, heightMm: 50, depthMm: 100, accessible: false)
            let built = try await w.parts.provisioning.createUnit(
                p, siteId: w.site,
                layout: UnitLayout(
                    name: "Wall",
                    columns: Array(repeating: .init(compartments: Array(repeating: slot, count: 20)), count: 10)))
            #expect(built.compartments.count == 200)
            #expect(Set(built.compartments.map(\.label)).count == 200)
            #expect(built.compartments.contains { $0.label == "J20" })
        }
    }

    @Test(arguments: Backend.available)
    func carrierIsCreatedUpdatedAndDeactivated(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = w.manifest.adminToken
            let other = try await w.otherSite()
            let p = try await w.consolePrincipal()
            try await w.test { c in
                let created = try await c.call(
                    .post, "/api/v1/carriers", token: admin,
                    json: body(["name": "Parcel Post", "siteIds": [w.site, w.site]]))
                #expect(created.status == 201)
                let id = try #require(created.body.str("id"))
                #expect(created.body["siteIds"] as? [String] == [w.site])
                #expect(created.body["active"] as? Bool == true)
                let list = try await c.call(.get, "/api/v1/carriers", token: admin).body["carriers"] as? [[String: Any]]
                #expect(Set((list ?? []).compactMap { $0.str("id") }) == [id, w.manifest.carrierId])
                let moved = try await c.call(
                    .patch, "/api/v1/carriers/\(id)", token: admin,
                    json: body(["name": "Parcel Post Ltd", "siteIds": [other.site]]))
                #expect(moved.status == 200)
                #expect(
                    moved.body["siteIds"] as? [String] == [other.site] && moved.body.str("name") == "Parcel Post Ltd")

                let before = try await w.provisioningCounts()
                let bad: [(String, HTTPRequest.Method, String, String, Int)] = [
                    ("empty name", .post, "/api/v1/carriers", body(["name": "", "siteIds": [w.site]]), 400),
                    ("missing sites", .post, "/api/v1/carriers", body(["name": "X"]), 400),
                    (
                        "a site that is not an id", .post, "/api/v1/carriers", body(["name": "X", "siteIds": ["x"]]),
                        400
                    ),
                    (
                        "an unknown site", .post, "/api/v1/carriers",
                        body(["name": "X", "siteIds": [UUID().uuidString]]), 404
                    ),
                    ("unknown field", .post, "/api/v1/carriers", body(["name": "X", "siteIds": [], "api": true]), 400),
                    ("nothing to change", .patch, "/api/v1/carriers/\(id)", body([:]), 400),
                    ("unknown carrier", .patch, "/api/v1/carriers/\(UUID().uuidString)", body(["name": "Y"]), 404),
                    ("null name", .patch, "/api/v1/carriers/\(id)", body(["name": NSNull()]), 400),
                ]
                for (name, method, path, json, status) in bad {
                    let r = try await c.call(method, path, token: admin, json: json)
                    #expect(r.status == status, "\(name): \(r.status)")
                }
                #expect(try await w.provisioningCounts() == before)

                // The demo carrier deactivated: its courier and integration are refused, and get no new credential.
                #expect(
                    try await c.call(.get, "/api/v1/parcels/\(UUID().uuidString)", token: w.manifest.courierToken)
                        .status == 404)
                let off = try await c.call(.post, "/api/v1/carriers/\(w.manifest.carrierId)/deactivate", token: admin)
                #expect(off.status == 200 && off.body["active"] as? Bool == false)
                #expect(off.body.str("deactivatedAt") != nil)
                let dropoff = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                    json: body(["trackingNumber": "OFF1", "recipientId": w.manifest.recipients[0].id, "size": "S"]))
                #expect(dropoff.status == 401)
                let announce = try await c.call(
                    .post, "/api/v1/parcels", token: w.manifest.carrierToken,
                    json: body([
                        "trackingNumber": "OFF2", "recipientId": w.manifest.recipients[0].id, "size": "S",
                        "unitId": w.unit,
                    ]))
                #expect(announce.status == 401)
                await #expect(throws: StaffError.self) {
                    _ = try await w.staff.issueCredential(
                        p, actor: .console,
                        .init(kind: .courier, label: "Sam", days: 30, carrierId: w.manifest.carrierId))
                }
                let again = try await c.call(.post, "/api/v1/carriers/\(w.manifest.carrierId)/deactivate", token: admin)
                #expect(again.status == 409 && again.body.str("error") == "carrier_deactivated")
                #expect(
                    try await c.call(
                        .patch, "/api/v1/carriers/\(w.manifest.carrierId)", token: admin, json: body(["name": "Z"])
                    ).status == 409)
                // It stays in the list, as deactivated.
                let listed = try await c.call(.get, "/api/v1/carriers/\(w.manifest.carrierId)", token: admin)
                #expect(listed.status == 200 && listed.body["active"] as? Bool == false)
            }
            let types = try await w.auditTypes()
            for t in ["carrier.created", "carrier.updated", "carrier.deactivated"] {
                #expect(types.contains(t), "\(t)")
            }
            let revoked = try await w.parts.store.read { s in
                try await s.credentials(organization: w.manifest.organizationId)
            }
            .filter { $0.carrierId == w.manifest.carrierId }
            #expect(!revoked.isEmpty && revoked.allSatisfy { $0.revokedAt != nil })
        }
    }

    @Test("a name is refused exactly when the document's schema refuses it")
    func nameRuleMatchesTheDocument() async throws {
        let text = String(decoding: try OpenAPIDocument.bytes(), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: "    Line:"))
        let patternLine = try #require(lines[start...].first { $0.hasPrefix("      pattern: '") })
        let regex = try NSRegularExpression(pattern: String(patternLine.drop { $0 != "'" }.dropFirst().dropLast()))
        @Sendable func documentAllows(_ name: String) -> Bool {
            (1...80).contains(name.unicodeScalars.count)
                && regex.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
        }
        let names = [
            "Lobby C", " padded", "padded ", "", "line one\nline two", "trailing\n", "tab\there", "x\u{85}",
            "x\u{2028}y", "bell\u{07}", "del\u{7F}", "\u{A0}nbsp", "nbsp\u{A0}", "ünïcödé ✓", "a",
            String(repeating: "a", count: 80), String(repeating: "a", count: 81),
            String(repeating: "e\u{301}", count: 40),
            String(repeating: "e\u{301}", count: 41),
        ]
        try await TestWorld.with(.sqlite) { w in
            try await w.test { c in
                for name in names {
                    let r = try await c.call(
                        .patch, "/api/v1/units/\(w.unit)", token: w.manifest.adminToken, json: body(["name": name]))
                    #expect((r.status == 200) == documentAllows(name), "\(name.debugDescription): \(r.status)")
                    #expect(r.status == 200 || r.status == 400, "\(name.debugDescription): \(r.status)")
                }
            }
        }
    }

    @Test("the sample layout file is read by the CLI's decoder and built by the desk, as `cubby unit create` does")
    func sampleLayoutFileBuildsAUnit() async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/examples/unit-layout.json")
        let layout = try UnitLayout.decode(try Data(contentsOf: path))
        #expect(layout.name == "Lobby C")
        try await TestWorld.with(.sqlite) { w in
            let p = try await w.consolePrincipal()
            let built = try await w.parts.provisioning.createUnit(
                p, actor: .console, siteId: w.site, layout: layout, name: "Lobby C (sample)")
            #expect(built.unit.name == "Lobby C (sample)")
            #expect(built.compartments.count == 13)
            #expect(
                Set(built.compartments.map(\.label))
                    == ["A1", "A2", "A3", "A4", "A5", "PARCEL1", "B2", "C1", "C2", "C3", "C4", "C5", "C6"])
            #expect(built.compartments.filter(\.accessible).count == 5)
            let events = try await w.parts.store.read { s in
                try await s.auditEvents(from: 0, limit: 1_000).filter {
                    $0.type == "unit.created" && $0.actorRole != "demo"
                }
            }
            #expect(events.count == 1 && events.first?.actorRole == "console")
        }
        // The file's decoder refuses what the API refuses.
        #expect(throws: DomainError.self) { try UnitLayout.decode(Data(#"{"columns":[],"extra":1}"#.utf8)) }
        #expect(throws: DomainError.self) { try UnitLayout.decode(Data("not json".utf8)) }
        #expect(throws: DomainError.self) {
            try UnitLayout.decode(Data(#"{"columns":[{"compartments":[{"size":"S"}]}]}"#.utf8))
        }
    }
}

extension TestWorld {
    func parcelCountIs(_ n: Int) async throws -> Bool { try await counts().parcels == n }
}
