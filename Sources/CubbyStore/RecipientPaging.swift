import CubbyCore
import Foundation
import SQLKit

/// Offset paging of active recipients, for SCIM's `startIndex`/`count` lists (RFC 7644 §3.4.2.4).
extension StoreSession {
    /// How many active, not erased recipients the sites hold, and the page of them at `offset` (ordered by id).
    public func activeRecipientPage(organization: String, siteIds: [String], offset: Int, limit: Int) async throws
        -> (total: Int, page: [RecipientRecord])
    {
        guard !siteIds.isEmpty else { return (0, []) }
        var condition: SQLQueryString =
            "FROM recipients WHERE organization_id = \(bind: organization) AND erased_at IS NULL AND deactivated_at IS NULL AND site_id IN ("
        for (i, site) in siteIds.enumerated() {
            if i > 0 { condition.appendLiteral(", ") }
            condition += "\(bind: site)"
        }
        condition.appendLiteral(")")
        let total =
            try await sql.raw("SELECT COUNT(*) AS n " + condition).first()?.decode(column: "n", as: Int.self) ?? 0
        guard limit > 0, offset < total else { return (total, []) }
        let page = try await all(
            "SELECT * " + condition + " ORDER BY id LIMIT \(bind: limit) OFFSET \(bind: offset)",
            as: RecipientRecord.self)
        return (total, page)
    }
}
