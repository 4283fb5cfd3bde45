import Testing

@testable import CubbyMail

@Suite("SMTP configuration")
struct SMTPConfigurationTests {
    struct Good: Sendable, CustomStringConvertible {
        var url: String
        var host: String
        var port: Int
        var security: SMTPConfiguration.Security
        var user: String?
        var password: String?
        var description: String { url }
    }

    @Test(
        "URLs that are taken",
        arguments: [
            Good(url: "smtp://relay.example.org", host: "relay.example.org", port: 587, security: .startTLS),
            Good(
                url: "smtp://relay.example.org?tls=starttls", host: "relay.example.org", port: 587, security: .startTLS),
            Good(
                url: "smtp://relay.example.org?tls=implicit", host: "relay.example.org", port: 465,
                security: .implicitTLS),
            Good(url: "SMTP://localhost?tls=none", host: "localhost", port: 25, security: .none),
            Good(url: "smtp://127.0.0.1:2525?tls=NONE", host: "127.0.0.1", port: 2525, security: .none),
            Good(url: "smtp://[::1]:2525/?tls=implicit", host: "::1", port: 2525, security: .implicitTLS),
            Good(
                url: "smtp://user:pass@mail.example.org:587", host: "mail.example.org", port: 587, security: .startTLS,
                user: "user", password: "pass"),
            Good(
                url: "smtp://us%40er:p%3Ass%2F%25w%C3%B6rd@mail.example.org?tls=implicit", host: "mail.example.org",
                port: 465, security: .implicitTLS, user: "us@er", password: "p:ss/%wörd"),
            Good(
                url: "smtp://apikey:a:b@relay-1.example.org:1", host: "relay-1.example.org", port: 1,
                security: .startTLS, user: "apikey", password: "a:b"),
        ])
    func good(_ c: Good) throws {
        let config = try SMTPConfiguration(url: c.url, from: "Cubby <noreply@example.org>")
        #expect(config.host == c.host)
        #expect(config.port == c.port)
        #expect(config.security == c.security)
        #expect(config.username == c.user)
        #expect(config.password == c.password)
        #expect(config.from.address == "noreply@example.org")
        #expect(config.from.displayName == "Cubby")
    }

