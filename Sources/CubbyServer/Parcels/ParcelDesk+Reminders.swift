import CubbyCore
import CubbyStore
import Foundation

extension ParcelDesk {
    /// Sends the reminders that fell due on each site's schedule: one transaction per parcel, which locks it,
    /// checks again that it waits, records the overdue reminders it skips and writes the one it sends. Returns how
    /// many reminders were written. Run from the expiry timer; several servers may run it at once.
    @discardableResult
    public func remindDue(batch: Int = 200, maxPages: Int = 1_000) async throws -> Int {
        let nowMs = clock.now().millisecondsSince1970
        var after: String? = nil
        var written = 0
        for _ in 0..<maxPages {
            let from = after
            let page = try await store.read { s in
                try await s.waitingParcels(after: from, depositedBefore: nowMs - Milliseconds.hour, limit: batch)
            }
            guard let last = page.last else { break }
            after = last.id
            let got = try await store.read { s in try await s.notices(parcels: page.map(\.id)) }
            for waiting in page {
                let plan = ReminderPlan.due(
                    depositedAt: waiting.depositedAt, expiresAt: waiting.expiresAt,
                    hours: ProvisioningRules.hours(waiting.reminderHours),
                    sent: ParcelNotices.reminderHours(got[waiting.id] ?? []), now: nowMs)
                guard plan.send != nil || !plan.skip.isEmpty else { continue }
                let id = waiting.id
                let sent = try await ledger.write { s -> Bool in
                    guard let parcel = try await s.parcel(id, lock: true) else { return false }
                    return try await doors.notices.remindIfDue(s, parcel: parcel, at: nowMs)
                }
                if sent { written += 1 }
            }
            if page.count < batch { break }
        }
        return written
    }
}
