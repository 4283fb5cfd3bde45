import CubbyCore
import CubbyDemo
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import CubbyServer

/// On-call lists, staff phone numbers, and alerts that page the people on call and escalate until acknowledged.
@Suite("On call and escalation")
struct OnCallTests {
    static func pager(_ w: TestWorld) -> AlertPager {
        AlertPager(ledger: w.parts.desk.ledger, interval: .seconds(60), logger: TestWorld.logger)
    }

    /// Pages of alerts written to the outbox: (channel, target) of each delivery, in order.
    static func pageDeliveries(_ w: TestWorld) async throws -> [(channel: String, target: String)] {
        let all = try await w.parts.store.read { s in try await s.deliveries() }
        return all.filter { $0.channel.hasPrefix("staff-") }.sorted { $0.id < $1.id }.map { ($0.channel, $0.target) }
    }

    static func onCallBody(_ contacts: [[String: Any]], delay: Int? = nil) throws -> String {
        var body: [String: Any] = ["contacts": contacts]
        if let delay { body["escalationDelaySeconds"] = delay }
        return String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
    }

    @Test(
        "an on-call list names active staff of the site by id or email; bad lists get a 400 and change nothing",
        arguments: Backend.available)
    func onCallList(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let site = w.manifest.siteId
            let first = try await w.staffMember("first@example.org", .admin, sites: [site])
            let second = try await w.staffMember("second@example.org", .admin, sites: [site])
            let elsewhere = try await w.parts.provisioning.createSite(
                try principal(w, .superAdmin),
                ProvisioningDesk.SiteInput(name: "Annex", address: "2 Side St", timeZone: "UTC"))
            let outsider = try await w.staffMember("outsider@example.org", .admin, sites: [elsewhere.id])
            let admin = w.manifest.adminToken
            let path = "/api/v1/sites/\(site)/on-call"
            try await w.test { c in
                let empty = try await c.call(.get, path, token: admin)
                #expect(empty.status == 200)
                #expect((empty.body["contacts"] as? [Any])?.isEmpty == true)
                #expect(empty.body["escalationDelaySeconds"] as? Int == 300)

                // Shapes the document refuses get 400; an unknown staff member 404; a list that breaks a rule 409.
                let refused: [(String, Int)] = [
                    (try Self.onCallBody([["email": "first@example.org", "channels": ["pager"]]]), 400),
                    (try Self.onCallBody([["email": "first@example.org", "channels": ["sms"]]]), 409),  // no phone yet
                    (try Self.onCallBody([["email": "outsider@example.org", "channels": ["email"]]]), 409),
                    (try Self.onCallBody([["email": "nobody@example.org", "channels": ["email"]]]), 404),
                    (try Self.onCallBody([["email": "first@example.org", "channels": []]]), 400),
                    (
                        try Self.onCallBody([
                            ["email": "first@example.org", "channels": ["email"], "severities": ["loud"]]
                        ]), 400
                    ),
                    (
                        try Self.onCallBody([
                            ["email": "first@example.org", "channels": ["email"]],
                            ["accountId": first.account.id, "channels": ["email"]],
                        ]), 409
                    ),
                    (
                        try Self.onCallBody(
                            [["email": "first@example.org", "accountId": first.account.id, "channels": ["email"]]]), 400
                    ),
                    (try Self.onCallBody([["email": "first@example.org", "channels": ["email"], "pager": true]]), 400),
                    (try Self.onCallBody([["email": "first@example.org", "channels": ["email"]]], delay: 0), 400),
                    (
                        #"{"contacts":[{"email":"first@example.org","channels":["email"]}],"escalationDelaySeconds":null}"#,
                        400
                    ),
                    (#"{"contacts":"first@example.org"}"#, 400),
                    (#"{"escalationDelaySeconds":60}"#, 400),
                ]
                for (body, status) in refused {
                    let r = try await c.call(.put, path, token: admin, json: body)
                    #expect(r.status == status, "\(body) → \(r.status)")
                }
                #expect(try await c.call(.get, path, token: admin).body["contacts"] as? [Any] != nil)
                #expect((try await c.call(.get, path, token: admin).body["contacts"] as? [Any])?.isEmpty == true)
                _ = outsider

                // Phone numbers: sealed, E.164, set before SMS can be chosen.
                await #expect(throws: DomainError.self) {
                    try await w.staff.setPhone(email: "first@example.org", phone: "555-0100")
                }
                try await w.staff.setPhone(email: "first@example.org", phone: "+1 (555) 010-0199")
                let raw = try await w.parts.store.read { s in try await s.staffContact(account: first.account.id) }
                let sealed = try #require(raw?.contact)
                #expect(!String(decoding: sealed, as: UTF8.self).contains("5550100199"))
                #expect(try await w.parts.onCall.contact(account: first.account.id)?.phone == "+15550100199")

                let ok = try await c.call(
                    .put, path, token: admin,
                    json: try Self.onCallBody(
                        [
                            ["email": "FIRST@example.org", "channels": ["email", "sms"]],
                            ["accountId": second.account.id, "channels": ["email"], "severities": ["critical"]],
                        ], delay: 120))
                #expect(ok.status == 200)
                let contacts = try #require(ok.body["contacts"] as? [[String: Any]])
                #expect(contacts.map { $0["email"] as? String } == ["first@example.org", "second@example.org"])
                #expect(contacts[0]["hasPhone"] as? Bool == true && contacts[1]["hasPhone"] as? Bool == false)
                #expect(contacts[0]["severities"] as? [String] == ["critical", "warning"])
                #expect(ok.body["escalationDelaySeconds"] as? Int == 120)

                // Auditors read it and change nothing; another organization's site does not exist.
                #expect(try await c.call(.get, path, token: w.manifest.auditorToken).status == 200)
                #expect(
                    try await c.call(.put, path, token: w.manifest.auditorToken, json: try Self.onCallBody([]))
                        .status == 403)
                #expect(
                    try await c.call(.get, "/api/v1/sites/\(UUID().uuidString)/on-call", token: admin).status == 404)
            }
            // A number still used for SMS pages cannot be removed.
            await #expect(throws: DomainError.self) {
                try await w.staff.setPhone(email: "first@example.org", phone: nil)
            }
            let types = try await w.auditTypes()
            #expect(types.filter { $0 == "site.on_call_changed" }.count == 1)
            #expect(types.filter { $0 == "staff.contact_changed" }.count == 1)
        }
    }

    @Test(
        "a new alert pages the first contact at once; unacknowledged, the next after the delay, round the list; acknowledging stops it",
        arguments: Backend.available)
    func escalation(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let site = w.manifest.siteId
            let first = try await w.staffMember("first@example.org", .admin, sites: [site])
            let second = try await w.staffMember("second@example.org", .superAdmin)
            try await w.staff.setPhone(email: "first@example.org", phone: "+15550100199")
            let admin = w.manifest.adminToken
            try await w.test { c in
                let hook = try await WebhookTests.subscribe(
                    c, admin, url: "http://127.0.0.1:9/hook", events: ["alert.escalated"])
                #expect(hook.status == 201)
                #expect(
                    try await c.call(
                        .put, "/api/v1/sites/\(site)/on-call", token: admin,
                        json: try Self.onCallBody(
                            [
                                ["accountId": first.account.id, "channels": ["email", "sms"]],
                                ["accountId": second.account.id, "channels": ["email"]],
                            ], delay: 300)
                    ).status == 200)
            }
            let alert = try await UnitServiceTests.alert(w)
            let pager = Self.pager(w)
            #expect(try await pager.pageDue() == 1)
            var pages = try await Self.pageDeliveries(w)
            #expect(pages.map(\.channel) == ["staff-email", "staff-sms"])
            #expect(pages.allSatisfy { $0.target == first.account.id })
            // Nothing more until the delay passes, when the pager is to look again.
            #expect(try await pager.pageDue() == 0)
            let due = try await w.parts.store.read { s in try await s.nextAlertPageDue() }
            #expect(due == w.clock.now.millisecondsSince1970 + 300_000)
            w.clock.advance(299)
            #expect(try await pager.pageDue() == 0)
            w.clock.advance(2)
            #expect(try await pager.pageDue() == 1)
            pages = try await Self.pageDeliveries(w)
            #expect(pages.count == 3 && pages[2] == ("staff-email", second.account.id))
            // Round the list again: the first contact.
            w.clock.advance(301)
            #expect(try await pager.pageDue() == 1)
            #expect(try await Self.pageDeliveries(w).count == 5)

            try await w.test { c in
                let detail = try await c.call(.get, "/api/v1/alerts/\(alert)", token: admin)
                #expect(detail.status == 200)
                let steps = (detail.body["pages"] as? [[String: Any]] ?? []).compactMap { $0["accountId"] as? String }
                #expect(steps == [first.account.id, second.account.id, first.account.id])
                #expect(detail.body["severity"] as? String == "critical")
                #expect(detail.body["nextPageAt"] is String)
                let ack = try await c.call(
                    .post, "/api/v1/alerts/\(alert)/acknowledge", token: admin, json: #"{"note":"on my way"}"#)
                #expect(ack.status == 200)
                let after = try await c.call(.get, "/api/v1/alerts/\(alert)", token: admin)
                #expect(after.body["acknowledgeNote"] as? String == "on my way")
                #expect(after.body["nextPageAt"] is NSNull)
            }
            w.clock.advance(3600)
            #expect(try await pager.pageDue() == 0)
            #expect(try await Self.pageDeliveries(w).count == 5)
            #expect(try await w.parts.store.read { s in try await s.nextAlertPageDue() } == nil)

            let types = try await w.auditTypes()
            #expect(types.filter { $0 == "alert.paged" }.count == 1)
            #expect(types.filter { $0 == "alert.escalated" }.count == 2)
            let hooks = try await w.parts.store.read { s in try await s.deliveries(channel: "webhook") }
            #expect(hooks.count == 2)

            // The pages went out (here to the notification file, as no SMTP relay or SMS gateway is set).
            try await w.parts.outbox.deliverDue()
            let lines = try String(contentsOfFile: w.notifyFile, encoding: .utf8).split(separator: "\n")
            #expect(lines.filter { $0.contains("\"alert.page\"") }.count == 5)
        }
    }

    @Test(
        "contacts get only the severities they chose; a storm of signals is one page; a unit offline turns critical after an hour",
        arguments: Backend.available)
    func severities(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let site = w.manifest.siteId
            let critical = try await w.staffMember("critical@example.org", .admin, sites: [site])
            _ = try await w.parts.onCall.replace(
                try principal(w, .admin), siteId: site,
                contacts: [
                    .init(accountId: critical.account.id, email: nil, channels: ["email"], severities: ["critical"])
                ],
                delaySeconds: 60)
            let pager = Self.pager(w)
            // A lock fault is a warning: nobody takes it; it is looked at again a delay later.
            _ = try await UnitServiceTests.alert(w, kind: "compartment_fault")
            #expect(try await pager.pageDue() == 1)
            #expect(try await Self.pageDeliveries(w).isEmpty)

            // A storm of tamper signals is one alert and one page.
            let unit = try #require(try await w.parts.store.read { s in try await s.unit(w.unit) })
            for _ in 0..<5 {
                _ = try await w.parts.store.write { s in
                    try await s.raiseAlert(
                        AlertRecord(
                            id: EntityID.make(), organizationId: unit.organizationId, siteId: unit.siteId,
                            unitId: unit.id, compartmentId: nil, kind: "tamper", detail: "tamper signal (pry)",
                            createdAt: w.clock.now.millisecondsSince1970))
                }
            }
            #expect(try await pager.pageDue() == 1)
            #expect(try await Self.pageDeliveries(w).count == 1)

            // A unit offline: a warning at first, critical after an hour, when the critical-only contact is paged.
            _ = try await UnitServiceTests.alert(w, kind: "unit_offline")
            w.clock.advance(61)
            _ = try await pager.pageDue()
            let beforeHour = try await Self.pageDeliveries(w).count
            w.clock.advance(3600)
            _ = try await pager.pageDue()
            let pages = try await w.parts.store.read { s in
                try await s.alerts(organization: w.manifest.organizationId, resolved: false, limit: 10)
            }
            let offline = try #require(pages.first { $0.kind == "unit_offline" })
            let offlinePages = try await w.parts.store.read { s in try await s.alertPages(alert: offline.id) }
            #expect(offlinePages.count == 1 && offlinePages[0].severity == "critical")
            #expect(try await Self.pageDeliveries(w).count > beforeHour)
        }
    }

    @Test("a page says what, where, when in the site's time zone, what the unit did, and links to the alert page")
    func pageWording() {
        var alert = AlertRecord(
            id: "a1", organizationId: "o", siteId: "s", unitId: "u", compartmentId: "c", kind: "tamper",
            detail: "tamper signal (pry) at Lobby A; the unit locked itself down", createdAt: 1_796_389_200_000)
        alert.signals = 3
        alert.lastSignalAt = 1_796_389_260_000
        let facts = AlertPageFacts(
            alert: alert, severity: "critical", step: 1, siteName: "Maple Court", siteAddress: "1 Main St",
            timeZone: "America/New_York", unitName: "Lobby A", compartmentLabel: "B3", lockedDownAt: 1_796_389_200_000,
            link: "https://cubby.example.org/admin/alerts/a1")
        #expect(facts.subject == "[CRITICAL] Tamper signal: unit Lobby A, compartment B3, Maple Court")
        let text = facts.emailText
        #expect(text.contains("2026-12-04 08:00:00 UTC-05:00 (America/New_York)"))
        #expect(text.contains("Signals: 3"))
        #expect(text.contains("locked down since 2026-12-04 08:00 UTC-05:00"))
        #expect(text.contains("https://cubby.example.org/admin/alerts/a1"))
        #expect(text.contains("Nobody acknowledged the alert"))
        let sms = facts.smsText
        #expect(
            sms.hasPrefix(
                "CRITICAL Tamper signal: unit Lobby A, compartment B3, Maple Court, 2026-12-04 08:00 UTC-05:00."))
        #expect(sms.contains("Unit locked down.") && sms.hasSuffix("/admin/alerts/a1"))
    }
}
