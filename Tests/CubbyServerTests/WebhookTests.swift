import Crypto
import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// A webhook receiver on loopback: records what arrives and answers with the statuses it is given, then 204.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var id: String
        var timestamp: String
        var signatures: [String]
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var type: String? { json["type"] as? String }
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
    }
    let state = Mutex<(received: [Received], answers: [Int])>(([], []))

    func answer(_ statuses: [Int]) { state.withLock { $0.answers.append(contentsOf: statuses) } }
    var received: [Received] { state.withLock { $0.received } }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/hook") { req, _ -> Response in
            var req = req
            let body = try await req.collectBody(upTo: 1 << 20)
            let h = req.headers
            let r = Received(
                id: h[HTTPField.Name("webhook-id")!] ?? "", timestamp: h[HTTPField.Name("webhook-timestamp")!] ?? "",
                signatures: (h[HTTPField.Name("webhook-signature")!] ?? "").split(separator: " ").map(String.init),
                body: Data(body.readableBytesView))
            let status = self.state.withLock { s -> Int in
                s.received.append(r)
                return s.answers.isEmpty ? 204 : s.answers.removeFirst()
            }
            return Response(status: HTTPResponse.Status(code: status))
        }
        return router
    }

    /// Runs `body` with the receiver listening; passes its URL.
    func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let app = Application(
            router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: TestWorld.logger)
        return try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)/hook")
        }
    }

    /// Whether `signature` is the `v1` HMAC-SHA256 of `id.timestamp.body` under the `whsec_` secret.
    static func verifies(_ r: Received, _ signature: String, secret: String) -> Bool {
        guard signature.hasPrefix("v1,"), let key = Data(base64Encoded: String(secret.dropFirst("whsec_".count)))
        else { return false }
        var message = Data("\(r.id).\(r.timestamp).".utf8)
        message.append(r.body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return Data(mac).base64EncodedString() == signature.dropFirst(3)
    }
}

@Suite("Webhooks: subscriptions, signed deliveries, retries, rotation, disabling")
struct WebhookTests {
    static let allEvents = WebhookEventType.allCases.map(\.rawValue)

    static func subscribe(
        _ c: any TestClientProtocol, _ token: String, url: String, events: [String] = allEvents
    ) async throws -> HTTPResult {
        let body = try JSONSerialization.data(withJSONObject: ["url": url, "events": events])
        return try await c.call(.post, "/api/v1/webhooks", token: token, json: String(decoding: body, as: UTF8.self))
    }

