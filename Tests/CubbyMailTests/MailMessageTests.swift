import CubbyCore
import Foundation
import Testing

@testable import CubbyMail

/// Decodes quoted-printable text (soft breaks, `=XX`) to UTF-8.
func decodeQuotedPrintable(_ text: String) -> String {
    var bytes: [UInt8] = []
    let source = Array(text.replacingOccurrences(of: "=\r\n", with: "").utf8)
    var i = 0
    while i < source.count {
        if source[i] == UInt8(ascii: "="), i + 2 < source.count,
            let value = UInt8(String(decoding: source[i + 1...i + 2], as: UTF8.self), radix: 16)
        {
            bytes.append(value)
            i += 3
        } else {
            bytes.append(source[i])
            i += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

private func sample(
    subject: String = "Your parcel is ready", name: String? = "Ana", text: String = "Hello\n.dot line\n",
    html: String? = "<p>Hello</p>", unsubscribe: String? = "https://lockers.example.org/u/abc?x=1"
) throws -> MailMessage {
    let png = try QRCode(text: "token").png()
    return try MailMessage(
        from: MailAddress("lockers@example.org", name: "Cubby"), to: [MailAddress("ana@example.org", name: name)],
        subject: subject, date: Date(timeIntervalSince1970: 1_796_411_391), messageId: "0190-abcd@example.org",
        text: text, html: html,
        images: html == nil ? [] : [InlineImage(contentId: "qr.1@example.org", filename: "pickup-qr.png", data: png)],
        unsubscribeURL: unsubscribe)
}

@Suite("Mail message")
struct MailMessageTests {
    @Test("headers: From, To, Subject, Date, Message-ID, MIME-Version, List-Unsubscribe")
    func headers() throws {
        let text = String(decoding: try sample().rendered(), as: UTF8.self)
        let head = text.components(separatedBy: "\r\n\r\n")[0]
        #expect(head.contains("From: Cubby <lockers@example.org>\r\n"))
        #expect(head.contains("To: Ana <ana@example.org>\r\n"))
        #expect(head.contains("Subject: Your parcel is ready\r\n"))
        #expect(head.contains("Date: Fri, 04 Dec 2026 19:09:51 +0000\r\n"))
        #expect(head.contains("Message-ID: <0190-abcd@example.org>\r\n"))
        #expect(head.contains("MIME-Version: 1.0\r\n"))
        #expect(head.contains("List-Unsubscribe: <https://lockers.example.org/u/abc?x=1>\r\n"))
        #expect(head.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"))
        #expect(head.contains("Content-Type: multipart/related;"))
        let plain = String(decoding: try sample(html: nil, unsubscribe: nil).rendered(), as: UTF8.self)
        #expect(!plain.contains("List-Unsubscribe"))
        #expect(plain.contains("Content-Type: text/plain; charset=utf-8\r\n"))
    }

    @Test(
        "dates in RFC 5322 form",
        arguments: [
            (0.0, "Thu, 01 Jan 1970 00:00:00 +0000"), (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_796_411_391, "Fri, 04 Dec 2026 19:09:51 +0000"), (4_102_444_799, "Thu, 31 Dec 2099 23:59:59 +0000"),
        ])
    func dates(seconds: Double, expected: String) {
        #expect(MailMessage.rfc5322Date(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test("every line ends in CRLF, no line passes 998, body lines stay within 76")
    func lineLimits() throws {
        let long = String(repeating: "Ünïcödé wörds and a long line without breaks ", count: 40)
        let message = try sample(
            subject: String(long.prefix(250)), name: String(repeating: "Ñ", count: 100), text: long, html: long)
        let bytes = message.rendered()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\r"))
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.allSatisfy { $0.utf8.count <= MIMEEncoding.preferredLineLength }, "\(lines.map(\.count).max()!)")
        #expect(bytes.allSatisfy { $0 < 0x80 }, "7-bit clean")
    }

    @Test("a non-ASCII subject and name become encoded-words that decode to the text")
    func encodedWords() throws {
        let subject = "Tu paquete está listo en «Edificio Álamo» 📦 — recógelo pronto, por favor, gracias"
        let message = try sample(subject: subject, name: "José Ñúñez")
        let head = String(decoding: message.rendered(), as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
        let unfolded = head.replacingOccurrences(of: "\r\n ", with: " ")
        let subjectLine = try #require(unfolded.split(separator: "\r\n").first { $0.hasPrefix("Subject: ") })
        let words = subjectLine.dropFirst(9).split(separator: " ")
        #expect(words.count > 1)
        var decoded: [UInt8] = []
        for word in words {
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            #expect(word.count <= 75)
            let payload = word.dropFirst(10).dropLast(2)
            let part = try #require(Data(base64Encoded: String(payload)))
            #expect(String(data: part, encoding: .utf8) != nil, "each word holds whole characters")
            decoded += part
        }
        #expect(String(decoding: decoded, as: UTF8.self) == subject)
        #expect(unfolded.contains("To: =?UTF-8?B?"))
        #expect(unfolded.contains(" <ana@example.org>"))
        // Text that looks like an encoded-word is encoded too, so a reader cannot be fooled.
        let tricky = String(decoding: try sample(subject: "=?UTF-8?B?SGk=?=").rendered(), as: UTF8.self)
        #expect(!tricky.contains("Subject: =?UTF-8?B?SGk=?="))
    }

    @Test(
        "header injection is refused in every header value",
        arguments: ["\r\nBcc: x@example.org", "\n", "\r", "a\u{0}b", "a\u{85}b", "a\u{2028}b", "\u{7F}"])
    func headerInjection(evil: String) throws {
        #expect(throws: MailError.self) { try sample(subject: "Hi" + evil) }
        #expect(throws: MailError.self) { try sample(name: "Ana" + evil) }
        #expect(throws: MailError.self) { try sample(unsubscribe: "https://x.example.org/" + evil) }
        #expect(throws: MailError.self) {
            try MailMessage(
                from: MailAddress("a@example.org"), to: [MailAddress("b@example.org")], subject: "s", date: Date(),
                messageId: "id\(evil)@example.org", text: "t")
        }
        #expect(throws: MailError.self) { try MailAddress("ana\(evil)@example.org") }
        #expect(throws: MailError.self) { try MailAddress(parsing: "Ana\(evil) <ana@example.org>") }
    }

    @Test(
        "addresses, Message-IDs and unsubscribe URLs that are refused",
        arguments: [
            "plain", "@example.org", "a@", "a@example", "a b@example.org", "a@exa mple.org", "a@-x.example.org",
            "<a@example.org>", "a..b@example.org", ".a@example.org", "ñ@example.org", "a@example.org>",
        ])
    func badAddresses(text: String) {
        #expect(throws: MailError.self) { try MailAddress(text) }
    }

    @Test(
        "unsubscribe URLs must be https and printable",
        arguments: ["http://x.example.org/u", "https://", "https://x.example.org/a b", "https://x/<a>", "ftp://x"])
    func badUnsubscribe(url: String) {
        #expect(throws: MailError.self) { try sample(unsubscribe: url) }
    }

    @Test("quoted-printable keeps text, dots and trailing spaces, within 76 characters a line")
    func quotedPrintable() {
        let texts = [
            "plain", "trailing space \nnext", "tab\t\n", ".dot at start\n..", "a=b", "ünïcode ✓ 📦",
            String(repeating: "x", count: 300), String(repeating: "é", count: 100), "", "\n\n",
            String(repeating: "=", count: 80),
        ]
        for text in texts {
            let encoded = MIMEEncoding.quotedPrintable(text)
            #expect(encoded.components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 76 }, "\(text)")
            #expect(encoded.utf8.allSatisfy { $0 < 0x80 })
            #expect(!encoded.components(separatedBy: "\r\n").contains { $0.hasSuffix(" ") || $0.hasSuffix("\t") })
            #expect(decodeQuotedPrintable(encoded) == text.replacingOccurrences(of: "\n", with: "\r\n"), "\(text)")
        }
    }

    @Test("the same message renders to the same bytes; the boundaries appear only as boundaries")
    func deterministic() throws {
        let a = try sample().rendered()
        let b = try sample().rendered()
        #expect(a == b)
        let text = String(decoding: a, as: UTF8.self)
        let boundary = try sample().boundary("rel")
        #expect(text.components(separatedBy: "--" + boundary).count == 4)  // 2 parts and the close
    }

    @Test("inline images need HTML, distinct Content-IDs and tidy names")
    func images() throws {
        let png: [UInt8] = [1, 2, 3]
        let image = try InlineImage(contentId: "qr@example.org", filename: "qr.png", data: png)
        #expect(throws: MailError.self) {
            try MailMessage(
                from: MailAddress("a@example.org"), to: [MailAddress("b@example.org")], subject: "s", date: Date(),
                messageId: "m@example.org", text: "t", images: [image])
        }
        #expect(throws: MailError.self) {
            try MailMessage(
                from: MailAddress("a@example.org"), to: [MailAddress("b@example.org")], subject: "s", date: Date(),
                messageId: "m@example.org", text: "t", html: "<p>", images: [image, image])
        }
        #expect(throws: MailError.self) { try InlineImage(contentId: "qr", filename: "qr.png", data: png) }
        #expect(throws: MailError.self) { try InlineImage(contentId: "q@e.org", filename: "a\"b.png", data: png) }
        #expect(throws: MailError.self) {
            try InlineImage(contentId: "q@e.org", mediaType: "image/png\r\nX: y", filename: "a.png", data: png)
        }
    }
}
