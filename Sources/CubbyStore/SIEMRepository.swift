import CubbyCore
import Foundation
import SQLKit

/// Where forwarding to a SIEM stands: for each sink, one lease (only its holder forwards, so several server
/// processes never send the same records at once) and, per audit log, the next leaf index to send.
extension StoreSession {
    /// Takes or renews the sink's lease for `token` until `until`; false when another holder's lease still runs.
    /// A sink seen for the first time is started at `now`: logs it finds already open it joins at their end.
    public func claimSIEMLease(sink: String, token: String, now: Int64, until: Int64) async throws -> Bool {
        let rows = try await sql.raw(
            """
            INSERT INTO siem_sinks (sink, lease_token, lease_until, started_at) VALUES (\(bind: sink), \(bind: token),
              \(bind: until), \(bind: now))
            ON CONFLICT (sink) DO UPDATE SET lease_token = excluded.lease_token, lease_until = excluded.lease_until
            WHERE siem_sinks.lease_until < \(bind: now) OR siem_sinks.lease_token = excluded.lease_token
            RETURNING started_at
            """
        ).all()
        return !rows.isEmpty
    }

    /// Gives the lease up at once (a process that stops), so another process need not wait for it to run out.
    public func releaseSIEMLease(sink: String, token: String) async throws {
        try await sql.raw(
            "UPDATE siem_sinks SET lease_until = 0 WHERE sink = \(bind: sink) AND lease_token = \(bind: token)"
        ).run()
    }

    /// When the sink started forwarding (nil before its first lease).
    public func siemSinkStartedAt(sink: String) async throws -> Int64? {
        try await sql.raw("SELECT started_at FROM siem_sinks WHERE sink = \(bind: sink)").first()?.decode(
            column: "started_at", as: Int64.self)
    }

    /// The next leaf index to send, per log (by storage key).
    public func siemCursors(sink: String) async throws -> [String: Int64] {
        let rows = try await sql.raw("SELECT log_key, next_index FROM siem_cursors WHERE sink = \(bind: sink)").all()
        var out: [String: Int64] = [:]
        for row in rows {
            out[try row.decode(column: "log_key", as: String.self)] = try row.decode(
                column: "next_index", as: Int64.self)
        }
        return out
    }

    /// Moves a log's cursor to `next` while `token` holds the sink's lease; false when the lease was lost (then
    /// nothing moves, and the new holder sends from the old cursor).
    public func advanceSIEMCursor(sink: String, log: AuditLogID, next: Int64, token: String, at: Int64) async throws
        -> Bool
    {
        let held = try await sql.raw(
            "SELECT sink FROM siem_sinks WHERE sink = \(bind: sink) AND lease_token = \(bind: token)"
        ).first()
        guard held != nil else { return false }
        try await sql.raw(
            """
            INSERT INTO siem_cursors (sink, log_key, next_index, updated_at) VALUES (\(bind: sink), \(bind: log.storageKey),
              \(bind: next), \(bind: at))
            ON CONFLICT (sink, log_key) DO UPDATE SET next_index = excluded.next_index, updated_at = excluded.updated_at
            """
        ).run()
        return true
    }
}

extension StoredAuditEvent {
    /// The event as the domain wrote it; nil when a stored field cannot be read back (then the caller says so).
    public var record: AuditRecord? {
        guard let id = UUID(uuidString: id), let outcome = AuditOutcome(rawValue: outcome),
            let actorKind = Actor.Kind(rawValue: actorKind),
            let detail = try? JSONDecoder().decode([String: String].self, from: Data(self.detail.utf8))
        else { return nil }
        return AuditRecord(
            id: id, occurredAt: Date(millisecondsSince1970: occurredAt), type: type, outcome: outcome,
            actor: Actor(kind: actorKind, id: actorId, role: actorRole), organizationId: EntityID.uuid(organizationId),
            siteId: EntityID.uuid(siteId), unitId: EntityID.uuid(unitId), compartmentId: EntityID.uuid(compartmentId),
            parcelId: EntityID.uuid(parcelId), trackingNumber: trackingNumber, detail: detail)
    }
}
