import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A staff webhook subscription whose endpoint refuses every connection, and two deposits: each deposit gets a file
/// delivery (delivered at once) and a webhook delivery (failed, to be retried).
struct DeliveryFixture: Sendable {
    var hook: String
    var parcels: [String]
    /// Per parcel: its file delivery and its webhook delivery.
    var file: [Int64]
    var webhook: [Int64]

    static let hookURL = "http://127.0.0.1:9/hook"

    static func make(_ w: TestWorld) async throws -> DeliveryFixture {
        let hook = try await w.test { c in
            let made = try await WebhookTests.subscribe(
                c, w.manifest.adminToken, url: hookURL, events: ["parcel.deposited"])
            #expect(made.status == 201)
            return try #require(made.body.str("id"))
        }
        var parcels: [String] = []
        for tracking in ["DV1", "DV2"] { parcels.append(try await LockdownTests.dropOff(w, tracking)) }
        try await w.settle()
        var file: [Int64] = []
        var webhook: [Int64] = []
        for parcel in parcels {
            let rows = try await w.parts.store.read { s in
                var all: [DeliveryRecord] = []
                for m in try await s.outboxMessageIds(parcel: parcel) { all += try await s.deliveries(message: m) }
                return all
            }
            let f = try #require(rows.first { $0.channel == "file" })
            let h = try #require(rows.first { $0.channel == StoreSession.webhookChannel })
            #expect(f.state == "delivered")
            #expect(h.state == "failed" && h.attempts == 1 && h.lastError != nil)
            file.append(f.id)
            webhook.append(h.id)
        }
        return DeliveryFixture(hook: hook, parcels: parcels, file: file, webhook: webhook)
    }
}

@Suite("Deliveries: the staff's view of the outbox, retry and redeliver")
struct DeliveryViewTests {
    static func rows(_ r: HTTPResult) -> [[String: Any]] { r.body["deliveries"] as? [[String: Any]] ?? [] }
    static func ids(_ r: HTTPResult) -> [Int64] { rows(r).compactMap { ($0["id"] as? Int).map(Int64.init) } }

