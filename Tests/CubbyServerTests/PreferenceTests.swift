import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Notification preferences: per kind and channel, consent recorded, one-click unsubscribe")
struct PreferenceTests {
    @Test("the rule: the parcel-ready message keeps a channel that reaches the recipient")
    func rule() {
        let all: Set<MessageChannel> = [.email, .sms]
        let none = NotificationPreferences()
        #expect(none.channels(for: .parcelReady, reachable: all) == all)
        let noEmail = none.setting(.parcelReady, .email, on: false)
        #expect(noEmail.refusal(reachable: all) == nil)
        #expect(noEmail.refusal(reachable: [.email]) != nil)
        #expect(noEmail.setting(.parcelReady, .sms, on: false).refusal(reachable: all) != nil)
        #expect(
            none.setting(.reminder, .email, on: false).setting(.reminder, .sms, on: false).refusal(reachable: all)
                == nil)
        #expect(noEmail.setting(.parcelReady, .email, on: true) == none)
        #expect(NotificationPreferences().refusal(reachable: []) == nil, "nobody to protect when nothing reaches them")
    }

    @Test("staff read and change preferences over the API; each change is a consent record and an audit event")
    func api() async throws {
        try await TestWorld.with(.sqlite) { w in
            let r = w.manifest.recipients[0].id
            let admin = w.manifest.adminToken
            try await w.test { c in
                let start = try await c.call(.get, "/api/v1/recipients/\(r)/preferences", token: admin)
                #expect(start.status == 200)
                #expect(start.body["reachable"] as? [String] == ["email"])
                let prefs = try #require(start.body["preferences"] as? [String: [String: Bool]])
                #expect(prefs.count == 4 && prefs.values.allSatisfy { $0 == ["email": true, "sms": true] })
                #expect((start.body["consents"] as? [Any])?.isEmpty == true)

                let put = try await c.call(
                    .put, "/api/v1/recipients/\(r)/preferences", token: admin,
                    json: #"{"preferences": {"reminder": {"email": false}, "pickup_receipt": {"email": true}}}"#)
                #expect(put.status == 200)
                #expect((put.body["preferences"] as? [String: [String: Bool]])?["reminder"]?["email"] == false)
                let consents = try #require(put.body["consents"] as? [[String: Any]])
                #expect(consents.count == 1, "only what changed is recorded")
                #expect(consents.first?["kind"] as? String == "reminder")
                #expect(consents.first?["enabled"] as? Bool == false)
                #expect(consents.first?["source"] as? String == "api")
                #expect((consents.first?["origin"] as? String)?.hasPrefix("api ") == true)

                // The code-carrying message cannot lose its only channel; nothing changes.
                let refused = try await c.call(
                    .put, "/api/v1/recipients/\(r)/preferences", token: admin,
                    json: #"{"preferences": {"parcel_ready": {"email": false}, "expiry": {"email": false}}}"#)
                #expect(refused.status == 409)
                #expect(refused.body.str("error") == "parcel_ready_needs_channel")
                let after = try await c.call(.get, "/api/v1/recipients/\(r)/preferences", token: admin)
                #expect((after.body["preferences"] as? [String: [String: Bool]])?["expiry"]?["email"] == true)
                #expect((after.body["consents"] as? [Any])?.count == 1)

                // With a phone number, SMS can carry it instead.
                let phone = try await c.call(
                    .patch, "/api/v1/recipients/\(r)", token: admin, json: #"{"phone": "+16175550123"}"#)
                #expect(phone.status == 200)
                let switched = try await c.call(
                    .put, "/api/v1/recipients/\(r)/preferences", token: admin,
                    json: #"{"preferences": {"parcel_ready": {"email": false}}}"#)
                #expect(switched.status == 200)
                #expect(switched.body["reachable"] as? [String] == ["email", "sms"])
            }
            let events = try await w.auditTypes().filter { $0 == "recipient.preferences_changed" }
            #expect(events.count == 2)
            let detail = try await w.parts.store.read { s in
                try await s.auditEvents(from: 0, limit: 10_000).last { $0.type == "recipient.preferences_changed" }
            }?.detailMap
            #expect(detail?["changes"] == "parcel_ready.email=off")
            #expect(detail?["source"] == "api")
            #expect(detail?["recipientId"] == r)
        }
    }

    @Test("bad preference requests get a clear 4xx and change nothing")
    func badInput() async throws {
        try await TestWorld.with(.sqlite) { w in
            let r = w.manifest.recipients[0].id
            let admin = w.manifest.adminToken
            let cases: [(String, Int)] = [
                (#"{"preferences": {"newsletter": {"email": false}}}"#, 400),
                (#"{"preferences": {"reminder": {"fax": false}}}"#, 400),
                (#"{"preferences": {"reminder": {"email": "no"}}}"#, 400),
                (#"{"preferences": {}}"#, 400),
                (#"{"preferences": {"reminder": {}}}"#, 400),
                (#"{"preferences": {"reminder": {"email": false}}, "extra": 1}"#, 400),
                (#"["reminder"]"#, 400),
                ("not json", 400),
            ]
            try await w.test { c in
                for (body, status) in cases {
                    let answer = try await c.call(.put, "/api/v1/recipients/\(r)/preferences", token: admin, json: body)
                    #expect(answer.status == status, "\(body): \(answer.status)")
                }
                let missing = try await c.call(
                    .put, "/api/v1/recipients/\(UUID().uuidString)/preferences", token: admin,
                    json: #"{"preferences": {"reminder": {"email": false}}}"#)
                #expect(missing.status == 404)
                #expect(
                    try await c.call(.get, "/api/v1/recipients/\(r)/preferences", token: w.manifest.courierToken)
                        .status == 403)
            }
            let prefs = try await w.parts.store.read { s in try await s.notificationPreferences(recipient: r) }
            #expect(prefs == NotificationPreferences())
            #expect(try await w.auditTypes().isEmpty)
        }
    }

    @Test("one click on an email's unsubscribe link (RFC 8058) stops that kind of email; forged links do nothing")
    func unsubscribe() async throws {
        try await TestWorld.with(.sqlite) { w in
            let r = w.manifest.recipients[1].id
            let desk = w.parts.recipients
            let reminder = desk.unsubscribeToken(recipient: r, kind: .reminder)
            let ready = desk.unsubscribeToken(recipient: r, kind: .parcelReady)
            try await w.test { c in
                let page = try await c.call(.get, "/unsubscribe/\(reminder)")
                #expect(page.status == 200)
                #expect(String(decoding: page.data, as: UTF8.self).contains("reminders about parcels"))
                let click = try await c.call(
                    .post, "/unsubscribe/\(reminder)", json: "List-Unsubscribe=One-Click",
                    contentType: "application/x-www-form-urlencoded")
                #expect(click.status == 200)
                #expect(String(decoding: click.data, as: UTF8.self).contains("no longer"))
                // Clicking again changes nothing more.
                #expect(try await c.call(.post, "/unsubscribe/\(reminder)").status == 200)
                // The only channel of the parcel-ready message stays.
                let kept = try await c.call(.post, "/unsubscribe/\(ready)")
                #expect(kept.status == 409)
                var forged = Array(reminder)
                forged[forged.count - 2] = forged[forged.count - 2] == "A" ? "B" : "A"
                for token in [String(forged), reminder.replacingOccurrences(of: ".reminder.", with: ".expiry."), "x"] {
                    #expect(try await c.call(.post, "/unsubscribe/\(token)").status == 404, "\(token)")
                    #expect(try await c.call(.get, "/unsubscribe/\(token)").status == 404, "\(token)")
                }
            }
            let prefs = try await w.parts.store.read { s in try await s.notificationPreferences(recipient: r) }
            #expect(prefs == NotificationPreferences().setting(.reminder, .email, on: false))
            let consents = try await w.parts.store.read { s in try await s.consents(recipient: r, limit: 10) }
            #expect(consents.count == 1)
            #expect(consents.first?.source == "unsubscribe" && consents.first?.actorKind == "recipient")
            #expect(try await w.auditTypes() == ["recipient.preferences_changed"])
        }
    }

    @Test("a resident sets their own choices on /me/preferences")
    func resident() async throws {
        try await TestWorld.with(.sqlite) { w in
            let token = try await w.residentSignIn()
            let cookie = "cubby_resident=\(token)"
            let csrf = "csrf=" + w.parts.keys.formToken("r:" + token)
            let r = w.manifest.recipients[0].id
            try await w.test { c in
                let page = try await c.call(.get, "/me/preferences", cookie: cookie)
                #expect(page.status == 200)
                let html = String(decoding: page.data, as: UTF8.self)
                #expect(html.contains(#"name="reminder.email" value="on" checked"#))
                #expect(!html.contains("reminder.sms"), "no phone number, no SMS choice")
                // Everything but the parcel-ready and expiry emails switched off.
                let saved = try await c.call(
                    .post, "/me/preferences", json: csrf + "&parcel_ready.email=on&expiry.email=on",
                    contentType: "application/x-www-form-urlencoded", cookie: cookie)
                #expect(saved.status == 200)
                #expect(String(decoding: saved.data, as: UTF8.self).contains("Your choices are saved."))
                let refused = try await c.call(
                    .post, "/me/preferences", json: csrf, contentType: "application/x-www-form-urlencoded",
                    cookie: cookie)
                #expect(refused.status == 409)
                #expect(String(decoding: refused.data, as: UTF8.self).contains("must keep at least one channel"))
                #expect(try await c.call(.get, "/me/preferences").status == 303)
            }
            let prefs = try await w.parts.store.read { s in try await s.notificationPreferences(recipient: r) }
            #expect(
                prefs
                    == NotificationPreferences().setting(.reminder, .email, on: false).setting(
                        .pickupReceipt, .email, on: false))
            let consents = try await w.parts.store.read { s in try await s.consents(recipient: r, limit: 10) }
            #expect(consents.map(\.source) == ["resident", "resident"])
            #expect(consents.allSatisfy { $0.actorKind == "recipient" && $0.actorId == r })
        }
    }
}

@Suite("A recipient's channels for each kind of message")
struct RecipientChannelTests {
    @Test("personal channels follow the preferences; the file and the log always take the message")
    func channels() async throws {
        try await TestWorld.with(.sqlite) { w in
            let r = w.manifest.recipients[0].id
            let p = Principal(
                role: .superAdmin, credentialId: .make(),
                organizationId: try #require(OrganizationID(uuidString: w.manifest.organizationId)),
                siteIds: [try #require(SiteID(uuidString: w.manifest.siteId))])
            _ = try await w.parts.recipients.update(p, id: r, RecipientPatch(phone: .some("+16175550123")))
            try await w.parts.recipients.setPreferences(
                p, id: r,
                [PreferenceChoice(.reminder, .sms, on: false), PreferenceChoice(.parcelReady, .email, on: false)],
                source: .console, origin: "console")
            let all = RecipientChannels(["file", "email", "sms"])
            let ready = try await w.parts.store.read { s in
                try await all.channels(for: .parcelReady, recipient: r, in: s)
            }
            let reminder = try await w.parts.store.read { s in
                try await all.channels(for: .reminder, recipient: r, in: s)
            }
            #expect(ready == ["file", "sms"])
            #expect(reminder == ["file", "email"])
            let plain = try await w.parts.store.read { s in
                try await RecipientChannels(["file"]).channels(for: .parcelReady, recipient: r, in: s)
            }
            #expect(plain == ["file"])
        }
    }
}
