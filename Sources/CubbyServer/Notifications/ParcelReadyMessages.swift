import CubbyCore
import CubbyMail
import Foundation

/// The parcel-ready email and SMS made from a ``ParcelReadyNotification``, in the recipient's language.
///
/// The email carries the PIN, the QR code as an inline PNG (`cid:`), the site, unit, compartment and expiry in the
/// site's time zone; its Message-ID is the notification id, so a retried email is recognisably the same one.
public enum ParcelReadyMessages {
    /// Pixels per QR module in the email's image.
    public static let qrScale = 6

    /// The email to `to`, from `from`; `unsubscribeURL` adds the one-click unsubscribe headers.
    public static func email(
        _ note: ParcelReadyNotification, to: MailAddress, from: MailAddress, unsubscribeURL: String? = nil,
        date: Date = Date()
    ) throws -> MailMessage {
        let words = wording(note)
        let facts = Facts(note, words)
        let domain = from.domain
        let contentId = "qr.\(note.notificationId)@\(domain)"
        let code = try QRCode(text: note.qr)
        let png = code.png(scale: qrScale)
        let image = try InlineImage(contentId: contentId, filename: "pickup-qr.png", data: png)

        var text = "\(words.heading)\n\n\(words.intro)\n\n"
        for (label, value) in facts.rows { text += "\(label): \(value)\n" }
        text += "\n\(words.keepPrivate)\n"
        if let unsubscribeURL { text += "\n\(words.unsubscribeLabel): \(unsubscribeURL)\n" }

        var html = "<!DOCTYPE html>\n<html lang=\"\(facts.language.rawValue)\">\n<head><meta charset=\"utf-8\">"
        html += "<title>\(escape(words.heading))</title></head>\n<body style=\"font-family:sans-serif\">\n"
        html += "<h1>\(escape(words.heading))</h1>\n<p>\(escape(words.intro))</p>\n<table>\n"
        for (label, value) in facts.rows {
            html += "<tr><th style=\"text-align:left\">\(escape(label))</th><td>\(escape(value))</td></tr>\n"
        }
        html += "</table>\n<p><img src=\"cid:\(contentId)\" alt=\"\(escape(words.qrAlt))\""
        // The PNG's side: the symbol and a 4-module quiet zone on each side.
        html += " width=\"\((code.size + 8) * qrScale)\"></p>\n"
        html += "<p>\(escape(words.keepPrivate))</p>\n"
        if let unsubscribeURL {
            html += "<p><a href=\"\(escape(unsubscribeURL))\">\(escape(words.unsubscribeLabel))</a></p>\n"
        }
        html += "</body>\n</html>\n"

        return try MailMessage(
            from: from, to: [to], subject: words.subject(facts.place), date: date,
            messageId: "\(note.notificationId)@\(domain)", text: text, html: html, images: [image],
            unsubscribeURL: unsubscribeURL)
    }

    /// The SMS text: the fullest wording that fits one segment, shorter ones when it does not.
    public static func sms(_ note: ParcelReadyNotification) -> String {
        let words = wording(note)
        let facts = Facts(note, words)
        return SMSText.fitting(
            words.sms(note.pin, note.siteName, note.unitName, note.compartmentLabel, facts.shortExpiry))
    }

    static func wording(_ note: ParcelReadyNotification) -> ParcelReadyWording {
        ParcelReadyWording.of(language(note))
    }

    static func language(_ note: ParcelReadyNotification) -> PreferredLanguage {
        note.language.flatMap(PreferredLanguage.init(naming:)) ?? .en
    }

    /// The values the messages show, formatted for the language and the site's time zone.
    struct Facts {
        let language: PreferredLanguage
        let place: String
        let rows: [(String, String)]
        let shortExpiry: String

        init(_ note: ParcelReadyNotification, _ words: ParcelReadyWording) {
            language = ParcelReadyMessages.language(note)
            place = note.siteName ?? note.unitName
            let siteZone = note.siteTimeZone.flatMap(TimeZone.init(identifier:))
            let zone = siteZone ?? TimeZone(secondsFromGMT: 0)!
            let zoneName = siteZone.map { _ in note.siteTimeZone! } ?? "UTC"
            var longExpiry = note.expiresAt
            var short = note.expiresAt
            if let expires = ParcelReadyMessages.parseTimestamp(note.expiresAt) {
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = zone
                let c = calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: expires)
                let time = String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
                longExpiry =
                    words.longDate(
                        words.weekdays[(c.weekday ?? 1) - 1], c.day ?? 1, words.months[(c.month ?? 1) - 1],
                        c.year ?? 1970, time) + " (\(zoneName))"
                short = "\(c.day ?? 1) \(words.shortMonths[(c.month ?? 1) - 1]) \(time)"
            }
            shortExpiry = short
            var rows: [(String, String)] = [(words.pinLabel, note.pin)]
            var site = note.siteName ?? ""
            if let address = note.siteAddress, !address.isEmpty { site += site.isEmpty ? address : ", \(address)" }
            if !site.isEmpty { rows.append((words.siteLabel, site)) }
            var unit = note.unitName
            if let location = note.unitLocation, !location.isEmpty { unit += " (\(location))" }
            rows.append((words.unitLabel, unit))
            rows.append((words.compartmentLabel, note.compartmentLabel))
            rows.append((words.expiresLabel, longExpiry))
            rows.append((words.trackingLabel, note.trackingNumber))
            self.rows = rows
        }
    }

    /// `2026-12-10T18:00:00.000Z` as the audit log writes it; nil when the text is not such a time.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    /// Text for HTML character data and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
