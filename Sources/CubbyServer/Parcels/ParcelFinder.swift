import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation

/// What staff search parcels by; every field given must match. Recipients are found by the keyed hash of their email
/// or external id (both sealed at rest) or by their apartment, never by reading contact data.
public struct ParcelFilter: Sendable, Equatable {
    public var trackingNumber: String?
    public var email: String?
    public var apartment: String?
    public var externalId: String?
    public var unitId: String?
    public var state: ParcelState?
    /// Created at or after (Unix milliseconds).
    public var from: Int64?
    /// Created before (Unix milliseconds).
    public var before: Int64?

    public init(
        trackingNumber: String? = nil, email: String? = nil, apartment: String? = nil, externalId: String? = nil,
        unitId: String? = nil, state: ParcelState? = nil, from: Int64? = nil, before: Int64? = nil
    ) {
        self.trackingNumber = trackingNumber
        self.email = email
        self.apartment = apartment
        self.externalId = externalId
        self.unitId = unitId
        self.state = state
        self.from = from
        self.before = before
    }
}

/// A page of parcels, newest first, and the cursor of the next (nil on the last).
public struct ParcelSearchPage: Sendable {
    public var parcels: [ParcelListing]
    public var nextCursor: String?
}

/// One event of a parcel's timeline, with the stills it names.
public struct ParcelTimelineEntry: Sendable {
    public var event: StoredAuditEvent
    /// SHA-256 (hex) of each still the unit took for this event, kept in the `evidence` table.
    public var stills: [String]
}

/// Everything a parcel's page shows.
public struct ParcelDossier: Sendable {
    public var parcel: ParcelRecord
    public var site: SiteRecord?
    public var unit: UnitRecord?
    public var compartment: CompartmentRecord?
    /// nil when the recipient's data was erased.
    public var recipient: Recipient?
    public var timeline: [ParcelTimelineEntry]
}

/// An event's inclusion proof in its organization's log, against a signed checkpoint.
public struct ParcelEventProof: Sendable {
    public var event: StoredAuditEvent
    public var index: Int64
    public var origin: String
    public var checkpoint: StoredCheckpoint
    public var leafHash: String
    public var proof: [String]
}

/// Staff's reading of parcels for the portal: search, a parcel's timeline, its stills and its events' proofs, each
/// within the staff member's organization and sites (anything outside answers "not found").
public struct ParcelFinder: Sendable {
    public let desk: ParcelDesk
    public let recipients: RecipientDesk
    public let log: AuditLog

    public init(desk: ParcelDesk, recipients: RecipientDesk, log: AuditLog) {
        self.desk = desk
        self.recipients = recipients
        self.log = log
    }

    var store: any SQLStore { desk.store }

    /// The most parcels one page holds.
    public static let maxPageSize = 200

    /// One page of the parcels in the caller's reach that pass `filter`, newest first.
    public func search(_ p: Principal, _ filter: ParcelFilter, cursor: String? = nil, limit: Int = 50) async throws
        -> ParcelSearchPage
    {
        try AccessPolicy.require(p, .viewParcels)
        guard (1...Self.maxPageSize).contains(limit) else {
            throw DomainError.invalidRequest("limit must be an integer in 1...\(Self.maxPageSize)")
        }
        let org = p.organizationId.idString
        var q = ParcelQuery(organizationId: org, siteIds: p.siteIds.map(\.idString).sorted(), limit: limit + 1)
        if let text = cursor {
            guard let c = ParcelCursor(text: text) else {
                throw DomainError.invalidRequest("The page link is not one this server gave; start the search again.")
            }
            q.after = c
        }
        q.trackingNumber = filter.trackingNumber
        q.recipientEmailHash = filter.email.map { recipients.emailHash($0.trimmingWhitespace().lowercased()) }
        q.recipientExternalIdHash = filter.externalId.map {
            recipients.externalIdHash(organization: org, $0.trimmingWhitespace())
        }
        q.recipientApartmentKey = filter.apartment.map(RecipientRules.apartmentKey)
        q.unitId = filter.unitId
        q.state = filter.state
        q.createdFrom = filter.from
        q.createdBefore = filter.before
        let query = q
        let found = try await store.read { s in try await s.searchParcels(query) }
        let page = Array(found.prefix(limit))
        return ParcelSearchPage(
            parcels: page,
            nextCursor: found.count > limit
                ? page.last.map { ParcelCursor(createdAt: $0.parcel.createdAt, id: $0.parcel.id).text } : nil)
    }

