import CubbyCore
import CubbyStore
import Foundation

extension RecipientDesk {
    /// The active recipients in the caller's reach, `limit` of them from `offset` (ordered by id), and how many
    /// there are in all: SCIM lists page by index where the desk's own lists page by cursor.
    func activePage(_ p: Principal, offset: Int, limit: Int) async throws -> (Int, [Recipient]) {
        try AccessPolicy.require(p, .readRecipient)
        let sites = p.siteIds.map(\.idString).sorted()
        let (total, records) = try await store.read { s in
            try await s.activeRecipientPage(
                organization: p.organizationId.idString, siteIds: sites, offset: max(0, offset), limit: limit)
        }
        return (total, try records.map(view))
    }
}
