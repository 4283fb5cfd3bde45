import CubbyCore
import Foundation

/// An image shown inside the HTML part, referred to as `cid:<contentId>`.
public struct InlineImage: Sendable, Equatable {
    /// The Content-ID without angle brackets, `local@domain`; the HTML says `src="cid:local@domain"`.
    public let contentId: String
    /// `image/png` and the like.
    public let mediaType: String
    public let filename: String
    public let data: [UInt8]

    public init(contentId: String, mediaType: String = "image/png", filename: String, data: [UInt8])
        throws(MailError)
    {
        guard MailMessage.isMessageIdText(contentId) else {
            throw .invalid(field: "Content-ID", "must be like part@example.org, in printable ASCII")
        }
        guard mediaType.split(separator: "/", omittingEmptySubsequences: false).count == 2,
            !mediaType.hasPrefix("/"), !mediaType.hasSuffix("/"),
            mediaType.utf8.allSatisfy({ MailAddress.isAlphanumeric($0) || "+-./".utf8.contains($0) })
        else { throw .invalid(field: "media type", "must be like image/png") }
        guard !filename.isEmpty, filename.utf8.count <= 100,
            filename.utf8.allSatisfy({ MailAddress.isAlphanumeric($0) || "._-".utf8.contains($0) })
        else { throw .invalid(field: "filename", "must be 1–100 letters, digits, dots, dashes or underscores") }
        self.contentId = contentId
        self.mediaType = mediaType
        self.filename = filename
        self.data = data
    }
}

/// An email (RFC 5322 with MIME, RFCs 2045–2047): headers, a text body, an optional HTML body with inline
/// images, and the one-click unsubscribe headers of RFC 8058.
///
/// Everything is checked when the message is made: a header value with a line break or control character is
/// refused, so no caller can add headers of its own. The rendering is deterministic: the same message renders
/// to the same bytes, so a retried message is the same message.
public struct MailMessage: Sendable, Equatable {
    public let from: MailAddress
    public let to: [MailAddress]
    public let subject: String
    public let date: Date
    /// `local@domain`, without angle brackets: the caller's stable id, so that a retry keeps its Message-ID.
    public let messageId: String
    public let text: String
    public let html: String?
    public let images: [InlineImage]
    /// An `https:` URL that unsubscribes the recipient in one POST (RFC 8058).
    public let unsubscribeURL: String?

    /// The longest subject taken, in characters.
    public static let maxSubjectLength = 250
    /// The longest unsubscribe URL taken: it is one header line and cannot be folded.
    public static let maxURLLength = 900

