import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Reminders, expiry notices and pickup receipts: each once per parcel, on the recipient's channels")
struct ParcelNoticeTests {
    /// A parcel dropped off for recipient `recipient` and deposited; returns its id.
    static func deposit(_ w: TestWorld, _ tracking: String, recipient: Int = 0) async throws -> String {
        let id = try await w.test { c in
            let r = try await c.call(
                .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                json: ParcelFlowTests.dropoffBody(tracking, w.manifest.recipients[recipient].id))
            #expect(r.status == 201)
            return try #require(r.body.str("parcelId"))
        }
        try await w.settle()
        #expect(try await w.parts.store.read { s in try await s.parcel(id) }?.state == .deposited)
        return id
    }

    static func messages(_ w: TestWorld, _ parcel: String, _ kind: ParcelNoticeKind) async throws -> [String] {
        try await w.parts.store.read { s in try await s.outboxMessageIds(parcel: parcel, kind: kind.rawValue) }
    }

    static let hour: TimeInterval = 3_600

    @Test("one reminder per due hour of the site's schedule, none twice", arguments: Backend.available)
    func schedule(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let p = try await Self.deposit(w, "REM1")
            w.clock.advance(23 * Self.hour)
            #expect(try await w.desk.remindDue() == 0)
            w.clock.advance(Self.hour)
            #expect(try await w.desk.remindDue() == 1)
            #expect(try await w.desk.remindDue() == 0, "the 24-hour reminder went out already")
            #expect(try await Self.messages(w, p, .reminder).count == 1)
            w.clock.advance(60 * Self.hour)
            #expect(try await w.desk.remindDue() == 1)
            w.clock.advance(24 * Self.hour)
            #expect(try await w.desk.remindDue() == 0, "the schedule is done")
            #expect(try await Self.messages(w, p, .reminder).count == 2)
            let notices = try await w.parts.store.read { s in try await s.notices(parcel: p) }
            #expect(notices == ["reminder:24": "sent", "reminder:72": "sent"])
            try await w.settle()
            let lines = try w.notifications().filter { $0["kind"] == ParcelNoticeKind.reminder.rawValue }
            #expect(lines.count == 2)
            #expect(lines.allSatisfy { $0["parcelId"] == p && $0["pin"] == nil && $0["qr"] == nil })
            #expect(lines.first?["residentURL"] == w.settings.linkBase + "/me")
            #expect(lines.first?["depositedAt"] != nil && lines.first?["expiresAt"] != nil)
        }
    }

    @Test(
        "reminders that fell due while nothing ran are skipped: only the latest goes out", arguments: Backend.available)
    func overdue(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let p = try await Self.deposit(w, "REM2")
            w.clock.advance(80 * Self.hour)
            #expect(try await w.desk.remindDue() == 1)
            #expect(try await w.desk.remindDue() == 0)
            #expect(try await Self.messages(w, p, .reminder).count == 1)
            let notices = try await w.parts.store.read { s in try await s.notices(parcel: p) }
            #expect(notices == ["reminder:24": "skipped", "reminder:72": "sent"])
        }
    }

    @Test("two sweeps at once write one reminder", arguments: Backend.available)
    func race(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            var parcels: [String] = []
            for i in 0..<3 { parcels.append(try await Self.deposit(w, "RACE\(i)")) }
            w.clock.advance(25 * Self.hour)
            // A second server on the same database: its own desk, the same store.
            let other = w.parts.desk
            async let first = w.desk.remindDue()
            async let second = other.remindDue()
            async let third = w.desk.remindDue()
            let total = try await first + second + third
            #expect(total == 3)
            for p in parcels { #expect(try await Self.messages(w, p, .reminder).count == 1) }
            // The key itself refuses a second record, whoever asks.
            let first0 = parcels[0]
            let again = try await w.parts.store.write { s in
                try await s.recordNotice(
                    parcel: first0, notice: "reminder:24", outcome: "sent", message: nil, at: 0)
            }
            #expect(again == false)
        }
    }

    @Test(
        "no reminder after pickup or expiry; the receipt and the expiry notice go out once",
        arguments: Backend.available)
    func afterPickupAndExpiry(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let a = try await Self.deposit(w, "GONE1")
            let b = try await Self.deposit(w, "GONE2")
            let note = try #require(try w.notifications().last { $0["parcelId"] == a && $0["pin"] != nil })
            try await w.test { c in
                let pickup = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(note["pin"]!)"}"#)
                #expect(pickup.status == 200)
            }
            #expect(try await Self.messages(w, a, .receipt).count == 1)
            w.clock.advance(24 * Self.hour)
            #expect(try await w.desk.remindDue() == 1)
            #expect(try await Self.messages(w, a, .reminder).isEmpty, "picked up: no reminder")
            #expect(try await Self.messages(w, b, .reminder).count == 1)
            w.clock.advance(145 * Self.hour)
            #expect(try await w.desk.expireDue() >= 1)
            #expect(try await w.desk.remindDue() == 0, "expired: no reminder")
            #expect(try await w.desk.expireDue() == 0)
            #expect(try await Self.messages(w, b, .expiry).count == 1)
            #expect(try await Self.messages(w, a, .expiry).isEmpty)
            #expect(try await Self.messages(w, b, .receipt).isEmpty)

            try await w.settle()
            let lines = try w.notifications()
            let receipt = try #require(lines.first { $0["kind"] == ParcelNoticeKind.receipt.rawValue })
            #expect(receipt["parcelId"] == a && receipt["happenedAt"] != nil)
            let expiry = try #require(lines.first { $0["kind"] == ParcelNoticeKind.expiry.rawValue })
            #expect(expiry["parcelId"] == b && expiry["happenedAt"] != nil)
            // The receipt's link reports the pickup: staff get an alert.
            let link = try #require(receipt["reportURL"])
            #expect(link.hasPrefix(w.settings.linkBase + "/report/"))
            let path = String(link.dropFirst(w.settings.linkBase.count))
            let reported = try await w.test { c in try await c.call(.post, path).status }
            #expect(reported == 200)
            let alerts = try await w.parts.store.read { s in try await s.alerts(unit: w.unit) }
            #expect(alerts.filter { $0.kind == PickupReports.alertKind }.count == 1)
        }
    }

    @Test("a pickup journaled by the unit gets its receipt too", arguments: Backend.available)
    func unitPickup(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let p = try await Self.deposit(w, "EDGE1")
            let parcel = try #require(try await w.parts.store.read { s in try await s.parcel(p) })
            var e = EdgeEvent(
                seq: 1, occurredAt: w.clock.now.millisecondsSince1970, kind: .pickup,
                compartmentId: parcel.compartmentId, parcelId: p, detail: ["method": "pin"],
                previousHash: EdgeEvent.genesisHash)
            e.hash = EdgeJournalHash.hash(previous: EdgeEvent.genesisHash, event: e)
            #expect(try await w.parts.edges.apply(unitId: w.unit, event: e, photo: nil).isNew)
            #expect(try await w.parts.store.read { s in try await s.parcel(p) }?.state == .pickedUp)
            #expect(try await Self.messages(w, p, .receipt).count == 1)
            _ = try await w.parts.edges.apply(unitId: w.unit, event: e, photo: nil)
            #expect(try await Self.messages(w, p, .receipt).count == 1, "the journal's repeat writes nothing")
        }
    }

    @Test(
        "an SMS reminder in the site's quiet hours waits for their end; email does not; switched-off channels get none")
    func quietHoursAndPreferences() async throws {
        // 21:30 in New York (UTC−5 in December).
        let start = try #require(ParcelReadyMessagesTestsSupport.date("2026-12-02T02:30:00Z"))
        try await TestWorld.with(.sqlite, start: start) { w in
            try await w.parts.store.write { s in
                var site = try #require(try await s.lockSite(w.manifest.siteId))
                site.timeZone = "America/New_York"
                site.quietHours = "21:00-08:00"
                try await s.saveSite(site)
            }
            let quiet = try await Self.deposit(w, "QUIET1", recipient: 0)
            let choosy = try await Self.deposit(w, "QUIET2", recipient: 1)
            let r1 = w.manifest.recipients[1].id
            let p = Principal(
                role: .superAdmin, credentialId: .make(),
                organizationId: try #require(OrganizationID(uuidString: w.manifest.organizationId)),
                siteIds: [try #require(SiteID(uuidString: w.manifest.siteId))])
            try await w.parts.recipients.setPreferences(
                p, id: r1, [PreferenceChoice(.reminder, .email, on: false)], source: .console, origin: "console")
            w.clock.advance(24 * Self.hour)
            let now = w.clock.now.millisecondsSince1970
            let notices = ParcelNotices(
                keys: w.parts.keys, recipientChannels: ["file", "email", "sms"], linkBase: "https://lockers.example.org"
            )
            for id in [quiet, choosy] {
                let sent = try await w.desk.ledger.write { s in
                    try await notices.remindIfDue(s, parcel: try #require(try await s.parcel(id, lock: true)), at: now)
                }
                #expect(sent)
            }
            // 08:00 in New York the next morning.
            let end = try #require(ParcelReadyMessagesTestsSupport.date("2026-12-03T13:00:00Z")).millisecondsSince1970
            func due(_ parcel: String) async throws -> [String: Int64] {
                let id = try #require(try await Self.messages(w, parcel, .reminder).first)
                let deliveries = try await w.parts.store.read { s in try await s.deliveries(message: id) }
                return Dictionary(uniqueKeysWithValues: deliveries.map { ($0.channel, $0.nextAttemptAt) })
            }
            #expect(try await due(quiet) == ["file": now, "email": now, "sms": end])
            #expect(try await due(choosy) == ["file": now, "sms": end], "reminder emails switched off")
            // Picked up in the night: the held SMS reminder is given up, the one already sent stays as it was.
            let reminder = try #require(try await Self.messages(w, quiet, .reminder).first)
            try await w.parts.outbox.deliverDue()
            let pin = try #require(try w.notifications().last { $0["parcelId"] == quiet && $0["pin"] != nil }?["pin"])
            let pickup = try await w.test { c in
                try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(pin)"}"#)
            }
            #expect(pickup.status == 200)
            let after = try await w.parts.store.read { s in try await s.deliveries(message: reminder) }
            #expect(after.first { $0.channel == "file" }?.state == "delivered")
            #expect(after.first { $0.channel == "sms" }?.state == "dead")
            #expect(after.first { $0.channel == "sms" }?.lastError == "the parcel was picked up")
            #expect(try await due(choosy)["sms"] == end, "the other parcel's reminder still waits")
        }
    }

    @Test("quiet hours end at the end of the span, in the site's time zone")
    func quietEnd() throws {
        let night = try #require(QuietHours(text: "21:00-08:00"))
        let noon = try #require(QuietHours(text: "12:00-13:30"))
        func at(_ text: String) throws -> Int64 {
            try #require(ParcelReadyMessagesTestsSupport.date(text)).millisecondsSince1970
        }
        let table: [(QuietHours, String, String, String?)] = [
            (night, "2026-12-02T22:15:30Z", "UTC", "2026-12-03T08:00:00Z"),
            (night, "2026-12-03T07:59:00Z", "UTC", "2026-12-03T08:00:00Z"),
            (night, "2026-12-03T08:00:00Z", "UTC", nil),
            (night, "2026-12-02T20:59:59Z", "UTC", nil),
            (night, "2026-12-02T02:30:00Z", "America/New_York", "2026-12-02T13:00:00Z"),
            (night, "2026-12-02T20:30:00Z", "Europe/Madrid", "2026-12-03T07:00:00Z"),
            // The night the clocks go back: 22:00 summer time, and 08:00 winter time is 07:00 UTC.
            (night, "2026-10-24T20:00:00Z", "Europe/Madrid", "2026-10-25T07:00:00Z"),
            (noon, "2026-12-02T12:10:00Z", "UTC", "2026-12-02T13:30:00Z"),
            (noon, "2026-12-02T13:30:00Z", "UTC", nil),
        ]
        for (quiet, now, zone, end) in table {
            let got = ParcelNotices.quietEnd(quiet, after: try at(now), timeZone: zone)
            let want = try end.map(at)
            #expect(got == want, "\(quiet.text) at \(now) in \(zone)")
        }
    }
}

/// Dates written as RFC 3339 for the tests.
enum ParcelReadyMessagesTestsSupport {
    static func date(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }
}
