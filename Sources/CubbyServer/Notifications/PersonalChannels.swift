import AsyncHTTPClient
import CubbyCore
import CubbyMail
import CubbyStore
import Foundation
import Logging

/// How to reach one recipient, opened from their sealed contact data when a message goes out.
public struct RecipientContact: Sendable, Equatable {
    public var name: String?
    public var email: String?
    public var phone: String?
    public var language: PreferredLanguage
}

extension RecipientDesk {
    /// A recipient's contact data for the outbox's channels; nil when the recipient is gone or erased.
    public func contact(recipient id: String) async throws -> RecipientContact? {
        let found = try await store.read { s -> RecipientRecord? in
            let record = try await s.recipient(id)
            try await keys.ensureWrappingKey(s, for: record?.dataKey)
            return record
        }
        guard let record = found, record.erasedAt == nil else {
            return nil
        }
        let c = try open(record)
        return RecipientContact(
            name: c.name, email: c.email, phone: c.phone,
            language: PreferredLanguage(rawValue: record.preferredLanguage) ?? .en)
    }
}

/// Why a channel could not read a recipient's contact data, as the delivery's outcome.
struct ContactRefusal: Error {
    let outcome: DeliveryOutcome
}

extension RecipientDesk {
    /// The contact data a delivery to `id` needs: a recipient who is gone fails the delivery for good, a database
    /// that cannot be read fails this attempt only.
    func deliveryContact(_ id: String) async -> Result<RecipientContact, ContactRefusal> {
        do {
            guard let found = try await contact(recipient: id) else {
                return .failure(ContactRefusal(outcome: .permanentFailure("the recipient no longer exists")))
            }
            return .success(found)
        } catch {
            return .failure(ContactRefusal(outcome: .transientFailure("cannot read the recipient: \(error)")))
        }
    }
}

/// Email to recipients over SMTP: the parcel-ready message with its QR image and a one-click unsubscribe link, and
/// residents' sign-in codes. The Message-ID is the outbox message's id, the same on every retry.
public struct EmailChannel: OutboxChannel {
    public let name = MessageChannel.email.rawValue
    let configuration: SMTPConfiguration
    let recipients: RecipientDesk
    /// Where links point (`public.url`); the unsubscribe link needs https.
    let linkBase: String
    let logger: Logger

    public init(configuration: SMTPConfiguration, recipients: RecipientDesk, linkBase: String, logger: Logger) {
        self.configuration = configuration
        self.recipients = recipients
        self.linkBase = linkBase
        self.logger = logger
    }

    public func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        let contact: RecipientContact
        switch await recipients.deliveryContact(target) {
        case .success(let found): contact = found
        case .failure(let refusal): return refusal.outcome
        }
        guard let email = contact.email else { return .permanentFailure("the recipient has no email address") }
        let message: MailMessage
        do {
            let to = try MailAddress(email, name: contact.name)
            switch notification {
            case .parcelReady(var note):
                if note.language == nil { note.language = contact.language.rawValue }
                // An unsubscribe link only where people reach the server over https (RFC 8058 asks for it).
                let unsubscribe =
                    linkBase.lowercased().hasPrefix("https://")
                    ? linkBase + "/unsubscribe/" + recipients.unsubscribeToken(recipient: target, kind: .parcelReady)
                    : nil
                message = try ParcelReadyMessages.email(
                    note, to: to, from: configuration.from, unsubscribeURL: unsubscribe)
            case .parcelNotice(var note):
                if note.language == nil { note.language = contact.language.rawValue }
                let kind = NoticeMessages.messageKind(note)
                let unsubscribe =
                    linkBase.lowercased().hasPrefix("https://")
                    ? linkBase + "/unsubscribe/" + recipients.unsubscribeToken(recipient: target, kind: kind) : nil
                message = try NoticeMessages.email(note, to: to, from: configuration.from, unsubscribeURL: unsubscribe)
            case .signInCode(let note):
                message = try SignInCodeMessages.email(
                    note, language: contact.language, messageId: messageId, to: to, from: configuration.from)
            case .webhookEvent, .alertPage:
                return .permanentFailure("the email channel takes recipients' messages only")
            }
        } catch {
            return .permanentFailure("the message cannot be written: \(error)")
        }
        do {
            _ = try await SMTPClient(configuration: configuration, logger: logger).send(message)
            return .delivered
        } catch {
            return error.isPermanent ? .permanentFailure(error.description) : .transientFailure(error.description)
        }
    }
}

/// SMS to recipients through the configured HTTP gateway: the parcel-ready text (one segment where it fits) and
/// residents' sign-in codes. The gateway gets the outbox message's id, the same on every retry.
public struct SMSChannel: OutboxChannel {
    public let name = MessageChannel.sms.rawValue
    let gateway: SMSGateway
    let recipients: RecipientDesk
    /// One client for the process's life (it follows no redirects), as the webhook channel's.
    static let client = SMSGateway.makeHTTPClient()

    public init(configuration: SMSGatewayConfiguration, recipients: RecipientDesk, logger: Logger) {
        self.gateway = SMSGateway(configuration: configuration, client: Self.client, logger: logger)
        self.recipients = recipients
    }

    public func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        let contact: RecipientContact
        switch await recipients.deliveryContact(target) {
        case .success(let found): contact = found
        case .failure(let refusal): return refusal.outcome
        }
        guard let phone = contact.phone else { return .permanentFailure("the recipient has no phone number") }
        let text: String
        switch notification {
        case .parcelReady(var note):
            if note.language == nil { note.language = contact.language.rawValue }
            text = ParcelReadyMessages.sms(note)
        case .parcelNotice(var note):
            if note.language == nil { note.language = contact.language.rawValue }
            text = NoticeMessages.sms(note)
        case .signInCode(let note):
            text = SignInCodeMessages.sms(note, language: contact.language)
        case .webhookEvent, .alertPage:
            return .permanentFailure("the SMS channel takes recipients' messages only")
        }
        do {
            try await gateway.send(SMSMessage(to: phone, text: text, id: messageId))
            return .delivered
        } catch {
            return error.isPermanent ? .permanentFailure(error.description) : .transientFailure(error.description)
        }
    }
}

/// A resident's one-time sign-in code, by email and by SMS, in their language.
enum SignInCodeMessages {
    static func words(_ language: PreferredLanguage) -> (subject: String, line: String, lifetime: String) {
        switch language {
        case .es:
            (
                "Tu código para ver tus paquetes", "Tu código de acceso es",
                "Caduca en 10 minutos. Si no lo pediste, ignora este mensaje."
            )
        case .en:
            (
                "Your code to see your parcels", "Your sign-in code is",
                "It expires in 10 minutes. If you did not ask for it, ignore this message."
            )
        }
    }

    static func email(
        _ note: SignInCodeNotification, language: PreferredLanguage, messageId: String, to: MailAddress,
        from: MailAddress
    ) throws -> MailMessage {
        let w = words(language)
        return try MailMessage(
            from: from, to: [to], subject: w.subject, date: Date(), messageId: "\(messageId)@\(from.domain)",
            text: "\(w.line) \(note.code).\n\n\(w.lifetime)\n")
    }

    static func sms(_ note: SignInCodeNotification, language: PreferredLanguage) -> String {
        let w = words(language)
        return "\(w.line) \(note.code). \(w.lifetime)"
    }
}