    @Test(
        "lists newest first with filters and keyset pages, counts per channel and state, scoped per role",
        arguments: Backend.available)
    func listAndScope(_ backend: Backend) async throws {
        do {
            try await TestWorld.with(backend) { w in
                let m = w.manifest
                let fx = try await DeliveryFixture.make(w)
                let org = try #require(OrganizationID(uuidString: m.organizationId))
                let boss = Principal(role: .superAdmin, credentialId: .make(), organizationId: org)
                let harbour = try await w.parts.provisioning.createSite(
                    boss, .init(name: "Harbour", address: "2 Quay Street", timeZone: "Europe/Lisbon"))
                let (_, siteAdmin) = try await w.parts.staff.issueCredential(
                    boss, actor: .console, .init(kind: .admin, label: "site one", days: 30, sites: [w.site]))
                let (_, harbourAdmin) = try await w.parts.staff.issueCredential(
                    boss, actor: .console, .init(kind: .admin, label: "harbour", days: 30, sites: [harbour.id]))
                let other = try await w.otherOrganization()
                try await w.test { c in
                    let all = try await c.call(.get, "/api/v1/deliveries?limit=200", token: m.adminToken)
                    #expect(all.status == 200)
                    let ids = Self.ids(all)
                    #expect(ids == ids.sorted(by: >), "newest first")
                    #expect(Set(fx.file + fx.webhook).isSubset(of: Set(ids)))
                    #expect(all.body["nextCursor"] is NSNull)
                    // Never a payload, a target's contact data or the delivery's raw target.
                    for row in Self.rows(all) {
                        #expect(row["payload"] == nil && row["target"] == nil)
                        #expect(Set(row.keys).count == 14)
                    }
                    let text = String(decoding: all.data, as: UTF8.self)
                    #expect(!text.contains("example.org") && !text.contains("\"pin\""))

                    // One parcel's messages: the file delivery to its recipient and the webhook delivery.
                    let one = try await c.call(
                        .get, "/api/v1/deliveries?parcelId=\(fx.parcels[0])", token: m.adminToken)
                    let byChannel = Dictionary(
                        uniqueKeysWithValues: Self.rows(one).compactMap { r in r.str("channel").map { ($0, r) } })
                    #expect(Set(byChannel.keys) == ["file", "webhook"])
                    let file = try #require(byChannel["file"])
                    #expect(file.str("kind") == "parcel.deposited" && file.str("state") == "delivered")
                    #expect(file.str("recipientId") == m.recipients[0].id && file["subscriptionId"] is NSNull)
                    #expect(file["nextAttemptAt"] is NSNull && file.str("deliveredAt") != nil)
                    let hook = try #require(byChannel["webhook"])
                    #expect(hook.str("kind") == StoreSession.webhookKind && hook.str("state") == "failed")
                    #expect(hook.str("subscriptionId") == fx.hook && hook["recipientId"] is NSNull)
                    #expect(hook.str("parcelId") == fx.parcels[0] && hook.str("lastError") != nil)
                    #expect(hook.str("nextAttemptAt") != nil && hook["attempts"] as? Int == 1)

                    // Filters: each row passes every one given.
                    for (query, key, value) in [
                        ("channel=webhook", "channel", "webhook"), ("state=failed", "state", "failed"),
                        ("kind=parcel.deposited", "kind", "parcel.deposited"),
                        ("channel=file&state=delivered", "channel", "file"),
                    ] {
                        let r = try await c.call(.get, "/api/v1/deliveries?\(query)", token: m.adminToken)
                        #expect(r.status == 200 && !Self.rows(r).isEmpty, "\(query)")
                        #expect(Self.rows(r).allSatisfy { $0.str(key) == value }, "\(query)")
                    }
                    let none = try await c.call(.get, "/api/v1/deliveries?channel=pigeon", token: m.adminToken)
                    #expect(none.status == 200 && Self.rows(none).isEmpty)

                    // Keyset pages of one: every delivery exactly once, in the same order.
                    var paged: [Int64] = []
                    var cursor: String? = nil
                    for _ in 0..<(ids.count + 2) {
                        let r = try await c.call(
                            .get, "/api/v1/deliveries?limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""),
                            token: m.adminToken)
                        #expect(r.status == 200 && Self.ids(r).count <= 1)
                        paged += Self.ids(r)
                        cursor = r.body.str("nextCursor")
                        if cursor == nil { break }
                    }
                    #expect(paged == ids)

                    // The summary counts what the list holds.
                    let summary = try await c.call(.get, "/api/v1/deliveries/summary", token: m.adminToken)
                    #expect(summary.status == 200)
                    let channels = summary.body["channels"] as? [[String: Any]] ?? []
                    for row in channels {
                        let channel = try #require(row.str("channel"))
                        for state in DeliveryState.allCases {
                            let listed = Self.rows(all).filter {
                                $0.str("channel") == channel && $0.str("state") == state.rawValue
                            }.count
                            #expect(row[state.rawValue] as? Int == listed, "\(channel) \(state)")
                        }
                    }
                    #expect(
                        summary.body.obj("total")?["failed"] as? Int
                            == Self.rows(all).filter {
                                $0.str("state") == "failed"
                            }.count)

                    // An administrator of the site sees its recipients' deliveries, not the organization-wide
                    // subscription's; one of another site sees none of them, and their ids do not exist for it.
                    let mine = Set(Self.ids(try await c.call(.get, "/api/v1/deliveries?limit=200", token: siteAdmin)))
                    #expect(Set(fx.file).isSubset(of: mine) && mine.isDisjoint(with: fx.webhook))
                    let harbourList = try await c.call(.get, "/api/v1/deliveries", token: harbourAdmin)
                    #expect(harbourList.status == 200 && Self.rows(harbourList).isEmpty)
                    let harbourSummary = try await c.call(.get, "/api/v1/deliveries/summary", token: harbourAdmin)
                    #expect((harbourSummary.body["channels"] as? [Any])?.isEmpty == true)
                    for id in [fx.file[0], fx.webhook[0]] {
                        for action in ["retry", "redeliver"] {
                            let r = try await c.call(.post, "/api/v1/deliveries/\(id)/\(action)", token: harbourAdmin)
                            #expect(r.status == 404 && r.body.str("error") == "not_found", "\(action) \(id)")
                        }
                    }
                    let hookOfTheOrganization = try await c.call(
                        .post, "/api/v1/deliveries/\(fx.webhook[0])/retry", token: siteAdmin)
                    #expect(hookOfTheOrganization.status == 404)
                    // Another organization's super-administrator: none of these exist.
                    let theirs = Set(
                        Self.ids(try await c.call(.get, "/api/v1/deliveries?limit=200", token: other.adminToken)))
                    #expect(theirs.isDisjoint(with: fx.file + fx.webhook))
                    let foreign = try await c.call(
                        .post, "/api/v1/deliveries/\(fx.webhook[0])/retry", token: other.adminToken)
                    #expect(foreign.status == 404)

                    // The auditor reads, changes nothing; couriers, carriers and devices see nothing.
                    let audited = try await c.call(.get, "/api/v1/deliveries", token: m.auditorToken)
                    #expect(audited.status == 200 && Set(fx.file).isSubset(of: Set(Self.ids(audited))))
                    let refused = try await c.call(
                        .post, "/api/v1/deliveries/\(fx.webhook[0])/retry", token: m.auditorToken)
                    #expect(refused.status == 403)
                    for token in [m.courierToken, m.carrierToken, w.device] {
                        #expect(try await c.call(.get, "/api/v1/deliveries", token: token).status == 403)
                        #expect(try await c.call(.get, "/api/v1/deliveries/summary", token: token).status == 403)
                        let r = try await c.call(.post, "/api/v1/deliveries/\(fx.file[0])/redeliver", token: token)
                        #expect(r.status == 403)
                    }
                }
            }
        }
    }

    @Test(
        "retry makes a waiting delivery due now; redeliver sends a final one again unless its sealed message is erased",
        arguments: Backend.available)
    func retryAndRedeliverRules(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let fx = try await DeliveryFixture.make(w)
            let (wid, fid) = (fx.webhook[0], fx.file[0])
            func stored(_ id: Int64) async throws -> DeliveryRecord {
                try #require(try await w.parts.store.read { s in try await s.delivery(id) })
            }
            func post(_ id: Int64, _ action: String) async throws -> HTTPResult {
                try await w.test { c in
                    try await c.call(.post, "/api/v1/deliveries/\(id)/\(action)", token: m.adminToken)
                }
            }
            w.clock.advance(1)
            let now = w.clock.now.millisecondsSince1970
            let before = try await stored(wid)
            #expect(before.nextAttemptAt > now, "the failed delivery waits for its backoff")

            // A failed delivery: retry makes it due now and keeps its attempts; redeliver is for final ones.
            let retried = try await post(wid, "retry")
            #expect(retried.status == 200 && retried.body.str("state") == "failed")
            #expect(retried.body["attempts"] as? Int == 1)
            #expect(try await stored(wid).nextAttemptAt == now)
            let notFinal = try await post(wid, "redeliver")
            #expect(notFinal.status == 409 && notFinal.body.str("error") == "delivery_not_final")

            // A delivered parcel-ready message held a PIN: erased once final, so it is never sent again.
            let final = try await post(fid, "retry")
            #expect(final.status == 409 && final.body.str("error") == "delivery_final")
            let erased = try await post(fid, "redeliver")
            #expect(erased.status == 409 && erased.body.str("error") == "message_erased")
            #expect(try await stored(fid).state == "delivered")

            // The retry ran: one more refused attempt.
            try await w.settle()
            #expect(try await stored(wid).attempts == 2)

            // Being sent: neither.
            let lease = try await w.parts.store.write { s in
                try await s.claimDeliveries(
                    channel: StoreSession.webhookChannel, now: now + Milliseconds.day,
                    leaseUntil: now + 2 * Milliseconds.day, token: "held", limit: 10)
            }
            let held = try #require(lease.first { $0.id == wid })
            for action in ["retry", "redeliver"] {
                let r = try await post(wid, action)
                #expect(r.status == 409 && r.body.str("error") == "delivery_in_progress", "\(action)")
            }
            // Dead: redeliver sends it again with the same message id and a new span.
            try await w.parts.store.write { s in
                for d in lease {
                    try await s.finishDelivery(d, state: .dead, retryAt: nil, error: "given up", at: now)
                }
            }
            let again = try await post(wid, "redeliver")
            #expect(again.status == 200 && again.body.str("state") == "pending")
            #expect(again.body.str("messageId") == held.messageId)
            #expect(try await stored(wid).nextAttemptAt == now)

            // A disabled subscription's deliveries are given up and not sent again.
            try await w.test { c in
                let off = try await c.call(
                    .patch, "/api/v1/webhooks/\(fx.hook)", token: m.adminToken, json: #"{"enabled":false}"#)
                #expect(off.status == 200)
            }
            #expect(try await stored(wid).state == "dead")
            let disabled = try await post(wid, "redeliver")
            #expect(disabled.status == 409 && disabled.body.str("error") == "webhook_disabled")

            // A recipient's message whose other delivery is still waiting keeps its sealed payload: a dead delivery
            // of it is sent again. The error a relay gave is shown with the address masked.
            let message = EntityID.make()
            let recipient = m.recipients[1].id
            let dead = try await w.parts.store.write { s -> Int64 in
                try await s.enqueueNotification(
                    id: message, kind: "parcel.deposited", recipient: recipient, parcel: nil,
                    payload: Data("sealed".utf8), channels: ["file", "sms"], at: now)
                let claimed = try await s.claimDeliveries(
                    channel: "file", now: now, leaseUntil: now + Milliseconds.minute, token: "mine", limit: 50)
                let d = try #require(claimed.first { $0.messageId == message })
                try await s.finishDelivery(
                    d, state: .dead, retryAt: nil,
                    error: "the relay answered 550 to rcpt-to: <resident2@example.org> unknown; sms +15550100199",
                    at: now)
                return d.id
            }
            let listed = try await w.test { c in
                try await c.call(.get, "/api/v1/deliveries?channel=file&state=dead", token: m.adminToken)
            }
            let row = try #require(Self.rows(listed).first { ($0["id"] as? Int).map(Int64.init) == dead })
            #expect(row.str("lastError") == "the relay answered 550 to rcpt-to: [address] unknown; sms +[number]")
            #expect(row.str("recipientId") == recipient)
            let resent = try await post(dead, "redeliver")
            #expect(resent.status == 200 && resent.body.str("state") == "pending")

            for bad in ["abc", "0", "-1", "99999999", "1.5", "99999999999999999999"] {
                let r = try await w.test { c in
                    try await c.call(.post, "/api/v1/deliveries/\(bad)/retry", token: m.adminToken)
                }
                #expect(r.status == 404, "delivery \(bad): \(r.status)")
            }

            // Each action is audited with ids only.
            let audit = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
            let retries = audit.filter { $0.type == AuditEventType.deliveryRetried.rawValue }
            let resends = audit.filter { $0.type == AuditEventType.deliveryRedelivered.rawValue }
            #expect(retries.count == 1 && resends.count == 2)
            #expect(
                retries.first?.detailMap["deliveryId"] == String(wid) && retries.first?.detailMap["was"] == "failed")
            #expect(resends.first?.detailMap["subscriptionId"] == fx.hook)
            #expect(resends.allSatisfy { !$0.detailMap.values.contains { $0.contains("@") } })
        }
    }

    @Test("the portal's Deliveries and Webhooks pages: tables, Retry now with the form token, read-only for auditors")
    func portalPages() async throws {
        try await TestWorld.with(.sqlite) { w in
            let fx = try await DeliveryFixture.make(w)
            let (wid, fid) = (fx.webhook[0], fx.file[0])
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let auditor = try await w.staffMember("audit@example.org", .auditor, sites: [w.site])
            let form = "application/x-www-form-urlencoded"
            try await w.test { c in
                let page = try await c.call(.get, "/admin/deliveries", cookie: "cubby_session=\(boss.session)")
                #expect(page.status == 200)
                let html = String(decoding: page.data, as: UTF8.self)
                #expect(html.contains("Deliveries per channel and state"))
                #expect(html.contains("href=\"/admin/deliveries\"") && html.contains("href=\"/admin/webhooks\""))
                #expect(html.contains("action=\"/admin/deliveries/\(wid)/retry\""))
                #expect(!html.contains("action=\"/admin/deliveries/\(fid)/redeliver\""), "its code is erased")
                #expect(!html.contains("resident1@example.org"))

                let filtered = try await c.call(
                    .get, "/admin/deliveries?channel=webhook&state=failed", cookie: "cubby_session=\(boss.session)")
                let only = String(decoding: filtered.data, as: UTF8.self)
                #expect(filtered.status == 200 && only.contains("<th scope=\"row\">\(wid)</th>"))
                #expect(!only.contains("<th scope=\"row\">\(fid)</th>"))
                let bad = try await c.call(
                    .get, "/admin/deliveries?state=lost", cookie: "cubby_session=\(boss.session)")
                #expect(bad.status == 400)

                let before = try #require(try await w.parts.store.read { s in try await s.delivery(wid) })
                let forged = try await c.call(
                    .post, "/admin/deliveries/\(wid)/retry", json: "csrf=x", contentType: form,
                    cookie: "cubby_session=\(boss.session)")
                #expect(forged.status == 403)
                #expect(try await w.parts.store.read { s in try await s.delivery(wid) } == before)
                let csrf = w.parts.keys.formToken("s:" + boss.session)
                let done = try await c.call(
                    .post, "/admin/deliveries/\(wid)/retry", json: "csrf=\(csrf)&back=webhooks", contentType: form,
                    cookie: "cubby_session=\(boss.session)")
                #expect(done.status == 303 && done.headers[.location] == "/admin/webhooks?done=retried")
                #expect(
                    try await w.parts.store.read { s in try await s.delivery(wid) }?.nextAttemptAt
                        == w.clock.now.millisecondsSince1970)
                let refusedAgain = try await c.call(
                    .post, "/admin/deliveries/\(fid)/redeliver", json: "csrf=\(csrf)", contentType: form,
                    cookie: "cubby_session=\(boss.session)")
                #expect(refusedAgain.status == 409)

                let hooks = try await c.call(
                    .get, "/admin/webhooks?done=retried", cookie: "cubby_session=\(boss.session)")
                let hooksHTML = String(decoding: hooks.data, as: UTF8.self)
                #expect(hooks.status == 200 && hooksHTML.contains(DeliveryFixture.hookURL))
                #expect(hooksHTML.contains("The delivery is due now") && hooksHTML.contains("Enabled"))
                #expect(hooksHTML.contains("action=\"/admin/deliveries/\(wid)/retry\""))

                // The auditor reads the same pages without a button, and cannot post the form.
                let read = try await c.call(.get, "/admin/deliveries", cookie: "cubby_session=\(auditor.session)")
                let readHTML = String(decoding: read.data, as: UTF8.self)
                #expect(read.status == 200 && readHTML.contains("<th scope=\"row\">\(fid)</th>"))
                #expect(!readHTML.contains("Retry now") && !readHTML.contains("<button type=\"submit\">Redeliver"))
                let auditorHooks = try await c.call(
                    .get, "/admin/webhooks", cookie: "cubby_session=\(auditor.session)")
                #expect(auditorHooks.status == 200)
                #expect(!String(decoding: auditorHooks.data, as: UTF8.self).contains(DeliveryFixture.hookURL))
                let auditorCSRF = w.parts.keys.formToken("s:" + auditor.session)
                let no = try await c.call(
                    .post, "/admin/deliveries/\(wid)/retry", json: "csrf=\(auditorCSRF)", contentType: form,
                    cookie: "cubby_session=\(auditor.session)")
                #expect(no.status == 403)
            }
        }
    }
}
