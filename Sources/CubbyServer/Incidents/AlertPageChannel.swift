import CubbyCore
import CubbyMail
import CubbyStore
import Foundation
import Logging

/// What one page says, read from the database when it is sent.
struct AlertPageFacts: Sendable, Equatable {
    var alert: AlertRecord
    var severity: String
    var step: Int64
    var siteName: String
    var siteAddress: String
    var timeZone: String
    var unitName: String?
    var compartmentLabel: String?
    /// When the unit was locked down, if it is.
    var lockedDownAt: Int64?
    var link: String

    /// The alert's kind in words.
    var what: String {
        switch alert.kind {
        case "tamper": "Tamper signal"
        case "lockdown": "Unit locked down"
        case "lockdown_break_glass": "Lockdown lifted at the console"
        case "unit_offline": "Unit offline"
        case "compartment_fault": "Lock fault"
        case "mains_power": "Mains power lost"
        case "edge.chain_broken": "Unit journal altered"
        case "edge.sequence_gap": "Unit events missing"
        case "pickup.disputed": "Pickup disputed by its recipient"
        default: alert.kind
        }
    }

    var place: String {
        var parts = [String]()
        if let unitName { parts.append("unit \(unitName)") }
        if let compartmentLabel { parts.append("compartment \(compartmentLabel)") }
        parts.append(siteName)
        return parts.joined(separator: ", ")
    }

    /// `2026-12-04 10:02 UTC-05:00` in the site's time zone.
    func local(_ ms: Int64, seconds: Bool = false) -> String {
        let zone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 0)!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let date = Date(millisecondsSince1970: ms)
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        var text = String(
            format: "%04d-%02d-%02d %02d:%02d", c.year ?? 1970, c.month ?? 1, c.day ?? 1, c.hour ?? 0, c.minute ?? 0)
        if seconds { text += String(format: ":%02d", c.second ?? 0) }
        // The offset rather than an abbreviation, which the platforms spell differently ("EST", "GMT-5").
        let offset = zone.secondsFromGMT(for: date) / 60
        return text + String(format: " UTC%@%02d:%02d", offset < 0 ? "-" : "+", abs(offset) / 60, abs(offset) % 60)
    }

    var subject: String {
        "[\(severity.uppercased())] \(what): \(place)"
    }

    var emailText: String {
        var lines = [
            "\(what) (\(severity)).", "",
            alert.detail, "",
            "Where: \(place)" + (siteAddress.isEmpty ? "" : " (\(siteAddress))"),
            "When:  \(local(alert.createdAt, seconds: true)) (\(timeZone))",
        ]
        if alert.signals > 1 {
            lines.append("Signals: \(alert.signals), the latest at \(local(alert.lastSignalAt ?? alert.createdAt))")
        }
        if let lockedDownAt {
            lines.append("The unit: locked down since \(local(lockedDownAt)); pickups and drop-offs are refused there.")
        }
        lines += [
            "", "Alert page (sign in with your password and authenticator): \(link)", "",
            step == 0
                ? "You are the first contact on call for \(siteName)."
                : "Nobody acknowledged the alert, so it came to you (page \(step + 1)).",
            "Acknowledge it on the alert page to stop further pages.",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    var smsText: String {
        var text = "\(severity.uppercased()) \(what): \(place), \(local(alert.createdAt))."
        if lockedDownAt != nil { text += " Unit locked down." }
        if alert.signals > 1 { text += " \(alert.signals) signals." }
        return text + " " + link
    }
}

/// Pages to staff on one medium (email over SMTP, SMS through the gateway), to the staff account the delivery names.
public struct AlertPageChannel: OutboxChannel {
    public let name: String
    let medium: MessageChannel
    let ledger: Ledger
    let onCall: OnCallDesk
    let linkBase: String
    let smtp: SMTPConfiguration?
    let sms: SMSGateway?
    let logger: Logger

    public static func email(
        configuration: SMTPConfiguration, ledger: Ledger, keys: LockerKeys, linkBase: String, logger: Logger
    ) -> AlertPageChannel {
        AlertPageChannel(
            name: StaffPageChannelName.email, medium: .email, ledger: ledger,
            onCall: OnCallDesk(ledger: ledger, keys: keys),
            linkBase: linkBase, smtp: configuration, sms: nil, logger: logger)
    }

    public static func sms(
        configuration: SMSGatewayConfiguration, ledger: Ledger, keys: LockerKeys, linkBase: String, logger: Logger
    ) -> AlertPageChannel {
        AlertPageChannel(
            name: StaffPageChannelName.sms, medium: .sms, ledger: ledger,
            onCall: OnCallDesk(ledger: ledger, keys: keys),
            linkBase: linkBase, smtp: nil,
            sms: SMSGateway(configuration: configuration, client: SMSChannel.client, logger: logger), logger: logger)
    }

    public func deliver(messageId: String, notification: OutboxNotification, target: String) async -> DeliveryOutcome {
        guard case .alertPage(let note) = notification else {
            return .permanentFailure("the \(name) channel takes pages to staff only")
        }
        let facts: AlertPageFacts?
        let contact: StaffContact?
        do {
            facts = try await Self.facts(note, ledger: ledger, linkBase: linkBase)
            contact = try await onCall.contact(account: target)
        } catch {
            return .transientFailure("cannot read the alert or the staff member: \(error)")
        }
        guard let facts else { return .permanentFailure("the alert no longer exists") }
        guard let contact, contact.active else { return .permanentFailure("the staff member is gone or deactivated") }
        if facts.alert.resolvedAt != nil { return .permanentFailure("the alert was resolved before the page went out") }
        do {
            switch medium {
            case .email:
                guard let smtp else { return .permanentFailure("no SMTP relay is configured") }
                let message = try MailMessage(
                    from: smtp.from, to: [try MailAddress(contact.email)], subject: facts.subject, date: Date(),
                    messageId: "\(messageId)@\(smtp.from.domain)", text: facts.emailText)
                _ = try await SMTPClient(configuration: smtp, logger: logger).send(message)
            case .sms:
                guard let sms else { return .permanentFailure("no SMS gateway is configured") }
                guard let phone = contact.phone else {
                    return .permanentFailure("the staff member has no phone number")
                }
                try await sms.send(SMSMessage(to: phone, text: facts.smsText, id: messageId))
            }
            return .delivered
        } catch let error as SMTPError {
            return error.isPermanent ? .permanentFailure(error.description) : .transientFailure(error.description)
        } catch let error as SMSGatewayError {
            return error.isPermanent ? .permanentFailure(error.description) : .transientFailure(error.description)
        } catch {
            return .permanentFailure("the page cannot be written: \(error)")
        }
    }

    /// The page's facts; nil when the alert is gone.
    static func facts(_ note: AlertPageNotification, ledger: Ledger, linkBase: String) async throws -> AlertPageFacts? {
        try await ledger.store.read { s in
            guard let alert = try await s.alert(note.alertId) else { return nil }
            let site = try await alert.siteId.asyncMap { try await s.site($0) } ?? nil
            let unit = try await alert.unitId.asyncMap { try await s.unit($0) } ?? nil
            let compartment = try await alert.compartmentId.asyncMap { try await s.compartment($0) } ?? nil
            return AlertPageFacts(
                alert: alert, severity: note.severity, step: note.step, siteName: site?.name ?? "your organization",
                siteAddress: site?.address ?? "", timeZone: site?.timeZone ?? "UTC", unitName: unit?.name,
                compartmentLabel: compartment?.label, lockedDownAt: unit?.lockedDownAt,
                link: linkBase + "/admin/alerts/" + alert.id)
        }
    }
}