    @Test(
        "URLs that are refused, with the setting named",
        arguments: [
            "", "relay.example.org", "http://relay.example.org", "smtps://relay.example.org", "smtp://",
            "smtp://relay.example.org:0", "smtp://relay.example.org:65536", "smtp://relay.example.org:25x",
            "smtp://relay.example.org:", "smtp://relay.example.org?tls=maybe", "smtp://relay.example.org?tls",
            "smtp://relay.example.org?port=25", "smtp://relay.example.org/path", "smtp://user@relay.example.org",
            "smtp://:pass@relay.example.org", "smtp://user:@relay.example.org", "smtp://user:p%zzss@relay.example.org",
            "smtp://user:p%@relay.example.org", "smtp://user:p%FFss@relay.example.org", "smtp://relay example.org",
            "smtp://relay.example.org\r\nRCPT", "smtp://rélay.example.org", "smtp://-relay.example.org",
            "smtp://relay..example.org", "smtp://[::1", "smtp://[zz]:25", "smtp://user:p%00@relay.example.org",
            "smtp://relay.example.org#frag",
        ])
    func bad(_ url: String) {
        #expect {
            try SMTPConfiguration(url: url, from: "noreply@example.org")
        } throws: { error in
            guard case .invalidURL(let why) = error as? SMTPConfigurationError else { return false }
            return why.contains("CUBBY_SMTP_URL")
        }
    }

    @Test(
        "senders that are refused",
        arguments: ["", "noreply", "Cubby <noreply>", "a@b", "Cubby\r\nBcc: x@example.org <a@example.org>", "<>"])
    func badFrom(_ from: String) {
        #expect(throws: SMTPConfigurationError.self) {
            try SMTPConfiguration(url: "smtp://relay.example.org", from: from)
        }
    }

    @Test("the environment: off when unset, CUBBY_SMTP_FROM required, the CA file taken")
    func environment() throws {
        #expect(try SMTPConfiguration(environment: [:]) == nil)
        #expect(throws: SMTPConfigurationError.self) {
            try SMTPConfiguration(environment: ["CUBBY_SMTP_URL": "smtp://relay.example.org"])
        }
        let config = try #require(
            try SMTPConfiguration(environment: [
                "CUBBY_SMTP_URL": "smtp://u:p@relay.example.org?tls=implicit",
                "CUBBY_SMTP_FROM": "\"Cubby Lockers\" <lockers@example.org>", "CUBBY_SMTP_CA_FILE": "/etc/relay-ca.pem",
            ]))
        #expect(config.caFile == "/etc/relay-ca.pem")
        #expect(config.from.displayName == "Cubby Lockers")
        #expect(config.port == 465)
    }

    @Test("reply lines: multi-line replies, codes, and malformed lines")
    func replies() throws {
        var parser = SMTPReplyParser()
        parser.append(Array("250-mail.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n220".utf8))
        let reply = try #require(try parser.next())
        #expect(reply.code == 250)
        #expect(reply.lines == ["mail.test", "STARTTLS", "AUTH PLAIN LOGIN"])
        #expect(try parser.next() == nil)
        #expect(!parser.isEmpty)
        parser.append(Array("\n354\r\n".utf8))
        #expect(try parser.next() == SMTPReply(code: 220, lines: [""]))
        #expect(try parser.next() == SMTPReply(code: 354, lines: [""]))
        #expect(parser.isEmpty)

        for bad in ["hello\r\n", "25\r\n", "250x\r\n", "199 no\r\n", "600 no\r\n", "250-a\r\n251 b\r\n"] {
            var p = SMTPReplyParser()
            p.append(Array(bad.utf8))
            #expect(throws: SMTPError.self, "\(bad.debugDescription)") {
                while try p.next() != nil {}
            }
        }
        var long = SMTPReplyParser()
        long.append([UInt8](repeating: UInt8(ascii: "2"), count: SMTPReplyParser.maxLineLength + 10))
        #expect(throws: SMTPError.self) { try long.next() }
    }

    @Test(
        "DATA: CRLF line ends, dot-stuffing and the closing dot",
        arguments: [
            ("a\r\nb", "a\r\nb\r\n.\r\n"), ("a\nb\n", "a\r\nb\r\n.\r\n"), (".", "..\r\n.\r\n"),
            (".hidden\r\n..two\r\n", "..hidden\r\n...two\r\n.\r\n"), ("x\r\n.\r\ny", "x\r\n..\r\ny\r\n.\r\n"),
            ("a\rb", "a\r\nb\r\n.\r\n"), ("", ".\r\n"), ("mid.dle .\r\n", "mid.dle .\r\n.\r\n"),
        ])
    func dotStuffing(input: String, expected: String) {
        #expect(String(decoding: SMTPClient.dataBytes(Array(input.utf8)), as: UTF8.self) == expected)
    }

    @Test("permanent and transient failures")
    func permanence() {
        #expect(SMTPError.rejected(step: .rcptTo, code: 550, message: "").isPermanent)
        #expect(SMTPError.rejected(step: .auth, code: 535, message: "").isPermanent)
        #expect(!SMTPError.rejected(step: .rcptTo, code: 451, message: "").isPermanent)
        #expect(!SMTPError.timeout(step: .greeting).isPermanent)
        #expect(!SMTPError.connection(step: .connect, "refused").isPermanent)
        #expect(!SMTPError.startTLSUnavailable.isPermanent)
        #expect(SMTPError.authenticationUnavailable(offered: ["CRAM-MD5"]).isPermanent)
    }
}
