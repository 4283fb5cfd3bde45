import CubbyCore
import CubbyDemo
import CubbyMail
import CubbyServer
import Foundation
import Logging
import Testing

@Suite("The email and SMS channels fail a delivery for good when nothing reaches the recipient")
struct PersonalChannelTests {
    @Test("no email address, no phone number, no recipient: a permanent failure with its reason, nothing sent")
    func unreachable() async throws {
        try await TestWorld.with(.sqlite) { w in
            // Port 9 on loopback: nothing listens, so a send would fail transiently, not permanently.
            let smtp = try SMTPConfiguration(url: "smtp://127.0.0.1:9?tls=none", from: "lockers@example.org")
            let email = EmailChannel(
                configuration: smtp, recipients: w.parts.recipients, linkBase: "https://lockers.example.org",
                logger: TestWorld.logger)
            let sms = SMSChannel(
                configuration: try SMSGatewayConfiguration(url: "http://127.0.0.1:9/messages", token: "t"),
                recipients: w.parts.recipients, logger: TestWorld.logger)
            let note = try JSONDecoder().decode(
                SignInCodeNotification.self,
                from: Data(
                    """
                    {"notificationId": "\(EntityID.make())", "kind": "\(SignInCodeNotification.kind)",
                     "recipientId": "\(w.manifest.recipients[0].id)", "code": "12345678",
                     "expiresAt": "2026-12-03T12:00:00.000Z"}
                    """.utf8))
            // The demo's residents have an email address and no phone number.
            let withEmail = w.manifest.recipients[0].id
            #expect(
                await sms.deliver(messageId: "m1", notification: .signInCode(note), target: withEmail)
                    == .permanentFailure("the recipient has no phone number"))
            let gone = UUID().uuidString.lowercased()
            #expect(
                await email.deliver(messageId: "m2", notification: .signInCode(note), target: gone)
                    == .permanentFailure("the recipient no longer exists"))
            // With an address, the attempt reaches the network and fails there, for this attempt only.
            let attempt = await email.deliver(messageId: "m3", notification: .signInCode(note), target: withEmail)
            guard case .transientFailure = attempt else {
                Issue.record("a refused connection should be transient, got \(attempt)")
                return
            }
            // Reminders, expiry notices and receipts fail the same way, one delivery at a time.
            for kind in ParcelNoticeKind.allCases {
                var notice = ParcelNoticeNotification(
                    notificationId: EntityID.make(), kind: kind.rawValue, recipientId: withEmail,
                    parcelId: EntityID.make(), trackingNumber: "T1", unitId: w.unit, unitName: "Lobby A",
                    compartmentLabel: "A1")
                notice.reportURL = "https://lockers.example.org/report/x"
                #expect(
                    await sms.deliver(messageId: "n1", notification: .parcelNotice(notice), target: withEmail)
                        == .permanentFailure("the recipient has no phone number"))
                #expect(
                    await email.deliver(messageId: "n2", notification: .parcelNotice(notice), target: gone)
                        == .permanentFailure("the recipient no longer exists"))
                let sent = await email.deliver(messageId: "n3", notification: .parcelNotice(notice), target: withEmail)
                guard case .transientFailure = sent else {
                    Issue.record("\(kind): a refused connection should be transient, got \(sent)")
                    return
                }
            }
        }
    }
}
