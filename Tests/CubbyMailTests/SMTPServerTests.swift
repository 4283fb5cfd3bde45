import CubbyCore
import Foundation
import Testing

@testable import CubbyMail

/// Starts `tests-mail/smtp_server.py` (aiosmtpd) in `mode` with its own CA, and gives a client configured for it.
private struct Relay {
    let server: ServerProcess
    let directory: URL

    init(_ mode: String, extra: [String] = []) throws {
        directory = try temporaryDirectory("smtp")
        server = try ServerProcess(
            script: "tests-mail/smtp_server.py", arguments: ["--tls", mode, "--dir", directory.path] + extra,
            directory: directory)
    }

    func configuration(
        _ security: String, user: String? = "cubby", password: String = "s3cret%3Ap%40ss", host: String = "localhost"
    ) throws -> SMTPConfiguration {
        let credentials = user.map { "\($0):\(password)@" } ?? ""
        return try SMTPConfiguration(
            url: "smtp://\(credentials)\(host):\(server.port)?tls=\(security)", from: "Cubby <lockers@example.org>",
            // The standard timeouts: the machine running the suite may be busy with much else.
            caFile: directory.appendingPathComponent("ca.pem").path)
    }

    /// The saved messages' envelopes, in order.
    func envelopes() throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        var n = 1
        while let data = try? Data(contentsOf: directory.appendingPathComponent("\(n).json")) {
            out.append(try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:])
            n += 1
        }
        return out
    }

    func message(_ n: Int) -> URL { directory.appendingPathComponent("\(n).eml") }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

private func message(
    to: String = "ana@example.org", name: String? = "Ana", subject: String = "Parcel ready",
    text: String = "PIN 123456\n.a line that starts with a dot\n.\n", qr: String? = "v1.token-for-the-test"
) throws -> MailMessage {
    let images = try qr.map {
        [
            try InlineImage(
                contentId: "qr.m1@example.org", filename: "pickup-qr.png", data: try QRCode(text: $0).png(scale: 4))
        ]
    }
    return try MailMessage(
        from: MailAddress("lockers@example.org", name: "Cubby"), to: [MailAddress(to, name: name)], subject: subject,
        date: Date(), messageId: "m1-\(UUID().uuidString)@example.org", text: text,
        html: qr == nil ? nil : "<p>PIN 123456</p><img src=\"cid:qr.m1@example.org\" alt=\"QR\">", images: images ?? [],
        unsubscribeURL: "https://lockers.example.org/unsubscribe/abc")
}

@Suite("SMTP client against aiosmtpd", .enabled(if: mailTestsEnabled), .serialized)
struct SMTPServerTests {
    @Test("STARTTLS and AUTH PLAIN: the message arrives whole, over TLS, as the test user")
    func startTLSPlain() async throws {
        let relay = try Relay("starttls")
        defer { relay.stop() }
        let mail = try message(name: "José Ñúñez", subject: "Tu paquete está listo en «Álamo» 📦")
        let reply = try await SMTPClient(configuration: try relay.configuration("starttls")).send(mail)
        #expect(reply.code == 250)
        let envelope = try #require(try relay.envelopes().first)
        #expect(envelope["tls"] as? Bool == true)
        #expect(envelope["login"] as? String == "cubby")
        #expect(envelope["mail_from"] as? String == "lockers@example.org")
        #expect(envelope["rcpt_tos"] as? [String] == ["ana@example.org"])

        let parsed = try checkMessage(relay.message(1))
        #expect(parsed["subject"] as? String == "Tu paquete está listo en «Álamo» 📦")
        #expect(parsed["to_names"] as? [String] == ["José Ñúñez"])
        #expect(parsed["from_address"] as? String == "lockers@example.org")
        #expect(parsed["message_id"] as? String == "<\(mail.messageId)>")
        #expect(parsed["mime_version"] as? String == "1.0")
        #expect(parsed["list_unsubscribe"] as? String == "<https://lockers.example.org/unsubscribe/abc>")
        #expect(parsed["list_unsubscribe_post"] as? String == "List-Unsubscribe=One-Click")
        #expect(parsed["defects"] as? [String] == [])
        #expect(parsed["bare_lf"] as? Bool == false)
        #expect((parsed["longest_line"] as? Int ?? 999) <= 78)
        let text = try #require(parsed["text"] as? String).replacingOccurrences(of: "\r\n", with: "\n")
        #expect(text.contains("\n.a line that starts with a dot\n.\n"), "dot-stuffing undone by the server")
        let structure = try #require(parsed["structure"] as? [String: Any])
        #expect(structure["type"] as? String == "multipart/related")
        let parts = try #require(structure["parts"] as? [[String: Any]])
        #expect(parts.map { $0["type"] as? String } == ["multipart/alternative", "image/png"])
        let image = try #require((parsed["images"] as? [[String: Any]])?.first)
        #expect(image["content_id"] as? String == "<qr.m1@example.org>")
        #expect(image["disposition"] as? String == "inline")
        #expect(image["qr"] as? String == "v1.token-for-the-test")
        #expect((parsed["html"] as? String)?.contains("cid:qr.m1@example.org") == true)
    }

