import CubbyCore
import CubbyMail
import Foundation

/// The reminder, expiry-notice and pickup-receipt email and SMS made from a ``ParcelNoticeNotification``, in the
/// recipient's language, with times in the site's time zone. None carries a code.
public enum NoticeMessages {
    /// The email to `to`, from `from`; `unsubscribeURL` (for this kind of message) adds the one-click unsubscribe
    /// headers. The Message-ID is the notification id, so a retried email is recognisably the same one.
    public static func email(
        _ note: ParcelNoticeNotification, to: MailAddress, from: MailAddress, unsubscribeURL: String? = nil,
        date: Date = Date()
    ) throws -> MailMessage {
        let c = content(note)
        let ready = ParcelReadyWording.of(c.language)
        var text = "\(c.heading)\n\n"
        for p in c.paragraphs { text += "\(p)\n\n" }
        for (label, value) in c.rows { text += "\(label): \(value)\n" }
        if let (label, url) = c.link { text += "\n\(label): \(url)\n" }
        if let unsubscribeURL { text += "\n\(ready.unsubscribeLabel): \(unsubscribeURL)\n" }

        let escape = ParcelReadyMessages.escape
        var html = "<!DOCTYPE html>\n<html lang=\"\(c.language.rawValue)\">\n<head><meta charset=\"utf-8\">"
        html += "<title>\(escape(c.heading))</title></head>\n<body style=\"font-family:sans-serif\">\n"
        html += "<h1>\(escape(c.heading))</h1>\n"
        for p in c.paragraphs { html += "<p>\(escape(p))</p>\n" }
        html += "<table>\n"
        for (label, value) in c.rows {
            html += "<tr><th style=\"text-align:left\">\(escape(label))</th><td>\(escape(value))</td></tr>\n"
        }
        html += "</table>\n"
        if let (label, url) = c.link { html += "<p><a href=\"\(escape(url))\">\(escape(label))</a></p>\n" }
        if let unsubscribeURL {
            html += "<p><a href=\"\(escape(unsubscribeURL))\">\(escape(ready.unsubscribeLabel))</a></p>\n"
        }
        html += "</body>\n</html>\n"
        return try MailMessage(
            from: from, to: [to], subject: c.subject, date: date, messageId: "\(note.notificationId)@\(from.domain)",
            text: text, html: html, unsubscribeURL: unsubscribeURL)
    }

    /// The SMS text: the fullest wording that fits one segment, shorter ones when it does not.
    public static func sms(_ note: ParcelNoticeNotification) -> String {
        let language = language(note)
        let words = NoticeWording.of(language)
        let times = Times(note, ParcelReadyWording.of(language))
        switch note.noticeKind ?? .reminder {
        case .reminder:
            return SMSText.fitting(
                words.reminderSMS(
                    note.siteName, note.unitName, note.compartmentLabel, times.short(note.expiresAt), note.residentURL))
        case .expiry:
            return SMSText.fitting(words.expirySMS(note.siteName, note.unitName, note.trackingNumber))
        case .receipt:
            return SMSText.fitting(words.receiptSMS(times.clock(note.happenedAt), note.unitName, note.reportURL))
        }
    }

    /// The message's kind as the preferences and unsubscribe links name it.
    static func messageKind(_ note: ParcelNoticeNotification) -> MessageKind {
        (note.noticeKind ?? .reminder).messageKind
    }

    static func language(_ note: ParcelNoticeNotification) -> PreferredLanguage {
        note.language.flatMap(PreferredLanguage.init(naming:)) ?? .en
    }

    /// What an email says, in order.
    struct Content {
        let language: PreferredLanguage
        let subject: String
        let heading: String
        let paragraphs: [String]
        let rows: [(String, String)]
        let link: (String, String)?
    }

    static func content(_ note: ParcelNoticeNotification) -> Content {
        let language = language(note)
        let words = NoticeWording.of(language)
        let ready = ParcelReadyWording.of(language)
        let times = Times(note, ready)
        let place = note.siteName ?? note.unitName
        var site = note.siteName ?? ""
        if let address = note.siteAddress, !address.isEmpty { site += site.isEmpty ? address : ", \(address)" }
        var whereRows: [(String, String)] = site.isEmpty ? [] : [(ready.siteLabel, site)]
        whereRows += [(ready.unitLabel, note.unitName), (ready.compartmentLabel, note.compartmentLabel)]
        let tracking = (ready.trackingLabel, note.trackingNumber)
        switch note.noticeKind ?? .reminder {
        case .reminder:
            return Content(
                language: language, subject: words.reminderSubject(place), heading: words.reminderHeading,
                paragraphs: [words.reminderIntro(times.long(note.depositedAt))],
                rows: whereRows + [(ready.expiresLabel, times.long(note.expiresAt)), tracking],
                link: note.residentURL.map { (words.lostCode, $0) })
        case .expiry:
            return Content(
                language: language, subject: words.expirySubject(place), heading: words.expiryHeading,
                paragraphs: [words.expiryIntro(times.long(note.happenedAt ?? note.expiresAt)), words.expiryAdvice],
                rows: whereRows + [tracking], link: nil)
        case .receipt:
            return Content(
                language: language, subject: words.receiptSubject(place), heading: words.receiptHeading,
                paragraphs: [words.receiptIntro(times.clock(note.happenedAt), note.unitName)],
                rows: [(words.pickedUpLabel, times.long(note.happenedAt))] + whereRows + [tracking],
                link: note.reportURL.map { (words.notYou, $0) })
        }
    }

    /// Times as the messages show them, in the site's time zone (UTC when it has none).
    struct Times {
        let calendar: Calendar
        let zoneName: String
        let words: ParcelReadyWording

        init(_ note: ParcelNoticeNotification, _ words: ParcelReadyWording) {
            let siteZone = note.siteTimeZone.flatMap(TimeZone.init(identifier:))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = siteZone ?? TimeZone(secondsFromGMT: 0)!
            self.calendar = calendar
            self.zoneName = siteZone.map { _ in note.siteTimeZone! } ?? "UTC"
            self.words = words
        }

        func parts(_ text: String?) -> DateComponents? {
            guard let text, let date = ParcelReadyMessages.parseTimestamp(text) else { return nil }
            return calendar.dateComponents([.year, .month, .day, .weekday, .hour, .minute], from: date)
        }

        /// `HH:MM`.
        func clock(_ text: String?) -> String {
            guard let c = parts(text) else { return text ?? "" }
            return String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
        }

        /// `Thursday 10 December 2026, 18:00 (Europe/Madrid)`.
        func long(_ text: String?) -> String {
            guard let c = parts(text) else { return text ?? "" }
            return words.longDate(
                words.weekdays[(c.weekday ?? 1) - 1], c.day ?? 1, words.months[(c.month ?? 1) - 1], c.year ?? 1970,
                clock(text)) + " (\(zoneName))"
        }

        /// `10 Dec 18:00`.
        func short(_ text: String?) -> String {
            guard let c = parts(text) else { return text ?? "" }
            return "\(c.day ?? 1) \(words.shortMonths[(c.month ?? 1) - 1]) \(clock(text))"
        }
    }
}
