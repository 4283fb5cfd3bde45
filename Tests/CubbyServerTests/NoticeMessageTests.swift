import CubbyCore
import CubbyMail
import Foundation
import Testing

@testable import CubbyServer

private func notice(_ kind: ParcelNoticeKind, language: String? = nil, site: Bool = true) -> ParcelNoticeNotification {
    var n = ParcelNoticeNotification(
        notificationId: "0193a5c2-7e1f-7c3e-9b1a-2f4d5e6f7a8c", kind: kind.rawValue, recipientId: "r-1",
        parcelId: "p-1", trackingNumber: "1Z999AA10123456784", unitId: "u-1", unitName: "Lobby A",
        compartmentLabel: "B3")
    if site {
        n.siteName = "Álamo Towers"
        n.siteAddress = "12 Calle Mayor, Madrid"
        n.siteTimeZone = "Europe/Madrid"
    }
    n.language = language
    n.depositedAt = "2026-12-03T08:15:00.000Z"
    n.expiresAt = "2026-12-10T08:15:00.000Z"
    switch kind {
    case .reminder: n.residentURL = "https://cubby.example.org/me"
    case .expiry: n.happenedAt = "2026-12-10T08:15:00.000Z"
    case .receipt:
        n.happenedAt = "2026-12-04T13:02:00.000Z"
        n.reportURL =
            "https://cubby.example.org/report/0193a5c2-7e1f-7c3e-9b1a-2f4d5e6f7a8b.0193a5c2-7e1f-7c3e-9b1a-2f4d5e6f7a8d.AAAAAAAAAAAAAAAAAAAAAA"
    }
    return n
}

@Suite("Reminder, expiry-notice and pickup-receipt email and SMS")
struct NoticeMessageTests {
    let from = try! MailAddress("lockers@cubby.example.org", name: "Cubby")
    let to = try! MailAddress("ana@example.org", name: "Ana")

    @Test("the reminder: since when, where, until when in the site's time zone, the way to a lost code, no PIN")
    func reminder() throws {
        let mail = try NoticeMessages.email(
            notice(.reminder), to: to, from: from, unsubscribeURL: "https://cubby.example.org/unsubscribe/x")
        #expect(mail.subject == "Reminder: your parcel is waiting at Álamo Towers")
        #expect(mail.messageId == "0193a5c2-7e1f-7c3e-9b1a-2f4d5e6f7a8c@cubby.example.org")
        #expect(mail.unsubscribeURL == "https://cubby.example.org/unsubscribe/x")
        for expected in [
            "since Thursday 3 December 2026, 09:15 (Europe/Madrid)", "Where: Álamo Towers, 12 Calle Mayor, Madrid",
            "Locker: Lobby A", "Compartment: B3", "Collect it before: Thursday 10 December 2026, 09:15 (Europe/Madrid)",
            "Tracking number: 1Z999AA10123456784", "https://cubby.example.org/me", "Stop these emails",
        ] {
            #expect(mail.text.contains(expected), "\(expected)")
        }
        #expect(!mail.text.contains("PIN:"))
        let html = try #require(mail.html)
        #expect(html.contains("<html lang=\"en\">") && html.contains("href=\"https://cubby.example.org/me\""))
        #expect(mail.images.isEmpty)
        let sms = NoticeMessages.sms(notice(.reminder))
        #expect(sms.contains("Lobby A") && sms.contains("B3") && sms.contains("10 Dec 09:15"))
        #expect(SMSText.measure(sms).segments == 1, "\(sms)")
    }

    @Test("the expiry notice says what expired, where, and to contact the building's staff")
    func expiry() throws {
        let mail = try NoticeMessages.email(notice(.expiry), to: to, from: from)
        #expect(mail.subject == "Your parcel was not collected at Álamo Towers")
        #expect(mail.text.contains("Thursday 10 December 2026, 09:15 (Europe/Madrid)"))
        #expect(mail.text.contains("Contact the building's staff"))
        #expect(mail.text.contains("1Z999AA10123456784") && mail.unsubscribeURL == nil)
        let sms = NoticeMessages.sms(notice(.expiry))
        #expect(sms.contains("1Z999AA10123456784") && sms.contains("staff"))
        #expect(SMSText.measure(sms).segments == 1, "\(sms)")
        let es = NoticeMessages.sms(notice(.expiry, language: "es"))
        #expect(es.contains("personal") && SMSText.measure(es).segments == 1, "\(es)")
    }

    @Test("the receipt: picked up at HH:MM in the site's time zone at the unit, and the report link")
    func receipt() throws {
        let n = notice(.receipt)
        let mail = try NoticeMessages.email(n, to: to, from: from)
        #expect(mail.subject == "Your parcel was picked up at Álamo Towers")
        #expect(mail.text.contains("Picked up at 14:02 at Lobby A."))
        #expect(mail.text.contains("Not you? Report it: \(n.reportURL!)"))
        let sms = NoticeMessages.sms(n)
        #expect(sms.hasPrefix("Your parcel was picked up at 14:02 at Lobby A."))
        #expect(sms.hasSuffix(n.reportURL!), "the link is never cut")
        let es = try NoticeMessages.email(notice(.receipt, language: "es"), to: to, from: from)
        #expect(es.subject == "Se recogió tu paquete en Álamo Towers")
        #expect(es.text.contains("Recogido a las 14:02 en Lobby A."))
        #expect(es.text.contains("¿No fuiste tú? Avísanos: "))
        #expect(try #require(es.html).contains("<html lang=\"es\">"))
    }

    @Test("Spanish wording, and rows sealed without the site render in UTC with the unit as the place")
    func spanishAndBare() throws {
        let es = try NoticeMessages.email(notice(.reminder, language: "es"), to: to, from: from)
        #expect(es.subject == "Recordatorio: tu paquete te espera en Álamo Towers")
        #expect(es.text.contains("desde el jueves 3 de diciembre de 2026, 09:15 (Europe/Madrid)"))
        #expect(es.text.contains("Recógelo antes del: jueves 10 de diciembre de 2026, 09:15 (Europe/Madrid)"))
        let esSMS = NoticeMessages.sms(notice(.reminder, language: "es"))
        #expect(esSMS.hasPrefix("Recordatorio") && SMSText.measure(esSMS).segments <= 2, "\(esSMS)")
        let bare = try NoticeMessages.email(notice(.expiry, site: false), to: to, from: from)
        #expect(bare.subject == "Your parcel was not collected at Lobby A")
        #expect(bare.text.contains("(UTC)") && !bare.text.contains("Where:"))
        // Every kind in every language renders, with a text that fits the SMS rules.
        for kind in ParcelNoticeKind.allCases {
            for language in PreferredLanguage.allCases {
                let n = notice(kind, language: language.rawValue)
                _ = try NoticeMessages.email(n, to: to, from: from).rendered()
                let text = NoticeMessages.sms(n)
                #expect(!text.isEmpty && SMSText.measure(text).segments <= 3, "\(kind) \(language): \(text)")
            }
        }
    }
}