    public init(
        from: MailAddress, to: [MailAddress], subject: String, date: Date, messageId: String, text: String,
        html: String? = nil, images: [InlineImage] = [], unsubscribeURL: String? = nil
    ) throws(MailError) {
        guard !to.isEmpty else { throw .invalid(field: "To", "at least one recipient") }
        guard !MailHeader.hasControl(subject) else { throw .headerInjection(field: "Subject") }
        guard subject.count <= Self.maxSubjectLength else {
            throw .invalid(field: "Subject", "at most \(Self.maxSubjectLength) characters")
        }
        guard !MailHeader.hasControl(messageId) else { throw .headerInjection(field: "Message-ID") }
        guard Self.isMessageIdText(messageId) else {
            throw .invalid(field: "Message-ID", "must be like id@example.org, in printable ASCII")
        }
        if let unsubscribeURL {
            guard !MailHeader.hasControl(unsubscribeURL) else { throw .headerInjection(field: "List-Unsubscribe") }
            guard unsubscribeURL.lowercased().hasPrefix("https://"), unsubscribeURL.count > "https://".count,
                unsubscribeURL.utf8.count <= Self.maxURLLength,
                unsubscribeURL.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != 0x3C && $0 != 0x3E })
            else {
                throw .invalid(
                    field: "List-Unsubscribe", "must be an https URL of printable ASCII without spaces or < >")
            }
        }
        guard images.isEmpty || html != nil else { throw .invalid(field: "images", "inline images need an HTML part") }
        guard Set(images.map(\.contentId)).count == images.count else {
            throw .invalid(field: "images", "each inline image needs its own Content-ID")
        }
        self.from = from
        self.to = to
        self.subject = subject
        self.date = date
        self.messageId = messageId
        self.text = text
        self.html = html
        self.images = images
        self.unsubscribeURL = unsubscribeURL
    }

    /// The message as sent: CRLF lines, none over 998 characters, body lines within 76.
    public func rendered() -> [UInt8] {
        var head: [String] = []
        head.append(Self.addressField("From", [from]))
        head.append(Self.addressField("To", to))
        head.append(MIMEEncoding.unstructuredField("Subject", subject))
        head.append("Date: " + Self.rfc5322Date(date))
        head.append("Message-ID: <\(messageId)>")
        head.append("MIME-Version: 1.0")
        // A notification, not a person writing (RFC 3834): auto-responders stay quiet.
        head.append("Auto-Submitted: auto-generated")
        if let unsubscribeURL {
            head.append("List-Unsubscribe: <\(unsubscribeURL)>")
            head.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        }
        let body = bodyEntity()
        let all =
            head.joined(separator: "\r\n") + "\r\n" + body.headers.joined(separator: "\r\n") + "\r\n\r\n"
            + body.content
        return Array(all.utf8)
    }

    /// A MIME entity: its Content-* headers and its encoded content.
    struct Entity {
        var headers: [String]
        var content: String

        func rendered() -> String { headers.joined(separator: "\r\n") + "\r\n\r\n" + content }
    }

    /// text/plain alone; or multipart/alternative of text and HTML; or, with images, multipart/related holding
    /// that alternative and the images (RFC 2387), the HTML first as the root.
    func bodyEntity() -> Entity {
        let plain = Entity(
            headers: ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"],
            content: MIMEEncoding.quotedPrintable(text) + "\r\n")
        guard let html else { return plain }
        let htmlPart = Entity(
            headers: ["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"],
            content: MIMEEncoding.quotedPrintable(html) + "\r\n")
        let alternative = Self.multipart(
            "alternative", boundary: boundary("alt"), parts: [plain, htmlPart], extra: "")
        guard !images.isEmpty else { return alternative }
        let imageParts = images.map { image in
            Entity(
                headers: [
                    "Content-Type: \(image.mediaType); name=\"\(image.filename)\"",
                    "Content-Transfer-Encoding: base64",
                    "Content-ID: <\(image.contentId)>",
                    "Content-Disposition: inline; filename=\"\(image.filename)\"",
                ],
                content: MIMEEncoding.base64Lines(image.data))
        }
        return Self.multipart(
            "related", boundary: boundary("rel"), parts: [alternative] + imageParts,
            extra: ";\r\n type=\"multipart/alternative\"")
    }

    static func multipart(_ subtype: String, boundary: String, parts: [Entity], extra: String) -> Entity {
        var content = ""
        for part in parts {
            content += "--\(boundary)\r\n" + part.rendered()
            if !content.hasSuffix("\r\n") { content += "\r\n" }
        }
        content += "--\(boundary)--\r\n"
        return Entity(
            headers: ["Content-Type: multipart/\(subtype);\r\n boundary=\"\(boundary)\"\(extra)"], content: content)
    }

    /// A boundary that cannot occur in quoted-printable or base64 text (`=_` is neither), fixed by the Message-ID
    /// so the same message renders the same.
    func boundary(_ label: String) -> String {
        let crc = CRC32.checksum(Array(messageId.utf8))
        return "=_cubby_\(label)_" + String(crc, radix: 16) + "_" + String(messageId.utf8.count)
    }

    /// `To: a@example.org, Name <b@example.org>`, folded between words.
    static func addressField(_ name: String, _ addresses: [MailAddress]) -> String {
        var words: [String] = []
        for (i, address) in addresses.enumerated() {
            let last = i == addresses.count - 1
            let angle = "<\(address.address)>" + (last ? "" : ",")
            if let display = address.displayName {
                words += MIMEEncoding.phraseWords(display) + [angle]
            } else {
                words.append(address.address + (last ? "" : ","))
            }
        }
        return MIMEEncoding.fold(name: name, words: words)
    }

    /// `Thu, 03 Dec 2026 19:03:11 +0000` (RFC 5322 §3.3), in UTC.
    static func rfc5322Date(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (proleptic Gregorian), after H. Hinnant's days_from_civil inverse.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekdays[weekday]), \(two(day)) \(months[Int(month) - 1]) \(year) "
            + "\(two(secondOfDay / 3_600)):\(two(secondOfDay % 3_600 / 60)):\(two(secondOfDay % 60)) +0000"
    }

    /// `left@right` of dot-atom text (RFC 5322 §3.6.4), at most 250 characters.
    static func isMessageIdText(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return text.utf8.count <= 250 && parts.count == 2
            && parts.allSatisfy { part in
                !part.isEmpty && part.utf8.allSatisfy(MailAddress.isDotAtom) && !part.hasPrefix(".")
                    && !part.hasSuffix(".") && !part.contains("..")
            }
    }
}
