import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// Writes the notices about a parcel besides the parcel-ready message — reminders, the expiry notice, the pickup
/// receipt — into the outbox, in the caller's transaction. Each is first recorded in `parcel_notices`, whose key lets
/// only one writer record it: a second writer (another sweep, another server) writes nothing.
public struct ParcelNotices: Sendable {
    let keys: LockerKeys
    /// The server's recipient channels; each recipient's preferences for the kind pick among them.
    let recipientChannels: [String]
    /// Where links point (`public.url`).
    let linkBase: String

    public init(keys: LockerKeys, recipientChannels: [String], linkBase: String) {
        self.keys = keys
        self.recipientChannels = recipientChannels
        self.linkBase = linkBase
    }

    /// The `parcel_notices` names.
    static func reminder(_ hour: Int) -> String { "reminder:\(hour)" }
    static let expiry = "expiry"
    static let receipt = "receipt"

    /// The reminder hours a parcel already got (sent or skipped), from its notice names.
    static func reminderHours(_ notices: some Sequence<String>) -> Set<Int> {
        Set(notices.compactMap { $0.hasPrefix("reminder:") ? Int($0.dropFirst("reminder:".count)) : nil })
    }

    /// Sends the reminder a waiting parcel is due, if any, and records the overdue ones it skips (see
    /// ``ReminderPlan``); returns whether a reminder was written. The caller holds the parcel's row lock.
    public func remindIfDue(_ s: StoreSession, parcel: ParcelRecord, at now: Int64) async throws -> Bool {
        guard parcel.state == .deposited, let deposited = parcel.depositedAt, let site = try await s.site(parcel.siteId)
        else { return false }
        let got = Self.reminderHours(try await s.notices(parcel: parcel.id).keys)
        let plan = ReminderPlan.due(
            depositedAt: deposited, expiresAt: parcel.expiresAt, hours: ProvisioningRules.hours(site.reminderHours),
            sent: got, now: now)
        for hour in plan.skip {
            _ = try await s.recordNotice(
                parcel: parcel.id, notice: Self.reminder(hour), outcome: "skipped", message: nil, at: now)
        }
        guard let hour = plan.send else { return false }
        return try await write(s, .reminder, notice: Self.reminder(hour), parcel: parcel, site: site, at: now) {
            note in
            note.depositedAt = AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: deposited))
            note.residentURL = linkBase + "/me"
        }
    }

    /// The expiry notice of a parcel that just expired.
    func expired(_ s: StoreSession, parcel: ParcelRecord, at now: Int64) async throws {
        try await dropReminders(s, parcel: parcel, because: "the parcel expired", at: now)
        let site = try await s.site(parcel.siteId)
        _ = try await write(s, .expiry, notice: Self.expiry, parcel: parcel, site: site, at: now) { note in
            note.happenedAt = AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: parcel.expiredAt ?? now))
        }
    }

    /// The receipt of a parcel just picked up, with its "not you? report it" link.
    func pickedUp(_ s: StoreSession, parcel: ParcelRecord, unit: UnitRecord, at now: Int64) async throws {
        try await dropReminders(s, parcel: parcel, because: "the parcel was picked up", at: now)
        let site = try await s.site(parcel.siteId)
        let token = PickupReports.token(keys: keys, parcel: parcel.id, recipient: parcel.recipientId)
        _ = try await write(s, .receipt, notice: Self.receipt, parcel: parcel, unit: unit, site: site, at: now) {
            note in
            note.happenedAt = AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: parcel.pickedUpAt ?? now))
            note.reportURL = linkBase + "/report/" + token
        }
    }

    /// A reminder still waiting to go out (an SMS held through quiet hours, a retry) says nothing true once the
    /// parcel is gone: its deliveries are given up.
    func dropReminders(_ s: StoreSession, parcel: ParcelRecord, because reason: String, at now: Int64) async throws {
        try await s.dropPendingDeliveries(
            parcel: parcel.id, kind: ParcelNoticeKind.reminder.rawValue, reason: reason, at: now)
    }

    /// Records `notice` and, when this call recorded it, writes its message on the channels the recipient keeps
    /// for its kind: an SMS reminder that falls in the site's quiet hours is due when they end.
    func write(
        _ s: StoreSession, _ kind: ParcelNoticeKind, notice: String, parcel: ParcelRecord, unit: UnitRecord? = nil,
        site: SiteRecord?, at now: Int64, _ fill: (inout ParcelNoticeNotification) -> Void
    ) async throws -> Bool {
        let id = EntityID.make()
        guard try await s.recordNotice(parcel: parcel.id, notice: notice, outcome: "sent", message: id, at: now)
        else { return false }
        var unitName = unit?.name
        if unitName == nil { unitName = try await s.unit(parcel.unitId)?.name }
        let compartment = try await parcel.compartmentId.asyncMap { try await s.compartment($0) } ?? nil
        var note = ParcelNoticeNotification(
            notificationId: id, kind: kind.rawValue, recipientId: parcel.recipientId, parcelId: parcel.id,
            trackingNumber: parcel.trackingNumber, unitId: parcel.unitId, unitName: unitName ?? "",
            compartmentLabel: compartment?.label ?? "")
        if let site { (note.siteName, note.siteAddress, note.siteTimeZone) = (site.name, site.address, site.timeZone) }
        note.expiresAt = parcel.expiresAt.map { AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: $0)) }
        note.language = try await s.recipient(parcel.recipientId)?.preferredLanguage
        fill(&note)
        let channels = try await RecipientChannels(recipientChannels).channels(
            for: kind.messageKind, recipient: parcel.recipientId, in: s)
        var dueAt: [String: Int64] = [:]
        if kind == .reminder, channels.contains(MessageChannel.sms.rawValue), let site,
            let quiet = QuietHours(text: site.quietHours),
            let end = Self.quietEnd(quiet, after: now, timeZone: site.timeZone)
        {
            dueAt[MessageChannel.sms.rawValue] = end
        }
        let sealed = try keys.outbox.seal(try JSONEncoder().encode(note), context: "outbox:" + id)
        try await s.enqueueNotification(
            id: id, kind: kind.rawValue, recipient: parcel.recipientId, parcel: parcel.id, payload: sealed,
            channels: channels, at: now, dueAt: dueAt)
        return true
    }

    /// When the quiet span `now` falls in ends, in the site's time zone (across a change of clocks too); nil when
    /// `now` is outside it.
    public static func quietEnd(_ quiet: QuietHours, after now: Int64, timeZone: String) -> Int64? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(secondsFromGMT: 0)!
        let date = Date(millisecondsSince1970: now)
        let c = calendar.dateComponents([.hour, .minute], from: date)
        guard quiet.contains(minute: (c.hour ?? 0) * 60 + (c.minute ?? 0)),
            let end = calendar.nextDate(
                after: date, matching: DateComponents(hour: quiet.end / 60, minute: quiet.end % 60, second: 0),
                matchingPolicy: .nextTime)
        else { return nil }
        return end.millisecondsSince1970
    }
}