    @Test("AUTH LOGIN when the relay offers only LOGIN")
    func authLogin() async throws {
        let relay = try Relay("starttls", extra: ["--mechanisms", "LOGIN"])
        defer { relay.stop() }
        try await SMTPClient(configuration: try relay.configuration("starttls")).send(try message())
        #expect(try relay.envelopes().first?["login"] as? String == "cubby")
    }

    @Test("implicit TLS")
    func implicitTLS() async throws {
        let relay = try Relay("implicit")
        defer { relay.stop() }
        try await SMTPClient(configuration: try relay.configuration("implicit")).send(try message())
        let envelope = try #require(try relay.envelopes().first)
        #expect(envelope["tls"] as? Bool == true)
        #expect(envelope["login"] as? String == "cubby")
    }

    @Test("implicit TLS to an IP address checks the certificate's IP")
    func implicitTLSByAddress() async throws {
        let relay = try Relay("implicit")
        defer { relay.stop() }
        try await SMTPClient(configuration: try relay.configuration("implicit", host: "127.0.0.1")).send(try message())
        #expect(try relay.envelopes().count == 1)
    }

    @Test("tls=none to a loopback relay, with AUTH in the clear because the URL says so")
    func plainLoopback() async throws {
        let relay = try Relay("none", extra: ["--auth-in-clear"])
        defer { relay.stop() }
        try await SMTPClient(configuration: try relay.configuration("none", host: "127.0.0.1")).send(try message())
        let envelope = try #require(try relay.envelopes().first)
        #expect(envelope["tls"] as? Bool == false)
        #expect(envelope["login"] as? String == "cubby")
    }

    @Test("no STARTTLS offered: nothing is sent, the failure is transient")
    func refusesCleartext() async throws {
        let relay = try Relay("nostarttls")
        defer { relay.stop() }
        await #expect(throws: SMTPError.startTLSUnavailable) {
            try await SMTPClient(configuration: try relay.configuration("starttls")).send(try message())
        }
        #expect(try relay.envelopes().isEmpty)
        #expect(!SMTPError.startTLSUnavailable.isPermanent)
    }

    @Test("a certificate from another CA is refused (transient TLS failure)")
    func untrustedCertificate() async throws {
        let relay = try Relay("implicit")
        defer { relay.stop() }
        let other = try Relay("implicit")
        defer { other.stop() }
        var config = try relay.configuration("implicit")
        config.caFile = other.directory.appendingPathComponent("ca.pem").path
        let mail = try message()
        do throws(SMTPError) {
            try await SMTPClient(configuration: config).send(mail)
            Issue.record("sent through an untrusted relay")
        } catch {
            guard case .tls = error else {
                Issue.record("expected a TLS error, got \(error)")
                return
            }
            #expect(!error.isPermanent)
        }
        #expect(try relay.envelopes().isEmpty)
    }

    @Test("a wrong password is permanent (535)")
    func wrongPassword() async throws {
        let relay = try Relay("starttls")
        defer { relay.stop() }
        let mail = try message()
        let wrong = try relay.configuration("starttls", password: "nope")
        do throws(SMTPError) {
            try await SMTPClient(configuration: wrong).send(mail)
            Issue.record("sent with a wrong password")
        } catch {
            #expect(error.replyCode == 535)
            #expect(error.isPermanent)
        }
    }

    @Test("a 4xx to RCPT is transient, a 550 permanent")
    func recipientReplies() async throws {
        let relay = try Relay("starttls")
        defer { relay.stop() }
        let client = SMTPClient(configuration: try relay.configuration("starttls"))
        let busy = try message(to: "busy@example.org")
        let nobody = try message(to: "nobody@example.org")
        do throws(SMTPError) {
            try await client.send(busy)
            Issue.record("accepted")
        } catch {
            #expect(error == .rejected(step: .rcptTo, code: 451, message: "4.3.0 Mailbox busy, try again later"))
            #expect(!error.isPermanent)
        }
        do throws(SMTPError) {
            try await client.send(nobody)
            Issue.record("accepted")
        } catch {
            #expect(error.replyCode == 550)
            #expect(error.isPermanent)
        }
        #expect(try relay.envelopes().isEmpty)
    }

    @Test("a relay that does not answer times out (transient); a closed port is a transient connection failure")
    func timeouts() async throws {
        // A listening socket that never greets.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        // Closed exactly once: a second close could hit a descriptor number NIO has since reused.
        var isOpen = true
        defer { if isOpen { close(silent) } }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(silent, $0, length) }
        }
        listen(silent, 4)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(silent, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        var config = try SMTPConfiguration(
            url: "smtp://127.0.0.1:\(port)?tls=none", from: "lockers@example.org",
            timeouts: SMTPTimeouts(connect: .seconds(2), command: .milliseconds(300), data: .seconds(1)))
        await #expect(throws: SMTPError.timeout(step: .greeting)) {
            try await SMTPClient(configuration: config).send(try message())
        }
        close(silent)
        isOpen = false
        config.port = port
        let mail = try message()
        do throws(SMTPError) {
            try await SMTPClient(configuration: config).send(mail)
            Issue.record("connected to a closed port")
        } catch {
            #expect(!error.isPermanent)
        }
    }
}
