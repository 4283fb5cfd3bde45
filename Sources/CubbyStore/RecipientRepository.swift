import CubbyCore
import Foundation
import SQLKit

/// An exact-match search of an organization's recipients, one page at a time (by id).
public struct RecipientQuery: Sendable {
    public var organizationId: String
    /// The sites searched (the caller's sites, or the one site asked for); empty finds nothing.
    public var siteIds: [String]
    public var emailHash: Data?
    public var externalIdHash: Data?
    public var apartmentKey: String?
    public var includeDeactivated: Bool
    /// Only recipients whose id sorts after this one (the previous page's last).
    public var after: String?
    public var limit: Int

    public init(
        organizationId: String, siteIds: [String], emailHash: Data? = nil, externalIdHash: Data? = nil,
        apartmentKey: String? = nil, includeDeactivated: Bool = true, after: String? = nil, limit: Int = 100
    ) {
        self.organizationId = organizationId
        self.siteIds = siteIds
        self.emailHash = emailHash
        self.externalIdHash = externalIdHash
        self.apartmentKey = apartmentKey
        self.includeDeactivated = includeDeactivated
        self.after = after
        self.limit = limit
    }
}

/// Reads and writes of the recipient directory.
extension StoreSession {
    /// Many recipients, several hundred per statement.
    public func insertRecipients(_ rows: [RecipientRecord]) async throws {
        var start = 0
        while start < rows.count {
            let chunk = Array(rows[start..<min(start + 500, rows.count)])
            try await sql.insert(into: "recipients").models(
                chunk, keyEncodingStrategy: ColumnNames.encoding, nilEncodingStrategy: .asNil
            ).run()
            start += chunk.count
        }
    }

    /// The recipient, locked until the transaction ends (PostgreSQL).
    public func lockRecipient(_ id: String) async throws -> RecipientRecord? {
        try await one("SELECT * FROM recipients WHERE id = \(bind: id)\(forUpdate)", as: RecipientRecord.self)
    }

    /// The organization's recipient with this email's keyed hash (deactivated ones included), if any.
    public func recipient(organization: String, emailHash: Data) async throws -> RecipientRecord? {
        try await one(
            """
            SELECT * FROM recipients WHERE organization_id = \(bind: organization) AND email_hash = \(bind: emailHash)
            AND erased_at IS NULL
            """, as: RecipientRecord.self)
    }

    /// The organization's recipient with this external id's keyed hash (deactivated ones included), if any.
    public func recipient(organization: String, externalIdHash: Data) async throws -> RecipientRecord? {
        try await one(
            """
            SELECT * FROM recipients WHERE organization_id = \(bind: organization)
            AND external_id_hash = \(bind: externalIdHash) AND erased_at IS NULL
            """, as: RecipientRecord.self)
    }

    /// One page of the recipients a query matches, ordered by id.
    public func recipients(_ q: RecipientQuery) async throws -> [RecipientRecord] {
        guard !q.siteIds.isEmpty, q.limit > 0 else { return [] }
        var query: SQLQueryString =
            "SELECT * FROM recipients WHERE organization_id = \(bind: q.organizationId) AND erased_at IS NULL AND site_id IN ("
        for (i, site) in q.siteIds.enumerated() {
            if i > 0 { query.appendLiteral(", ") }
            query += "\(bind: site)"
        }
        query.appendLiteral(")")
        if let h = q.emailHash { query += " AND email_hash = \(bind: h)" }
        if let h = q.externalIdHash { query += " AND external_id_hash = \(bind: h)" }
        if let a = q.apartmentKey { query += " AND apartment_key = \(bind: a)" }
        if !q.includeDeactivated { query.appendLiteral(" AND deactivated_at IS NULL") }
        if let after = q.after { query += " AND id > \(bind: after)" }
        query += " ORDER BY id LIMIT \(bind: q.limit)"
        return try await all(query, as: RecipientRecord.self)
    }

    /// Every recipient of the organization that is not erased (an import matches its rows against them).
    public func recipients(organization: String) async throws -> [RecipientRecord] {
        try await all(
            "SELECT * FROM recipients WHERE organization_id = \(bind: organization) AND erased_at IS NULL ORDER BY id",
            as: RecipientRecord.self)
    }

    /// Writes a recipient's changeable columns.
    public func saveRecipient(_ r: RecipientRecord) async throws {
        try await sql.raw(
            """
            UPDATE recipients SET site_id = \(bind: r.siteId), needs_accessible = \(bind: r.needsAccessible),
              contact = \(bind: r.contact), email_hash = \(bind: r.emailHash), apartment = \(bind: r.apartment),
              apartment_key = \(bind: r.apartmentKey), preferred_language = \(bind: r.preferredLanguage),
              external_id_hash = \(bind: r.externalIdHash), deactivated_at = \(bind: r.deactivatedAt),
              updated_at = \(bind: r.updatedAt)
            WHERE id = \(bind: r.id)
            """
        ).run()
    }

    /// Raw columns of a recipient's row, for tests that check what is stored at rest.
    public func recipientRowBytes(_ id: String) async throws -> [Data] {
        guard
            let row = try await sql.raw(
                "SELECT contact, email_hash, external_id_hash, data_key FROM recipients WHERE id = \(bind: id)"
            ).first()
        else { return [] }
        return try ["contact", "email_hash", "external_id_hash", "data_key"].compactMap {
            try row.decode(column: $0, as: Data?.self)
        }
    }
}
