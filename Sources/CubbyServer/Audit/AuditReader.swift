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

    /// One page of events from leaf index `from`, with the index to continue from (nil after the last page).
    public func page(_ p: Principal, from: Int64, limit: Int) async throws -> (
        events: [(Int64, StoredAuditEvent)], next: Int64?
    ) {
        try AccessPolicy.require(p, .readAudit)
        // What was committed is sequenced first, so a reader sees its own writes.
        try await log.sequence()
        let org = p.organizationId.idString
        let events = try await store.read { s in
            try await s.sequencedEvents(from: from, limit: limit, organization: org)
        }
        let visible = events.filter { Scope.covers(p, event: $0.1) }
        return (visible, events.count == limit ? events.last.map { $0.0 + 1 } : nil)
    }
}