    @Test(
        "staff subscriptions of the organization hear security events: a failed sign-in (no address), a lockdown and its release",
        arguments: Backend.available)
    func securityEvents(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let receiver = WebhookReceiver()
            try await receiver.run { url in
                try await w.test { c in
                    let staff = try await Self.subscribe(
                        c, m.adminToken, url: url,
                        events: ["security.sign_in_failed", "security.lockdown", "security.lockdown_released"])
                    #expect(staff.status == 201)
                    let carrier = try await Self.subscribe(
                        c, m.carrierToken, url: url + "?carrier", events: ["security.lockdown"])
                    #expect(carrier.status == 400 || carrier.status == 403, "carriers may not ask for security events")
                }
                let member = try await w.staffMember("watched@example.org", .admin, sites: [w.site])
                await #expect(throws: StaffError.self) {
                    _ = try await w.staff.signIn(
                        email: member.email, password: "not the password", factor: .totp("000000"),
                        address: "192.0.2.44")
                }
                _ = try await w.parts.edges.lockDownFromConsole(unitId: w.unit, reason: "test")
                _ = try await w.parts.edges.releaseLockdownFromConsole(unitId: w.unit)
                try await w.settle()
                let got = receiver.received
                #expect(
                    got.compactMap(\.type).sorted() == [
                        "security.lockdown", "security.lockdown_released", "security.sign_in_failed",
                    ])
                let failed = try #require(got.first { $0.type == "security.sign_in_failed" })
                #expect(failed.data["accountId"] as? String == member.account.id)
                #expect(!String(decoding: failed.body, as: UTF8.self).contains("192.0.2.44"))
                let lockdown = try #require(got.first { $0.type == "security.lockdown" })
                #expect(lockdown.data["unitId"] as? String == w.unit)
                #expect(lockdown.data["reason"] as? String == "staff: test")
            }
        }
    }

    @Test("the Standard Webhooks signature matches the specification's example")
    func specificationVector() throws {
        // The example of the standard-webhooks repository (spec/standard-webhooks.md and its libraries' tests).
        let key = try #require(WebhookSignature.key(of: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let signature = WebhookSignature.sign(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(#"{"test": 2432232314}"#.utf8),
            key: key)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let secret = WebhookSignature.newSecret()
        #expect(secret.hasPrefix("whsec_") && WebhookSignature.key(of: secret)?.count == 32)
        #expect(WebhookSignature.key(of: "whsec_" + Data(count: 8).base64EncodedString()) == nil, "too short")
    }

    @Test(
        "webhook addresses: https to public hosts; private, loopback, link-local and the like refused",
        arguments: [
            ("https://hooks.example.com/x", true), ("https://93.184.215.14/x", true),
            ("https://[2606:4700::1111]/", true),
            ("http://hooks.example.com/x", false), ("ftp://hooks.example.com/", false), ("https://localhost/", false),
            ("https://127.0.0.1/", false), ("https://10.1.2.3/", false), ("https://172.16.0.1/", false),
            ("https://192.168.1.1/", false), ("https://169.254.169.254/latest/meta-data", false),
            ("https://100.64.0.1/", false), ("https://0.0.0.0/", false), ("https://[::1]/", false),
            ("https://[fe80::1]/", false), ("https://[fd00::1]/", false), ("https://[::ffff:127.0.0.1]/", false),
            ("https://[::ffff:10.0.0.1]/", false), ("https://user:pw@hooks.example.com/", false),
            ("https://hooks.example.com/#frag", false), ("hooks.example.com", false), ("", false),
            ("https://printer.local/", false),
        ])
    func addressRules(_ url: String, _ allowed: Bool) {
        let rules = WebhookAddressRules(allowPrivate: false)
        #expect(((try? rules.check(url)) != nil) == allowed, "\(url)")
    }

    @Test("with private addresses allowed, plain http goes to loopback only")
    func privateAllowed() {
        let rules = WebhookAddressRules(allowPrivate: true)
        #expect((try? rules.check("http://127.0.0.1:9000/hook")) != nil)
        #expect((try? rules.check("http://localhost:9000/hook")) != nil)
        #expect((try? rules.check("https://10.0.0.1/hook")) != nil)
        #expect((try? rules.check("http://10.0.0.1/hook")) == nil)
        #expect((try? rules.check("http://hooks.example.com/hook")) == nil)
    }

    @Test("a name that resolves to a private address is refused before sending")
    func resolvedAddressChecked() async throws {
        let rules = WebhookAddressRules(allowPrivate: false)
        #expect(try await rules.resolvedAddressesArePublic("localhost") == false)
        #expect(try await rules.resolvedAddressesArePublic("127.0.0.1") == false)
        #expect(try await WebhookAddressRules(allowPrivate: true).resolvedAddressesArePublic("localhost"))
    }

    @Test(
        "subscriptions: create shows the secret once, sealed at rest; scopes; update, rotate, delete; all audited",
        arguments: Backend.available)
    func subscriptionLifecycle(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            try await w.test { c in
                let made = try await Self.subscribe(c, m.adminToken, url: "https://hooks.example.com/staff")
                #expect(made.status == 201)
                let id = try #require(made.body.str("id"))
                let secret = try #require(made.body.str("secret"))
                #expect(WebhookSignature.key(of: secret)?.count == 32)
                #expect(made.body.str("owner") == "staff" && made.body["siteIds"] is NSNull)
                #expect(made.headers[.location] == "/api/v1/webhooks/\(id)")
                let stored = try #require(try await w.parts.store.read { s in try await s.webhookSubscription(id) })
                #expect(stored.secret.range(of: Data(secret.utf8)) == nil, "sealed at rest")
                #expect(stored.secret.range(of: Data(secret.dropFirst(6).utf8)) == nil)

                let got = try await c.call(.get, "/api/v1/webhooks/\(id)", token: m.adminToken)
                #expect(got.status == 200 && got.body["secret"] == nil, "never shown again")
                #expect(got.body["disabledAt"] is NSNull)

                // A carrier neither sees staff subscriptions nor asks for alerts.
                #expect(try await c.call(.get, "/api/v1/webhooks/\(id)", token: m.carrierToken).status == 404)
                #expect(
                    try await c.call(.delete, "/api/v1/webhooks/\(id)", token: m.carrierToken).status == 404)
                let alerts = try await Self.subscribe(
                    c, m.carrierToken, url: "https://hooks.example.com/c", events: ["alert.raised"])
                #expect(alerts.status == 400 && alerts.body.str("error") == "invalid_request")
                let mine = try await Self.subscribe(
                    c, m.carrierToken, url: "https://hooks.example.com/c", events: ["parcel.deposited"])
                #expect(mine.status == 201 && mine.body.str("owner") == "carrier")
                let carrierList = try await c.call(.get, "/api/v1/webhooks", token: m.carrierToken)
                #expect(
                    (carrierList.body["webhooks"] as? [[String: Any]])?.map { $0.str("id") } == [mine.body.str("id")])
                let staffList = try await c.call(.get, "/api/v1/webhooks", token: m.adminToken)
                #expect((staffList.body["webhooks"] as? [[String: Any]])?.map { $0.str("id") } == [id])

                let patched = try await c.call(
                    .patch, "/api/v1/webhooks/\(id)", token: m.adminToken,
                    json: #"{"events":["parcel.deposited"],"url":"https://hooks.example.com/v2"}"#)
                #expect(patched.status == 200)
                #expect(patched.body["events"] as? [String] == ["parcel.deposited"])
                #expect(patched.body.str("url") == "https://hooks.example.com/v2")

                let rotated = try await c.call(.post, "/api/v1/webhooks/\(id)/rotate-secret", token: m.adminToken)
                #expect(rotated.status == 200)
                let newSecret = try #require(rotated.body.str("secret"))
                #expect(newSecret != secret && rotated.body.str("previousSecretExpiresAt") != nil)

                #expect(try await c.call(.delete, "/api/v1/webhooks/\(id)", token: m.adminToken).status == 204)
                #expect(try await c.call(.get, "/api/v1/webhooks/\(id)", token: m.adminToken).status == 404)
            }
            let events = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
                .filter { $0.type.hasPrefix("webhook.") }
            #expect(
                events.map(\.type) == [
                    "webhook.created", "webhook.created", "webhook.updated", "webhook.secret_rotated",
                    "webhook.deleted",
                ])
            #expect(events.allSatisfy { !$0.detail.contains("hooks.example.com") }, "no addresses in the audit log")
            #expect(events[2].detail.contains("events,url") || events[2].detail.contains("url,events"))
        }
    }

    @Test(
        "a drop-off and a pickup reach the receiver signed; carriers only hear of their parcels; no PIN or name",
        arguments: Backend.available)
    func signedDeliveries(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let receiver = WebhookReceiver()
            try await receiver.run { url in
                let (staffSecret, carrierSecret, parcelId) = try await w.test { c in
                    let staff = try await Self.subscribe(c, m.adminToken, url: url)
                    let carrier = try await Self.subscribe(
                        c, m.carrierToken, url: url + "?carrier",
                        events: ["parcel.deposited", "parcel.picked_up"])
                    let drop = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH1","recipientId":"\#(m.recipients[0].id)","size":"S"}"#)
                    return (
                        try #require(staff.body.str("secret")), try #require(carrier.body.str("secret")),
                        try #require(drop.body.str("parcelId"))
                    )
                }
                // Subscriptions that must not hear of it: another carrier's, and one for another site.
                try await w.parts.store.write { s in
                    for (carrier, sites) in [(EntityID.make(), nil), (nil, Set([EntityID.make()]))]
                        as [(String?, Set<String>?)]
                    {
                        try await s.insertWebhookSubscription(
                            WebhookSubscriptionRecord(
                                id: EntityID.make(), organizationId: m.organizationId, carrierId: carrier,
                                siteIds: sites, url: url + "?other", events: WebhookEventType.allCases,
                                secret: Data([1]), at: 0))
                    }
                }
                try await w.settle()
                let pin = try #require(try w.notifications().first?["pin"])
                try await w.test { c in
                    let pick = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(pin)"}"#)
                    #expect(pick.status == 200)
                }
                try await w.settle()
                let got = receiver.received
                #expect(
                    got.compactMap(\.type).sorted() == [
                        "parcel.deposited", "parcel.deposited", "parcel.picked_up", "parcel.picked_up",
                        "parcel.reserved",
                    ])
                for r in got {
                    let verifiesStaff = r.signatures.contains { WebhookReceiver.verifies(r, $0, secret: staffSecret) }
                    let verifiesCarrier = r.signatures.contains {
                        WebhookReceiver.verifies(r, $0, secret: carrierSecret)
                    }
                    #expect(verifiesStaff != verifiesCarrier, "signed with exactly one subscription's secret")
                    #expect(r.data["parcelId"] as? String == parcelId)
                    #expect(r.data["trackingNumber"] as? String == "WH1")
                    #expect(r.data["unitId"] as? String == w.unit)
                    #expect(r.data["compartmentLabel"] is String)
                    let text = String(decoding: r.body, as: UTF8.self)
                    #expect(!text.contains(pin), "no PIN")
                    #expect(!text.contains("cby1."), "no QR token")
                    #expect(!text.contains(m.recipients[0].id), "no recipient")
                    #expect(abs((Int64(r.timestamp) ?? 0) - Int64(w.clock.now.timeIntervalSince1970)) <= 1)
                }
                let deposited = got.filter { $0.type == "parcel.deposited" }
                #expect(deposited.count == 2 && Set(deposited.map(\.id)).count == 1, "one event, one webhook-id")
                #expect(deposited[0].data["state"] as? String == "deposited")
                #expect(deposited[0].data["expiresAt"] is String)
                let pending = try await w.parts.store.read { s in
                    try await s.deliveries(channel: StoreSession.webhookChannel).filter { $0.state != "delivered" }
                }
                #expect(pending.isEmpty)
            }
        }
    }

    @Test("a retry keeps the webhook-id and signs a fresh timestamp; a rotation sends two signatures that verify")
    func retryAndRotation() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = w.manifest
            let receiver = WebhookReceiver()
            receiver.answer([500])
            try await receiver.run { url in
                let (id, secret) = try await w.test { c in
                    let made = try await Self.subscribe(c, m.adminToken, url: url, events: ["parcel.reserved"])
                    _ = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH2","recipientId":"\#(m.recipients[0].id)","size":"S"}"#)
                    return (try #require(made.body.str("id")), try #require(made.body.str("secret")))
                }
                try await w.settle()
                #expect(receiver.received.count == 1)
                let failed = try await w.parts.store.read { s in
                    try await s.deliveries(channel: StoreSession.webhookChannel, target: id)
                }
                #expect(failed.map(\.state) == ["failed"] && failed[0].lastError == "HTTP 500")
                w.clock.advance(30)
                try await w.settle()
                let tries = receiver.received
                #expect(tries.count == 2)
                #expect(tries[0].id == tries[1].id, "the same webhook-id across retries")
                #expect(tries[0].timestamp != tries[1].timestamp, "each attempt's own time")
                #expect(tries[0].body == tries[1].body)
                #expect(WebhookReceiver.verifies(tries[1], tries[1].signatures[0], secret: secret))

                let newSecret = try await w.test { c in
                    let r = try await c.call(.post, "/api/v1/webhooks/\(id)/rotate-secret", token: m.adminToken)
                    _ = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH3","recipientId":"\#(m.recipients[1].id)","size":"S"}"#)
                    return try #require(r.body.str("secret"))
                }
                try await w.settle()
                let rotated = try #require(receiver.received.last)
                #expect(rotated.signatures.count == 2)
                #expect(rotated.signatures.contains { WebhookReceiver.verifies(rotated, $0, secret: secret) })
                #expect(rotated.signatures.contains { WebhookReceiver.verifies(rotated, $0, secret: newSecret) })
                // After the overlap only the new secret signs.
                w.clock.advance(TimeInterval(WebhookDesk.standardOverlap / 1000) + 1)
                try await w.test { c in
                    _ = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH4","recipientId":"\#(m.recipients[2].id)","size":"S"}"#)
                }
                try await w.settle()
                let later = try #require(receiver.received.last)
                #expect(later.signatures.count == 1)
                #expect(WebhookReceiver.verifies(later, later.signatures[0], secret: newSecret))
            }
        }
    }

    @Test(
        "deliveries are listed with state, attempts and last error, and one is sent again with the same webhook-id",
        arguments: Backend.available)
    func deliveriesAndRedelivery(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let receiver = WebhookReceiver()
            receiver.answer([500])
            try await receiver.run { url in
                let id = try await w.test { c in
                    let made = try await Self.subscribe(c, m.adminToken, url: url, events: ["parcel.reserved"])
                    _ = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH8","recipientId":"\#(m.recipients[0].id)","size":"S"}"#)
                    return try #require(made.body.str("id"))
                }
                try await w.settle()
                try await w.test { c in
                    let list = try await c.call(.get, "/api/v1/webhooks/\(id)/deliveries", token: m.adminToken)
                    #expect(list.status == 200)
                    let rows = list.body["deliveries"] as? [[String: Any]] ?? []
                    #expect(rows.count == 1)
                    let row = try #require(rows.first)
                    #expect(row.str("state") == "failed" && row["attempts"] as? Int == 1)
                    #expect(row.str("lastError") == "HTTP 500" && row.str("nextAttemptAt") != nil)
                    #expect(row.str("messageId") == receiver.received.first?.id)
                    let delivery = try #require(row["id"] as? Int)
                    #expect(
                        try await c.call(.get, "/api/v1/webhooks/\(id)/deliveries", token: m.carrierToken).status == 404
                    )

                    // Retry now, without waiting for the backoff.
                    let again = try await c.call(
                        .post, "/api/v1/webhooks/\(id)/deliveries/\(delivery)/redeliver", token: m.adminToken)
                    #expect(again.status == 200 && again.body.str("state") == "pending")
                    try await w.settle()
                    #expect(receiver.received.count == 2)
                    // Redeliver one already delivered: sent once more with the same id.
                    let once = try await c.call(
                        .post, "/api/v1/webhooks/\(id)/deliveries/\(delivery)/redeliver", token: m.adminToken)
                    #expect(once.status == 200)
                    try await w.settle()
                    let got = receiver.received
                    #expect(got.count == 3 && Set(got.map(\.id)).count == 1)
                    let done = try await c.call(.get, "/api/v1/webhooks/\(id)/deliveries", token: m.adminToken)
                    let final = (done.body["deliveries"] as? [[String: Any]])?.first
                    #expect(final?.str("state") == "delivered" && final?["nextAttemptAt"] is NSNull)
                    #expect(final?["attempts"] as? Int == 3)

                    for bad in ["abc", "0", "-1", "99999999", "1.5"] {
                        let r = try await c.call(
                            .post, "/api/v1/webhooks/\(id)/deliveries/\(bad)/redeliver", token: m.adminToken)
                        #expect(r.status == 404, "delivery \(bad): \(r.status)")
                    }
                    let off = try await c.call(
                        .patch, "/api/v1/webhooks/\(id)", token: m.adminToken, json: #"{"enabled":false}"#)
                    #expect(off.body["enabled"] as? Bool == false)
                    let refused = try await c.call(
                        .post, "/api/v1/webhooks/\(id)/deliveries/\(delivery)/redeliver", token: m.adminToken)
                    #expect(refused.status == 409 && refused.body.str("error") == "invalid_state")
                }
                let audit = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
                #expect(audit.filter { $0.type == "webhook.delivery_retried" }.count == 2)
            }
        }
    }

    @Test("410 disables the subscription at once, tells its owner and raises an alert", arguments: Backend.available)
    func goneDisables(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let receiver = WebhookReceiver()
            receiver.answer([410])
            try await receiver.run { url in
                let id = try await w.test { c in
                    let made = try await Self.subscribe(c, m.adminToken, url: url, events: ["parcel.reserved"])
                    _ = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH5","recipientId":"\#(m.recipients[0].id)","size":"S"}"#)
                    return try #require(made.body.str("id"))
                }
                try await w.settle()
                let rows = try await w.parts.store.read { s in
                    try await s.deliveries(channel: StoreSession.webhookChannel, target: id)
                }
                #expect(rows.map(\.state) == ["dead"] && rows[0].attempts == 1)
                try await w.test { c in
                    let got = try await c.call(.get, "/api/v1/webhooks/\(id)", token: m.adminToken)
                    #expect(got.body["enabled"] as? Bool == false)
                    #expect(got.body.str("disabledReason")?.contains("410") == true)
                    let alerts = try await c.call(.get, "/api/v1/alerts", token: m.adminToken)
                    let kinds = (alerts.body["alerts"] as? [[String: Any]])?.compactMap { $0.str("kind") } ?? []
                    #expect(kinds.contains("webhook.disabled"))
                    // Nothing more is written for it until it is enabled again.
                    _ = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH6","recipientId":"\#(m.recipients[1].id)","size":"S"}"#)
                    let enabled = try await c.call(
                        .patch, "/api/v1/webhooks/\(id)", token: m.adminToken, json: #"{"enabled":true}"#)
                    #expect(enabled.body["enabled"] as? Bool == true)
                }
                let after = try await w.parts.store.read { s in
                    try await s.deliveries(channel: StoreSession.webhookChannel, target: id)
                }
                #expect(after.count == 1)
                let audit = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
                let disabled = try #require(audit.first { $0.type == "webhook.disabled" })
                #expect(disabled.detail.contains("gone") && disabled.detail.contains(id))
            }
        }
    }

    @Test("an endpoint failing every attempt for the whole retry span is disabled")
    func failingForTheSpanDisables() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = w.manifest
            let receiver = WebhookReceiver()
            receiver.answer(Array(repeating: 503, count: 100))
            try await receiver.run { url in
                let id = try await w.test { c in
                    let made = try await Self.subscribe(c, m.adminToken, url: url, events: ["parcel.reserved"])
                    _ = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: #"{"trackingNumber":"WH7","recipientId":"\#(m.recipients[0].id)","size":"S"}"#)
                    return try #require(made.body.str("id"))
                }
                let outbox = OutboxDelivery(
                    store: w.parts.store, keys: w.parts.keys,
                    channels: [WebhookChannel(desk: w.parts.webhooks, logger: TestWorld.logger)],
                    interval: .seconds(1), retry: RetryPolicy(base: 1000, cap: 2000, span: 10_000),
                    clock: w.clock.serverClock, logger: TestWorld.logger)
                for _ in 0..<30 {
                    try await outbox.deliverDue()
                    w.clock.advance(1)
                }
                let rows = try await w.parts.store.read { s in
                    try await s.deliveries(channel: StoreSession.webhookChannel, target: id)
                }
                #expect(rows.map(\.state) == ["dead"])
                #expect(receiver.received.count == Int(rows[0].attempts) && rows[0].attempts > 3)
                let sub = try #require(try await w.parts.store.read { s in try await s.webhookSubscription(id) })
                #expect(sub.disabledAt != nil && sub.disabledReason?.contains("retry span") == true)
            }
        }
    }

    @Test(
        "bad input to the webhook routes gets a clear 4xx and changes nothing",
        arguments: [
            (#"{"url":"https://h.example.com/x"}"#, "invalid_request"),
            (#"{"url":"https://h.example.com/x","events":[]}"#, "invalid_request"),
            (#"{"url":"https://h.example.com/x","events":["parcel.lost"]}"#, "invalid_request"),
            (#"{"url":"https://h.example.com/x","events":["parcel.deposited","parcel.deposited"]}"#, "invalid_request"),
            (#"{"url":"https://h.example.com/x","events":"parcel.deposited"}"#, "invalid_request"),
            (#"{"url":"ftp://h.example.com/x","events":["parcel.deposited"]}"#, "invalid_request"),
            (#"{"url":"https://u:p@h.example.com/x","events":["parcel.deposited"]}"#, "invalid_request"),
            (#"{"url":12,"events":["parcel.deposited"]}"#, "invalid_request"),
            (#"{"url":null,"events":["parcel.deposited"]}"#, "invalid_request"),
            (#"{"url":"https://h.example.com/x","events":["parcel.deposited"],"secret":"whsec_x"}"#, "invalid_request"),
            (#"{"url":"https://h.example.com/"#, "invalid_json"),
            (#"[]"#, "invalid_json"),
        ])
    func badInput(_ body: String, _ error: String) async throws {
        try await TestWorld.with(.sqlite) { w in
            try await w.test { c in
                let before = try await w.counts()
                let r = try await c.call(.post, "/api/v1/webhooks", token: w.manifest.adminToken, json: body)
                #expect(r.status == 400 && r.body.str("error") == error, "\(body): \(r.status) \(r.body)")
                #expect(try await w.counts() == before)
                let made = try await Self.subscribe(c, w.manifest.adminToken, url: "https://h.example.com/x")
                let id = try #require(made.body.str("id"))
                for patch in [
                    #"{}"#, #"{"enabled":"yes"}"#, #"{"url":null}"#, #"{"events":[]}"#, #"{"url":"ftp://x/"}"#,
                ] {
                    let p = try await c.call(
                        .patch, "/api/v1/webhooks/\(id)", token: w.manifest.adminToken, json: patch)
                    #expect(p.status == 400, "PATCH \(patch): \(p.status)")
                }
                #expect(
                    try await c.call(.get, "/api/v1/webhooks/not-a-uuid", token: w.manifest.adminToken).status == 404)
                #expect(
                    try await c.call(.get, "/api/v1/webhooks?x=1", token: w.manifest.adminToken).status == 400)
            }
        }
    }
}
