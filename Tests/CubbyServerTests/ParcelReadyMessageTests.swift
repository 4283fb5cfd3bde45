import CubbyCore
import CubbyMail
import Foundation
import Testing

@testable import CubbyServer

private let zbarPath = "/usr/bin/zbarimg"

private func note(language: String? = nil, site: Bool = true) -> ParcelReadyNotification {
    var n = ParcelReadyNotification(
        notificationId: "0193a5c2-7e1f-7c3e-9b1a-2f4d5e6f7a8b", kind: "parcel.deposited", recipientId: "r-1",
        parcelId: "p-1", trackingNumber: "1Z999AA10123456784", unitId: "u-1", unitName: "Lobby A",
        compartmentLabel: "B3", pin: "4815162342", qr: "cby1.eyJwIjoiMTIzIn0.c2lnbmF0dXJl",
        expiresAt: "2026-12-10T17:30:00.000Z")
    if site {
        n.siteName = "Álamo Towers"
        n.siteAddress = "12 Calle Mayor, Madrid"
        n.siteTimeZone = "Europe/Madrid"
        n.unitLocation = "left of the mailboxes"
    }
    n.language = language
    return n
}

private func decodeQR(_ png: [UInt8]) throws -> String? {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-mail-\(UUID().uuidString).png")
    try Data(png).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let result = try ChildProcess.run(zbarPath, ["--raw", "-q", "-Sdisable", "-Sqrcode.enable", url.path])
    return result.termination == .exited(0) ? result.standardOutputText.trimmingCharacters(in: .newlines) : nil
}

@Suite("Parcel-ready email and SMS")
struct ParcelReadyMessageTests {
    let from = try! MailAddress("lockers@cubby.example.org", name: "Cubby")
    let to = try! MailAddress("ana@example.org", name: "Ana")

    @Test("English: PIN, QR image, site, unit, compartment and expiry in the site's time zone")
    func english() throws {
        let mail = try ParcelReadyMessages.email(
            note(), to: to, from: from, unsubscribeURL: "https://cubby.example.org/u/x")
        #expect(mail.subject == "Your parcel is ready at Álamo Towers")
        #expect(mail.messageId == "0193a5c2-7e1f-7c3e-9b1a-2f4d5e6f7a8b@cubby.example.org")
        #expect(mail.unsubscribeURL == "https://cubby.example.org/u/x")
        for expected in [
            "PIN: 4815162342", "Where: Álamo Towers, 12 Calle Mayor, Madrid", "Locker: Lobby A (left of the mailboxes)",
            "Compartment: B3", "Collect it before: Thursday 10 December 2026, 18:30 (Europe/Madrid)",
            "Tracking number: 1Z999AA10123456784", "https://cubby.example.org/u/x",
        ] {
            #expect(mail.text.contains(expected), "\(expected)")
        }
        let html = try #require(mail.html)
        #expect(html.contains("<html lang=\"en\">"))
        #expect(html.contains("src=\"cid:\(mail.images[0].contentId)\""))
        #expect(html.contains("4815162342"))
        #expect(!mail.text.contains(note().qr), "the token travels only inside the image")
        #expect(mail.images.count == 1)
        #expect(mail.images[0].mediaType == "image/png")
    }

    @Test("Spanish, with the wording and dates of the Spanish table")
    func spanish() throws {
        let mail = try ParcelReadyMessages.email(note(language: "es"), to: to, from: from)
        #expect(mail.subject == "Tu paquete está listo en Álamo Towers")
        #expect(mail.text.contains("Recógelo antes del: jueves 10 de diciembre de 2026, 18:30 (Europe/Madrid)"))
        #expect(mail.text.contains("Casillero: Lobby A"))
        #expect(mail.text.contains("Compartimento: B3"))
        #expect(mail.html?.contains("<html lang=\"es\">") == true)
        #expect(mail.unsubscribeURL == nil)
        #expect(!String(decoding: mail.rendered(), as: UTF8.self).contains("List-Unsubscribe"))
    }

    @Test("a row sealed before the new fields decodes, and renders in English in UTC with the unit as the place")
    func oldRows() throws {
        let old = """
            {"notificationId":"n-1","kind":"parcel.deposited","recipientId":"r","parcelId":"p","trackingNumber":"T",\
            "unitId":"u","unitName":"Lobby A","compartmentLabel":"A1","pin":"123","qr":"cby1.x",\
            "expiresAt":"2026-12-10T17:30:00.000Z"}
            """
        let decoded = try JSONDecoder().decode(ParcelReadyNotification.self, from: Data(old.utf8))
        #expect(decoded.siteName == nil && decoded.language == nil)
        let mail = try ParcelReadyMessages.email(decoded, to: to, from: from)
        #expect(mail.subject == "Your parcel is ready at Lobby A")
        #expect(mail.text.contains("Thursday 10 December 2026, 17:30 (UTC)"))
        #expect(!mail.text.contains("Where:"))
    }

    @Test("HTML-significant characters in names are escaped")
    func escaping() throws {
        var n = note()
        n.unitName = "<script>alert(1)</script>"
        n.siteName = "A & \"B\""
        let html = try #require(try ParcelReadyMessages.email(n, to: to, from: from).html)
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;"))
        #expect(html.contains("A &amp; &quot;B&quot;"))
    }

    @Test("the QR image decodes to the token", .enabled(if: FileManager.default.isExecutableFile(atPath: zbarPath)))
    func qrImage() throws {
        let mail = try ParcelReadyMessages.email(note(), to: to, from: from)
        #expect(try decodeQR(mail.images[0].data) == note().qr)
    }

    @Test(
        "the SMS fits one segment and keeps the PIN, unit and compartment",
        arguments: [nil, "es", "en"] as [String?])
    func sms(language: String?) {
        for withSite in [true, false] {
            let text = ParcelReadyMessages.sms(note(language: language, site: withSite))
            let length = SMSText.measure(text)
            #expect(length.segments == 1, "\(text)")
            #expect(length.encoding == .gsm7, "\(text)")
            for part in ["4815162342", "Lobby A", "B3"] { #expect(text.contains(part), "\(text)") }
        }
        let spanish = ParcelReadyMessages.sms(note(language: "es"))
        #expect(spanish.contains("10 dic 18:30"))
    }

    @Test("a long site name makes the SMS shorter, not longer than one segment")
    func smsShortens() {
        var n = note()
        n.siteName = String(repeating: "Residencia Universitaria ", count: 4)
        let text = ParcelReadyMessages.sms(n)
        #expect(SMSText.measure(text).segments == 1)
        #expect(text.contains("4815162342"))
        #expect(text.hasPrefix("Parcel ready: locker Lobby A"))
    }
}
