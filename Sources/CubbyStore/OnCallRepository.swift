import CubbyCore
import Foundation
import SQLKit

/// One contact of a site's on-call list.
public struct OnCallRecord: Codable, Sendable, Hashable {
    public var siteId: String
    /// Where the contact stands in the list: 0 is paged first.
    public var position: Int64
    public var accountId: String
    /// Comma-separated: `email`, `sms`.
    public var channels: String
    /// Comma-separated: `critical`, `warning`, `info`.
    public var severities: String

    public init(siteId: String, position: Int64, accountId: String, channels: String, severities: String) {
        self.siteId = siteId
        self.position = position
        self.accountId = accountId
        self.channels = channels
        self.severities = severities
    }
}

/// One page of an alert: the contact paged at one step of the escalation, on which channels.
public struct AlertPageRecord: Codable, Sendable, Hashable {
    public var alertId: String
    public var step: Int64
    /// Nil when nobody on the list takes the alert's severity (the step is recorded so the gap shows).
    public var accountId: String?
    /// Comma-separated channels the page went out on; empty when nobody was paged.
    public var channels: String
    public var severity: String
    public var messageId: String?
    public var pagedAt: Int64

    public init(
        alertId: String, step: Int64, accountId: String?, channels: String, severity: String, messageId: String?,
        pagedAt: Int64
    ) {
        self.alertId = alertId
        self.step = step
        self.accountId = accountId
        self.channels = channels
        self.severity = severity
        self.messageId = messageId
        self.pagedAt = pagedAt
    }
}

/// Staff contact data, on-call lists and the alerts' paging state.
extension StoreSession {
    // MARK: staff contact

    /// A staff member's wrapped data key and sealed contact data (nil when none was ever set).
    public func staffContact(account: String) async throws -> (dataKey: Data?, contact: Data?)? {
        guard
            let row = try await sql.raw("SELECT data_key, contact FROM staff_accounts WHERE id = \(bind: account)")
                .first()
        else { return nil }
        return (
            try row.decode(column: "data_key", as: Data?.self), try row.decode(column: "contact", as: Data?.self)
        )
    }

    public func saveStaffContact(account: String, dataKey: Data, contact: Data?, at: Int64) async throws {
        try await sql.raw(
            """
            UPDATE staff_accounts SET data_key = \(bind: dataKey), contact = \(bind: contact), updated_at = \(bind: at)
            WHERE id = \(bind: account)
            """
        ).run()
    }

    // MARK: on-call lists

    /// The site's on-call list in paging order.
    public func onCall(site: String) async throws -> [OnCallRecord] {
        try await all("SELECT * FROM on_call WHERE site_id = \(bind: site) ORDER BY position", as: OnCallRecord.self)
    }

    /// How long the site waits for an acknowledgement before it pages the next contact.
    public func escalationDelaySeconds(site: String) async throws -> Int64? {
        try await sql.raw("SELECT escalation_delay_seconds FROM sites WHERE id = \(bind: site)").first()?.decode(
            column: "escalation_delay_seconds", as: Int64.self)
    }

    /// Replaces the site's on-call list and escalation delay.
    public func replaceOnCall(site: String, contacts: [OnCallRecord], delaySeconds: Int64, at: Int64) async throws {
        try await sql.raw("DELETE FROM on_call WHERE site_id = \(bind: site)").run()
        for c in contacts { try await insert("on_call", c) }
        try await sql.raw(
            """
            UPDATE sites SET escalation_delay_seconds = \(bind: delaySeconds), updated_at = \(bind: at)
            WHERE id = \(bind: site)
            """
        ).run()
    }

    /// The on-call rows that name `account`, at any site.
    public func onCallEntries(account: String) async throws -> [OnCallRecord] {
        try await all(
            "SELECT * FROM on_call WHERE account_id = \(bind: account) ORDER BY site_id, position",
            as: OnCallRecord.self)
    }

    // MARK: paging

    /// Open, unacknowledged alerts whose next page is due at `now`, oldest due first; on PostgreSQL locked, skipping
    /// rows another process holds, so two processes never page the same step.
    public func alertsDueForPaging(now: Int64, limit: Int) async throws -> [AlertRecord] {
        let skip: SQLQueryString = kind == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await all(
            """
            SELECT * FROM alerts WHERE next_page_at <= \(bind: now) AND resolved_at IS NULL AND acknowledged_at IS NULL
            ORDER BY next_page_at LIMIT \(bind: limit)\(skip)
            """, as: AlertRecord.self)
    }

    /// Records the page of one step and schedules the next; false when another process paged that step first.
    public func recordAlertPage(_ page: AlertPageRecord, nextPageAt: Int64) async throws -> Bool {
        let moved = try await sql.raw(
            """
            UPDATE alerts SET page_step = \(bind: page.step + 1), next_page_at = \(bind: nextPageAt)
            WHERE id = \(bind: page.alertId) AND page_step = \(bind: page.step) AND resolved_at IS NULL
              AND acknowledged_at IS NULL RETURNING id
            """
        ).all()
        guard !moved.isEmpty else { return false }
        try await insert("alert_pages", page)
        return true
    }

    /// When the earliest next page of an open, unacknowledged alert is due (nil: none is).
    public func nextAlertPageDue() async throws -> Int64? {
        try await sql.raw(
            """
            SELECT MIN(next_page_at) AS due FROM alerts
            WHERE next_page_at IS NOT NULL AND resolved_at IS NULL AND acknowledged_at IS NULL
            """
        ).first()?.decode(column: "due", as: Int64?.self)
    }

    /// Moves an alert's next page to `until` without paging (nil: never).
    public func postponeAlertPage(_ id: String, until: Int64?) async throws {
        try await sql.raw("UPDATE alerts SET next_page_at = \(bind: until) WHERE id = \(bind: id)").run()
    }

    /// Every page of an alert, first step first.
    public func alertPages(alert: String) async throws -> [AlertPageRecord] {
        try await all(
            "SELECT * FROM alert_pages WHERE alert_id = \(bind: alert) ORDER BY step", as: AlertPageRecord.self)
    }

    /// Alerts of an organization, newest first: the open ones, or the resolved ones.
    public func alerts(organization: String, resolved: Bool, limit: Int) async throws -> [AlertRecord] {
        let state: SQLQueryString = resolved ? "resolved_at IS NOT NULL" : "resolved_at IS NULL"
        return try await all(
            """
            SELECT * FROM alerts WHERE organization_id = \(bind: organization) AND \(state)
            ORDER BY created_at DESC LIMIT \(bind: limit)
            """, as: AlertRecord.self)
    }
}
