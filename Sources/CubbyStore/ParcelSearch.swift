import CubbyCore
import Foundation
import SQLKit

/// What a search of parcels is narrowed to: every field given must match. Newest first (by creation, then id), one
/// page at a time with a keyset cursor.
public struct ParcelQuery: Sendable {
    public var organizationId: String
    /// The sites searched; empty finds nothing.
    public var siteIds: [String]
    /// Exact tracking number.
    public var trackingNumber: String?
    /// The recipient, by the keyed hash of the email, of the external id, or by the folded apartment.
    public var recipientEmailHash: Data?
    public var recipientExternalIdHash: Data?
    public var recipientApartmentKey: String?
    public var unitId: String?
    public var state: ParcelState?
    /// Created at or after (Unix milliseconds).
    public var createdFrom: Int64?
    /// Created before (Unix milliseconds).
    public var createdBefore: Int64?
    /// Only parcels older than this one (the previous page's last): its creation time and id.
    public var after: ParcelCursor?
    public var limit: Int

    public init(organizationId: String, siteIds: [String], limit: Int) {
        self.organizationId = organizationId
        self.siteIds = siteIds
        self.limit = limit
    }
}

/// Where a page of parcels ends: the last parcel's creation time and id.
public struct ParcelCursor: Sendable, Equatable {
    public var createdAt: Int64
    public var id: String

    public init(createdAt: Int64, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    /// `<createdAt>.<id>`, as links carry it.
    public var text: String { "\(createdAt).\(id)" }

    /// A cursor this server gave, or nil.
    public init?(text: String) {
        let parts = text.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let at = Int64(parts[0]), at >= 0, let id = EntityID.parse(String(parts[1])) else {
            return nil
        }
        self.init(createdAt: at, id: id)
    }
}

/// A parcel as the search lists it, with the names a table shows.
public struct ParcelListing: Sendable, Hashable {
    public var parcel: ParcelRecord
    public var unitName: String
    public var compartmentLabel: String?
    /// The recipient's apartment (plain text at rest), if any.
    public var apartment: String?
}

/// Staff's search of parcels and the pieces of a parcel's page.
extension StoreSession {
    /// One page of the parcels `q` matches, newest first.
    public func searchParcels(_ q: ParcelQuery) async throws -> [ParcelListing] {
        guard !q.siteIds.isEmpty, q.limit > 0 else { return [] }
        // The page of parcels is chosen first, on the parcels' own indexes; the names are joined to those rows only
        // (a join first lets a planner start from the small tables and walk every parcel of a unit or recipient).
        // A tracking number or a recipient finds a few parcels through its own index. SQLite, which has no statistics
        // unless someone ran ANALYZE, would rather walk the organization's index newest first (it spares the sort):
        // `+` takes the organization's column out of that choice.
        let selective =
            q.trackingNumber != nil || q.recipientEmailHash != nil || q.recipientExternalIdHash != nil
            || q.recipientApartmentKey != nil
        let organization: SQLQueryString = selective && kind == .sqlite ? "+organization_id" : "organization_id"
        var query: SQLQueryString = """
            SELECT p.*, u.name AS unit_name, c.label AS compartment_label, r.apartment AS recipient_apartment
            FROM (SELECT * FROM parcels
            WHERE \(organization) = \(bind: q.organizationId) AND site_id IN (\(list(q.siteIds)))
            """
        if let t = q.trackingNumber { query += " AND tracking_number = \(bind: t)" }
        if q.recipientEmailHash != nil || q.recipientExternalIdHash != nil || q.recipientApartmentKey != nil {
            query += " AND recipient_id IN (SELECT id FROM recipients WHERE organization_id = \(bind: q.organizationId)"
            if let h = q.recipientEmailHash { query += " AND email_hash = \(bind: h)" }
            if let h = q.recipientExternalIdHash { query += " AND external_id_hash = \(bind: h)" }
            if let a = q.recipientApartmentKey {
                query += " AND site_id IN (\(list(q.siteIds))) AND apartment_key = \(bind: a)"
            }
            query.appendLiteral(")")
        }
        if let u = q.unitId { query += " AND unit_id = \(bind: u)" }
        if let s = q.state { query += " AND state = \(bind: s.rawValue)" }
        if let from = q.createdFrom { query += " AND created_at >= \(bind: from)" }
        if let before = q.createdBefore { query += " AND created_at < \(bind: before)" }
        if let after = q.after {
            query +=
                " AND (created_at < \(bind: after.createdAt) OR (created_at = \(bind: after.createdAt) AND id < \(bind: after.id)))"
        }
        query += " ORDER BY created_at DESC, id DESC LIMIT \(bind: q.limit)) p"
        query += """
             JOIN units u ON u.id = p.unit_id JOIN recipients r ON r.id = p.recipient_id
            LEFT JOIN compartments c ON c.id = p.compartment_id ORDER BY p.created_at DESC, p.id DESC
            """
        return try await sql.raw(query).all().map { row in
            ParcelListing(
                parcel: try row.decode(model: ParcelRecord.self, keyDecodingStrategy: ColumnNames.decoding),
                unitName: try row.decode(column: "unit_name", as: String.self),
                compartmentLabel: try row.decode(column: "compartment_label", as: String?.self),
                apartment: try row.decode(column: "recipient_apartment", as: String?.self))
        }
    }

    /// Gives a parcel to another recipient.
    public func setParcelRecipient(_ parcelId: String, recipient: String, at: Int64) async throws {
        try await sql.raw(
            """
            UPDATE parcels SET recipient_id = \(bind: recipient), updated_at = \(bind: at) WHERE id = \(bind: parcelId)
            """
        ).run()
    }

    /// Moves the deadline of a parcel's live pickup credentials; returns how many moved.
    @discardableResult
    public func extendPickupCredentials(parcel: String, until: Int64) async throws -> Int {
        try await sql.raw(
            """
            UPDATE pickup_credentials SET expires_at = \(bind: until)
            WHERE parcel_id = \(bind: parcel) AND state = 'live' RETURNING id
            """
        ).all().count
    }

    /// Every unit of an organization's sites, for a search form's list (id, name, site), by name.
    public func unitNames(organization: String) async throws -> [(id: String, name: String, siteId: String)] {
        try await sql.raw(
            "SELECT id, name, site_id FROM units WHERE organization_id = \(bind: organization) ORDER BY name, id"
        ).all().map {
            (
                try $0.decode(column: "id", as: String.self), try $0.decode(column: "name", as: String.self),
                try $0.decode(column: "site_id", as: String.self)
            )
        }
    }
}
