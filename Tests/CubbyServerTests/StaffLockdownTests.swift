import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Testing

/// Staff lock a unit or a whole site down from the server; lifting it takes a person with a fresh second factor (the
/// portal) or a break-glass release at the console.
@Suite("lockdown ordered by staff, and its release")
struct StaffLockdownTests {
    static func events(_ w: TestWorld, _ type: String) async throws -> [StoredAuditEvent] {
        try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }.filter { $0.type == type }
    }

    @Test(
        "an administrator locks a unit down: pickups stop, an alert is raised, the unit gets a command; asking again changes nothing",
        arguments: Backend.available)
    func lockUnit(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            _ = try await LockdownTests.dropOff(w, "STAFF1")
            try await w.settle()
            let qr = try #require(try w.notifications().first?["qr"])
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/lockdown", token: m.adminToken, json: #"{"reason":"fire drill"}"#)
                #expect(r.status == 200)
                #expect(r.body.str("unitId") == w.unit)
                #expect(r.body["lockedDown"] as? Bool == true)
                #expect(r.body["alreadyLockedDown"] as? Bool == false)
                let pick = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(qr)"}"#)
                #expect(pick.status == 409)
                #expect(pick.body.str("error") == "unit_locked_down")
                let again = try await c.call(.post, "/api/v1/units/\(w.unit)/lockdown", token: m.adminToken, json: "{}")
                #expect(again.status == 200)
                #expect(again.body["alreadyLockedDown"] as? Bool == true)
            }
            let locked = try await Self.events(w, "unit.locked_down")
            #expect(locked.count == 1)
            #expect(String(decoding: locked[0].canonical, as: UTF8.self).contains("staff: fire drill"))
            let nowMs = w.clock.now.millisecondsSince1970
            let (unit, alerts, commands) = try await w.parts.store.read { s in
                (
                    try await s.unit(w.unit), try await s.alerts(unit: w.unit),
                    try await s.pendingUnitCommands(unit: w.unit, now: nowMs)
                )
            }
            #expect(unit?.lockdownReason == "staff: fire drill")
            #expect(alerts.filter { $0.kind == "lockdown" }.count == 1)
            #expect(commands.map(\.kind) == ["lockdown"])
        }
    }

    @Test(
        "a site's lockdown locks every unit of the site; an id outside the caller's reach is 404",
        arguments: Backend.available)
    func lockSite(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/sites/\(w.site)/lockdown", token: w.manifest.adminToken, json: "{}")
                #expect(r.status == 200)
                let units = try #require(r.body["units"] as? [[String: Any]])
                #expect(Set(units.compactMap { $0["unitId"] as? String }) == Set(w.manifest.units.map(\.id)))
                let other = try await c.call(
                    .post, "/api/v1/sites/\(UUID().uuidString.lowercased())/lockdown", token: w.manifest.adminToken,
                    json: "{}")
                #expect(other.status == 404)
            }
            let units = try await w.parts.store.read { s in try await s.units(site: w.site) }
            #expect(!units.isEmpty && units.allSatisfy { $0.lockedDownAt != nil && $0.lockdownReason == "staff" })
            #expect(try await Self.events(w, "unit.locked_down").count == units.count)
        }
    }

    @Test(
        "a bad reason is refused and locks nothing; couriers and auditors may not lock down",
        arguments: Backend.available)
    func refusals(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            try await w.test { c in
                for body in [
                    #"{"reason":"two\nlines"}"#, #"{"reason":null}"#, #"{"why":"x"}"#,
                    #"{"reason":"\#(String(repeating: "x", count: 201))"}"#,
                ] {
                    let r = try await c.call(.post, "/api/v1/units/\(w.unit)/lockdown", token: m.adminToken, json: body)
                    #expect(r.status == 400, "\(body)")
                }
                for token in [m.courierToken, m.auditorToken, w.device] {
                    let r = try await c.call(.post, "/api/v1/units/\(w.unit)/lockdown", token: token, json: "{}")
                    #expect(r.status == 403)
                }
            }
            #expect(try await w.parts.store.read { s in try await s.unit(w.unit)?.lockedDownAt } == nil)
            #expect(try await Self.events(w, "unit.locked_down").isEmpty)
        }
    }

    @Test(
        "an API credential cannot lift a lockdown (403 step_up_required); the console's break-glass release can, audited and alerted",
        arguments: Backend.available)
    func release(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            _ = try await w.parts.edges.lockDownFromConsole(unitId: w.unit, reason: nil)
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/lockdown/release", token: w.manifest.adminToken)
                #expect(r.status == 403)
                #expect(r.body.str("error") == "step_up_required")
            }
            #expect(try await w.parts.store.read { s in try await s.unit(w.unit)?.lockedDownAt } != nil)
            _ = try await w.parts.edges.releaseLockdownFromConsole(unitId: w.unit)
            #expect(try await w.parts.store.read { s in try await s.unit(w.unit)?.lockedDownAt } == nil)
            let released = try await Self.events(w, "unit.lockdown_released")
            #expect(released.count == 1)
            #expect(String(decoding: released[0].canonical, as: UTF8.self).contains(#""breakGlass":"true""#))
            let alerts = try await w.parts.store.read { s in try await s.alerts(unit: w.unit) }.map(\.kind)
            #expect(alerts.contains("lockdown_break_glass"))
        }
    }
}

@Suite("lockdown from the management portal")
struct PortalLockdownTests {
    @Test("the dashboard offers lockdown per unit and per site; the forms lock down, a form without its token does not")
    func portalForms() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("lock@example.org", .superAdmin)
            let csrf = w.parts.keys.formToken("s:" + m.session)
            let cookie = "cubby_session=\(m.session)"
            try await w.test { c in
                let page = try await c.call(.get, "/admin/dashboard", cookie: cookie)
                #expect(page.status == 200)
                let html = String(decoding: page.data, as: UTF8.self)
                #expect(html.contains(#"action="/admin/units/\#(w.unit)/lockdown""#))
                #expect(html.contains(#"action="/admin/sites/\#(w.site)/lockdown""#))

                let forged = try await c.call(
                    .post, "/admin/units/\(w.unit)/lockdown", json: "reason=x",
                    contentType: "application/x-www-form-urlencoded", cookie: cookie)
                #expect(forged.status == 403)
                #expect(try await w.parts.store.read { s in try await s.unit(w.unit)?.lockedDownAt } == nil)

                let r = try await c.call(
                    .post, "/admin/units/\(w.unit)/lockdown", json: "csrf=\(csrf)&reason=glass%20broken",
                    contentType: "application/x-www-form-urlencoded", cookie: cookie)
                #expect(r.status == 303)
                #expect(r.headers[.location] == "/admin/dashboard?done=locked")
                let unit = try await w.parts.store.read { s in try await s.unit(w.unit) }
                #expect(unit?.lockdownReason == "staff: glass broken")

                let site = try await c.call(
                    .post, "/admin/sites/\(w.site)/lockdown", json: "csrf=\(csrf)",
                    contentType: "application/x-www-form-urlencoded", cookie: cookie)
                #expect(site.status == 303)
                let units = try await w.parts.store.read { s in try await s.units(site: w.site) }
                #expect(units.allSatisfy { $0.lockedDownAt != nil })
                let after = try await c.call(.get, "/admin/dashboard", cookie: cookie)
                let text = String(decoding: after.data, as: UTF8.self)
                #expect(!text.contains(#"action="/admin/units/\#(w.unit)/lockdown""#))
                #expect(text.contains(#"action="/admin/units/\#(w.unit)/release-lockdown""#))
            }
        }
    }
}
