import CubbyCore
import CubbyStore

/// What a staff member may read of the audit log: its organization's events, and of those an administrator
/// limited to some sites sees its sites' events and the organization-wide ones.
public struct AuditReader: Sendable {
    let log: AuditLog
    let store: any SQLStore

    public init(log: AuditLog, store: any SQLStore) {
        self.log = log
        self.store = store
    }

    /// The log a reader asks about: its organization's, or (`frozen`) the deployment-wide log of earlier
    /// versions, of which it sees its organization's events only.
    public static func log(_ p: Principal, frozen: Bool) -> AuditLogID {
        frozen ? .frozen : .organization(p.organizationId)
    }

    /// One page of events from leaf index `from`, with the index to continue from (nil after the last page).
    public func page(_ p: Principal, frozen: Bool = false, from: Int64, limit: Int) async throws -> (
        events: [(Int64, StoredAuditEvent)], next: Int64?
    ) {
        try AccessPolicy.require(p, .readAudit)
        // What was committed is sequenced first, so a reader sees its own writes.
        try await log.sequence()
        let org = p.organizationId.idString
        let target = Self.log(p, frozen: frozen)
        let events = try await store.read { s in
            try await s.sequencedEvents(target, from: from, limit: limit, organization: frozen ? org : nil)
        }
        let visible = events.filter { Scope.covers(p, event: $0.1) }
        return (visible, events.count == limit ? events.last.map { $0.0 + 1 } : nil)
    }

    /// One event by id, with its log and leaf index, when the reader may see it; nil (a 404) otherwise,
    /// including for another organization's events.
    public func event(_ p: Principal, id: String) async throws -> (
        log: AuditLogID, index: Int64, event: StoredAuditEvent
    )? {
        try AccessPolicy.require(p, .readAudit)
        try await log.sequence()
        guard let found = try await store.read({ s in try await s.auditEventLeaf(id: id) }) else { return nil }
        guard found.event.organizationId == p.organizationId.idString, Scope.covers(p, event: found.event) else {
            return nil
        }
        switch found.log {
        case .frozen, .organization(p.organizationId): return found
        default: return nil
        }
    }
}