    /// A parcel with its site, unit, compartment, recipient and every audit event about it, oldest first.
    public func dossier(_ p: Principal, parcelId: String) async throws -> ParcelDossier {
        try AccessPolicy.require(p, .viewParcels)
        let id = try Self.id(parcelId)
        let (parcel, site, unit, compartment, recipient, events) = try await store.read { s in
            let parcel = try await desk.ledger.parcelInScope(s, id, p, lock: false)
            return (
                parcel, try await s.site(parcel.siteId), try await s.unit(parcel.unitId),
                try await parcel.compartmentId.asyncMap { try await s.compartment($0) } ?? nil,
                try await s.recipient(parcel.recipientId), try await s.auditEvents(parcel: parcel.id)
            )
        }
        let timeline = events.filter { Scope.covers(p, event: $0) }.map { e in
            ParcelTimelineEntry(event: e, stills: e.detailMap[EvidenceBundle.evidenceKey].map { [$0] } ?? [])
        }
        return ParcelDossier(
            parcel: parcel, site: site, unit: unit, compartment: compartment,
            recipient: try recipient.flatMap { $0.erasedAt == nil ? try recipients.view($0) : nil },
            timeline: timeline)
    }

    /// A still of a parcel's timeline: only one that an event of this parcel names.
    public func still(_ p: Principal, parcelId: String, sha256: String) async throws -> (
        contentType: String, bytes: Data
    ) {
        try AccessPolicy.require(p, .viewParcels)
        let id = try Self.id(parcelId)
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ Self.isLowerHex($0) }) else {
            throw DomainError.notFound("no such still")
        }
        return try await store.read { s in
            let parcel = try await desk.ledger.parcelInScope(s, id, p, lock: false)
            let named = try await s.auditEvents(parcel: parcel.id).contains {
                Scope.covers(p, event: $0) && $0.detailMap[EvidenceBundle.evidenceKey] == sha256
            }
            guard named, let found = try await s.evidence(sha256: sha256), found.unitId == parcel.unitId else {
                throw DomainError.notFound("no such still")
            }
            return (found.contentType, try desk.keys.openEvidence(found.bytes, sha256: sha256))
        }
    }

    /// The inclusion proof of one of a parcel's events against its log's newest checkpoint (a checkpoint is signed
    /// first when the newest does not cover the event yet).
    public func proof(_ p: Principal, parcelId: String, eventId: String) async throws -> ParcelEventProof {
        try AccessPolicy.require(p, .viewParcels)
        let id = try Self.id(parcelId)
        let eventId = try Self.id(eventId)
        _ = try await store.read { s in try await desk.ledger.parcelInScope(s, id, p, lock: false) }
        try await log.sequence()
        guard let found = try await store.read({ s in try await s.auditEventLeaf(id: eventId) }),
            found.event.parcelId == id, Scope.covers(p, event: found.event),
            found.log == .organization(p.organizationId)
        else { throw DomainError.notFound("no such event of this parcel") }
        var checkpoint = try await log.latestCheckpoint(found.log)
        if checkpoint.size <= found.index {
            try await log.checkpointIfDue()
            checkpoint = try await log.latestCheckpoint(found.log)
        }
        guard checkpoint.size > found.index else { throw DomainError.notFound("the event is not in a checkpoint yet") }
        let (leaf, proof) = try await log.inclusionProof(
            found.log, index: UInt64(found.index), size: UInt64(checkpoint.size))
        return ParcelEventProof(
            event: found.event, index: found.index, origin: try await log.identity(found.log).origin,
            checkpoint: checkpoint, leafHash: leaf.base64, proof: proof.hashes.map(\.base64))
    }

    static func id(_ text: String) throws -> String {
        guard let id = EntityID.parse(text) else { throw DomainError.notFound("parcel \(text) not found") }
        return id
    }

    static func isLowerHex(_ c: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(c)
    }
}
