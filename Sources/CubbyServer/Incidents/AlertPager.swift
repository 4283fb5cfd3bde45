import CubbyCore
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// One page of an alert to one staff member, as the outbox carries it: ids only (not sealed). The channel reads the
/// alert, the site and the staff member's contact data when it sends, so the message says what is true then.
public struct AlertPageNotification: Codable, Sendable, Equatable {
    public var notificationId: String
    public var kind: String
    public var alertId: String
    public var step: Int64
    public var accountId: String
    public var severity: String

    public static let kind = "alert.page"
}

/// The outbox channels of pages to staff: one per medium, delivered to a staff account id.
public enum StaffPageChannelName {
    public static let email = "staff-email"
    public static let sms = "staff-sms"

    static func of(_ channel: MessageChannel) -> String {
        switch channel {
        case .email: email
        case .sms: sms
        }
    }
}

/// Pages the people on call. A new alert pages the first contact of its site's on-call list who takes its severity
/// at once; while nobody acknowledges it, each escalation delay later the next contact is paged, round the list again
/// and again, until someone acknowledges or resolves it. Every server process runs one; a step is paged once however
/// many run (the alert's step moves only where it still holds the value read, in the transaction that writes the
/// page). Wakes when an alert is written (through the outbox's wake, which a new alert rings at commit), and when the
/// next escalation is due (looked up after each round; at most `interval` apart).
public struct AlertPager: Service {
    let ledger: Ledger
    let interval: Duration
    let logger: Logger
    static let batch = 20

    public init(ledger: Ledger, interval: Duration, logger: Logger) {
        self.ledger = ledger
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        let bell = Doorbell()
        ledger.store.outboxWake.add(bell)
        defer { ledger.store.outboxWake.remove(bell) }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var wait = interval
            do {
                while try await pageDue() == Self.batch {}
                // Sleep until the next escalation is due, so it is paged on time, not at the next round.
                if let due = try await ledger.store.read({ s in try await s.nextAlertPageDue() }) {
                    let ms = max(10, due - ledger.clock.now().millisecondsSince1970 + 5)
                    wait = min(interval, .milliseconds(ms))
                }
            } catch {
                logger.warning("paging on-call staff failed", metadata: ["error": "\(error)"])
            }
            let upTo = wait
            try? await cancelWhenGracefulShutdown { await bell.wait(upTo: upTo) }
        }
    }

    /// Pages every alert whose next page is due; returns how many alerts it looked at.
    @discardableResult
    public func pageDue() async throws -> Int {
        let now = ledger.clock.now().millisecondsSince1970
        return try await ledger.write { s in
            let due = try await s.alertsDueForPaging(now: now, limit: Self.batch)
            for alert in due { try await page(s, alert, now: now) }
            return due.count
        }
    }

    /// Pages the contact of the alert's next step, or, when nobody on its site's list takes its severity, looks again
    /// one escalation delay later (a unit offline turns critical after an hour; a list may be filled in meanwhile).
    func page(_ s: StoreSession, _ alert: AlertRecord, now: Int64) async throws {
        guard let site = alert.siteId else {
            try await s.postponeAlertPage(alert.id, until: nil)
            return
        }
        let severity = AlertSeverity.of(kind: alert.kind, openForMs: now - alert.createdAt)
        let delay = (try await s.escalationDelaySeconds(site: site) ?? OnCallDesk.defaultDelaySeconds) * 1000
        var eligible: [OnCallRecord] = []
        for row in try await s.onCall(site: site)
        where row.severities.split(separator: ",").contains(Substring(severity.rawValue)) {
            if let account = try await s.staffAccount(id: row.accountId), account.status != "deactivated" {
                eligible.append(row)
            }
        }
        guard !eligible.isEmpty else {
            try await s.postponeAlertPage(alert.id, until: now + delay)
            return
        }
        let contact = eligible[Int(alert.pageStep % Int64(eligible.count))]
        let channels = contact.channels.split(separator: ",").compactMap { MessageChannel(rawValue: String($0)) }
        let messageId = EntityID.make()
        let page = AlertPageRecord(
            alertId: alert.id, step: alert.pageStep, accountId: contact.accountId,
            channels: channels.map(\.rawValue).joined(separator: ","), severity: severity.rawValue,
            messageId: messageId, pagedAt: now)
        guard try await s.recordAlertPage(page, nextPageAt: now + delay) else { return }
        let note = AlertPageNotification(
            notificationId: messageId, kind: AlertPageNotification.kind, alertId: alert.id, step: alert.pageStep,
            accountId: contact.accountId, severity: severity.rawValue)
        try await s.enqueue(
            OutboxMessage(
                id: messageId, kind: AlertPageNotification.kind, organizationId: alert.organizationId,
                payload: try JSONEncoder().encode(note), sealed: false,
                deliveries: channels.map { (StaffPageChannelName.of($0), contact.accountId) }),
            at: now)
        try await s.appendAudit(
            AuditRecord(
                occurredAt: Date(millisecondsSince1970: now),
                event: alert.pageStep == 0 ? .alertPaged : .alertEscalated,
                outcome: .success, actor: .system, organizationId: EntityID.uuid(alert.organizationId),
                siteId: EntityID.uuid(site), unitId: EntityID.uuid(alert.unitId),
                compartmentId: EntityID.uuid(alert.compartmentId),
                detail: [
                    "alertId": alert.id, "kind": alert.kind, "severity": severity.rawValue,
                    "step": String(alert.pageStep), "account": contact.accountId, "channels": page.channels,
                ]))
    }
}
