import CubbyCore
import Foundation
import SQLKit

/// A deposited parcel as the reminder sweep sees it: when it was deposited, when it expires, and its site's schedule.
public struct WaitingParcel: Codable, Sendable, Hashable {
    public var id: String
    public var depositedAt: Int64
    public var expiresAt: Int64?
    /// The site's reminder hours, comma-separated (empty: no reminders).
    public var reminderHours: String
}

/// The notices each parcel got besides the parcel-ready message: reminders (sent or skipped), the expiry notice and
/// the pickup receipt. A notice is recorded in the transaction that writes its message, and its key lets only one
/// writer record it, so none is sent twice however many servers run.
extension StoreSession {
    /// Records that `parcel` got `notice` (`outcome` `sent` or `skipped`, with the message when one was written),
    /// unless it already had it; returns whether this call recorded it.
    public func recordNotice(parcel: String, notice: String, outcome: String, message: String?, at: Int64)
        async throws -> Bool
    {
        let rows = try await sql.raw(
            """
            INSERT INTO parcel_notices (parcel_id, notice, outcome, message_id, at)
            VALUES (\(bind: parcel), \(bind: notice), \(bind: outcome), \(bind: message), \(bind: at))
            ON CONFLICT (parcel_id, notice) DO NOTHING RETURNING parcel_id
            """
        ).all()
        return !rows.isEmpty
    }

    /// The notices a parcel got, each with its outcome.
    public func notices(parcel: String) async throws -> [String: String] {
        var found: [String: String] = [:]
        for row in try await sql.raw(
            "SELECT notice, outcome FROM parcel_notices WHERE parcel_id = \(bind: parcel)"
        ).all() {
            found[try row.decode(column: "notice", as: String.self)] = try row.decode(
                column: "outcome", as: String.self)
        }
        return found
    }

    /// The notices of several parcels, by parcel.
    public func notices(parcels: [String]) async throws -> [String: Set<String>] {
        guard !parcels.isEmpty else { return [:] }
        var ids = SQLQueryString("")
        for (i, id) in parcels.enumerated() {
            if i > 0 { ids.appendLiteral(", ") }
            ids += "\(bind: id)"
        }
        var found: [String: Set<String>] = [:]
        for row in try await sql.raw("SELECT parcel_id, notice FROM parcel_notices WHERE parcel_id IN (\(ids))").all() {
            found[try row.decode(column: "parcel_id", as: String.self), default: []].insert(
                try row.decode(column: "notice", as: String.self))
        }
        return found
    }

    /// Deposited parcels deposited at or before `depositedBefore`, by id after `after`, at most `limit`.
    public func waitingParcels(after: String?, depositedBefore: Int64, limit: Int) async throws -> [WaitingParcel] {
        try await all(
            """
            SELECT p.id, p.deposited_at, p.expires_at, s.reminder_hours FROM parcels p JOIN sites s ON s.id = p.site_id
            WHERE p.state = 'deposited' AND p.deposited_at <= \(bind: depositedBefore) AND p.id > \(bind: after ?? "")
            ORDER BY p.id LIMIT \(bind: limit)
            """, as: WaitingParcel.self)
    }
}

extension StoreSession {
    /// Gives up the deliveries of a parcel's messages of `kind` not yet attempted or still to be retried (a
    /// reminder held through quiet hours, once the parcel is picked up or expired); returns how many.
    @discardableResult
    public func dropPendingDeliveries(parcel: String, kind: String, reason: String, at now: Int64) async throws -> Int {
        let messages = try await sql.raw(
            """
            UPDATE outbox_deliveries SET state = 'dead', last_error = \(bind: reason), lease_token = NULL,
              updated_at = \(bind: now)
            WHERE state IN ('pending','failed') AND message_id IN (
              SELECT id FROM outbox_messages WHERE parcel_id = \(bind: parcel) AND kind = \(bind: kind))
            RETURNING message_id
            """
        ).all().map { try $0.decode(column: "message_id", as: String.self) }
        for m in Set(messages) { try await finishMessageIfDone(m, at: now) }
        return messages.count
    }
}
