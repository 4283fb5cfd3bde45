import CubbyCore
import CubbyStore

/// The audit log read in leaf order, one page at a time: the one loop that verification, exports and bundles use.
///
/// Each element is a page of rows whose leaf index lies in `from..<to`; the sequence ends after the last such row.
public struct AuditPages<Row: Sendable>: AsyncSequence, Sendable {
    public typealias Element = [Row]
    let from: Int64
    let to: Int64
    let batch: Int
    let index: @Sendable (Row) -> Int64
    let fetch: @Sendable (Int64, Int) async throws -> [Row]

    /// Pages of `fetch(cursor, batch)`, whose rows are in ascending order of `index`.
    public init(
        from: Int64, to: Int64 = .max, batch: Int = 1000, index: @escaping @Sendable (Row) -> Int64,
        fetch: @escaping @Sendable (Int64, Int) async throws -> [Row]
    ) {
        self.from = from
        self.to = to
        self.batch = batch
        self.index = index
        self.fetch = fetch
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pages: AuditPages
        var next: Int64
        var done = false

        public mutating func next() async throws -> [Row]? {
            guard !done, next < pages.to else { return nil }
            let rows = try await pages.fetch(next, pages.batch)
            guard let last = rows.last else {
                done = true
                return nil
            }
            next = pages.index(last) + 1
            let page = rows.filter { pages.index($0) < pages.to }
            if page.count < rows.count { done = true }
            return page
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self, next: from) }
}

extension AuditPages where Row == (Int64, StoredAuditEvent) {
    /// One log's sequenced events with their leaf indexes; in the frozen log, of one organization or (nil) of all.
    public static func events(
        _ store: any SQLStore, log: AuditLogID, from: Int64, to: Int64 = .max, organization: String? = nil,
        batch: Int = 1000
    ) -> AuditPages {
        AuditPages(
            from: from, to: to, batch: batch, index: { $0.0 },
            fetch: { cursor, limit in
                try await store.read { s in
                    try await s.sequencedEvents(log, from: cursor, limit: limit, organization: organization)
                }
            })
    }
}

extension AuditPages where Row == LeafWithEvent {
    /// One log's leaves with the events they hash, for verification.
    public static func leaves(_ store: any SQLStore, log: AuditLogID, from: Int64 = 0, batch: Int = 1000) -> AuditPages
    {
        AuditPages(
            from: from, batch: batch, index: { $0.index },
            fetch: { cursor, limit in
                try await store.read { s in try await s.leavesWithEvents(log, from: cursor, limit: limit) }
            })
    }
}
