import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// A recipient as staff see it: the sealed contact data opened.
public struct Recipient: Sendable, Equatable, Codable {
    /// The recipient's pseudonymous id (`recipientId` in parcels and audit events).
    public var id: String
    public var organizationId: String
    /// The site the recipient lives or works at; parcels reach them at that site's units.
    public var siteId: String
    /// Display name (nil only for rows seeded without one).
    public var name: String?
    /// Lowercased email address.
    public var email: String?
    /// E.164 phone number.
    public var phone: String?
    /// Apartment or office (plain text at rest).
    public var apartment: String?
    /// The property-management system's id, as given (case kept).
    public var externalId: String?
    /// The language messages to the recipient are written in.
    public var preferredLanguage: PreferredLanguage
    /// Whether drop-offs pick an accessible compartment when one fits.
    public var needsAccessible: Bool
    /// False once deactivated.
    public var active: Bool
    public var createdAt: Date
    /// The last change (creation, update, deactivation or reactivation).
    public var updatedAt: Date
    /// When the recipient was deactivated; nil while active.
    public var deactivatedAt: Date?
}

/// What a new recipient is made of; the desk checks and normalises every field.
public struct RecipientDraft: Sendable, Equatable {
    public var siteId: String
    public var name: String
    public var email: String?
    public var phone: String?
    public var apartment: String?
    public var externalId: String?
    public var preferredLanguage: PreferredLanguage
    public var needsAccessible: Bool

    public init(
        siteId: String, name: String, email: String? = nil, phone: String? = nil, apartment: String? = nil,
        externalId: String? = nil, preferredLanguage: PreferredLanguage = .en, needsAccessible: Bool = false
    ) {
        self.siteId = siteId
        self.name = name
        self.email = email
        self.phone = phone
        self.apartment = apartment
        self.externalId = externalId
        self.preferredLanguage = preferredLanguage
        self.needsAccessible = needsAccessible
    }
}

/// A change to a recipient: nil leaves a field as it is; for the optional fields `.some(nil)` clears it.
public struct RecipientPatch: Sendable, Equatable {
    public var siteId: String?
    public var name: String?
    public var email: String??
    public var phone: String??
    public var apartment: String??
    public var externalId: String??
    public var preferredLanguage: PreferredLanguage?
    public var needsAccessible: Bool?

    public init(
        siteId: String? = nil, name: String? = nil, email: String?? = nil, phone: String?? = nil,
        apartment: String?? = nil, externalId: String?? = nil, preferredLanguage: PreferredLanguage? = nil,
        needsAccessible: Bool? = nil
    ) {
        self.siteId = siteId
        self.name = name
        self.email = email
        self.phone = phone
        self.apartment = apartment
        self.externalId = externalId
        self.preferredLanguage = preferredLanguage
        self.needsAccessible = needsAccessible
    }
}

/// What a search looks for: one exact key, or every recipient in reach.
public enum RecipientLookup: Sendable, Equatable {
    case all
    case email(String)
    case externalId(String)
    case apartment(String)
    /// Every key given must match (nil: any).
    case keys(email: String?, externalId: String?, apartment: String?)
}

/// One page of recipients, and the cursor of the next page (nil: this was the last).
public struct RecipientPage: Sendable, Equatable {
    /// At most the page size, ordered by id.
    public var recipients: [Recipient]
    /// Pass back as `cursor` for the next page; nil on the last page.
    public var nextCursor: String?
}

/// The recipient directory: property managers create, change, find and deactivate the people parcels are for,
/// one by one (API, CLI, SCIM) or in bulk (`importCSV`).
///
/// Name, email, phone and external id are sealed in the `contact` blob under the recipient's own data key; email
/// and external id are found through keyed hashes (blind indexes) within an organization, never by reading
/// plaintext. An email and an external id belong to at most one recipient of an organization, deactivated ones
/// included (they keep theirs and are reactivated, not recreated); erasure frees them.
public struct RecipientDesk: Sendable {
    public let ledger: Ledger
    public let keys: LockerKeys

    public init(ledger: Ledger, keys: LockerKeys) {
        self.ledger = ledger
        self.keys = keys
    }

    public var store: any SQLStore { ledger.store }
    public var clock: ServerClock { ledger.clock }

    /// The most recipients one page holds.
    public static let maxPageSize = 200

    // MARK: blind indexes

    /// The keyed hash an email is found by (the one resident sign-in uses; label `cubby.recipient-email.v1`).
    public func emailHash(_ email: String) -> Data { ResidentDesk.emailHash(keys, email) }

    /// The keyed hash an external id is found by, bound to the organization: the same id in two organizations
    /// gives unrelated hashes.
    public func externalIdHash(organization: String, _ externalId: String) -> Data {
        Data(keys.hasher.hash("cubby.recipient-external-id.v1", organization, externalId))
    }

    // MARK: one by one

    /// Creates a recipient at a site of the caller's.
    public func create(_ p: Principal, _ draft: RecipientDraft, actor: Actor? = nil) async throws -> Recipient {
        try AccessPolicy.require(p, .createRecipient)
        let contact = try Contact(
            name: RecipientRules.name(draft.name), email: draft.email.map(RecipientRules.email),
            phone: draft.phone.map(RecipientRules.phone), externalId: draft.externalId.map(RecipientRules.externalId))
        let apartment = try draft.apartment.map(RecipientRules.apartment)
        let siteId = try Self.id(draft.siteId, "siteId")
        return try await ledger.write { s in
            let site = try await siteInScope(s, p, siteId)
            let org = site.organizationId
            let id = EntityID.make()
            let at = clock.now().millisecondsSince1970
            let dataKey = try await keys.newWrappedDataKey(s, subject: id)
            var record = RecipientRecord(
                id: id, organizationId: org, siteId: site.id, needsAccessible: draft.needsAccessible, dataKey: dataKey,
                contact: nil, createdAt: at, apartment: apartment,
                preferredLanguage: draft.preferredLanguage.rawValue)
            try await setContact(s, &record, contact)
            try await s.insertRecipient(record)
            try await s.appendAudit(auditRecord(.recipientCreated, actor ?? p.actor, record))
            return try view(record)
        }
    }

    /// The recipient, decrypted, if it is in the caller's reach; otherwise `notFound`.
    public func get(_ p: Principal, id: String) async throws -> Recipient {
        try AccessPolicy.require(p, .readRecipient)
        return try await store.read { s in try view(try await recipientInScope(s, p, id, lock: false)) }
    }

    /// Changes a recipient's fields. Only the fields that differ are written and named in the audit event.
    public func update(_ p: Principal, id: String, _ patch: RecipientPatch, actor: Actor? = nil) async throws
        -> Recipient
    {
        try AccessPolicy.require(p, .updateRecipient)
        let name = try patch.name.map(RecipientRules.name)
        let email = try patch.email.map { try $0.map(RecipientRules.email) }
        let phone = try patch.phone.map { try $0.map(RecipientRules.phone) }
        let externalId = try patch.externalId.map { try $0.map(RecipientRules.externalId) }
        let apartment = try patch.apartment.map { try $0.map(RecipientRules.apartment) }
        let newSite = try patch.siteId.map { try Self.id($0, "siteId") }
        return try await ledger.write { s in
            var record = try await recipientInScope(s, p, id, lock: true)
            var contact = try open(record)
            var changed = ChangedFields()
            if let newSite, newSite != record.siteId {
                record.siteId = try await siteInScope(s, p, newSite).id
                changed.note("siteId")
            }
            changed.set(&contact.name, to: name, "name")
            changed.set(&contact.email, to: email, "email")
            changed.set(&contact.phone, to: phone, "phone")
            changed.set(&contact.externalId, to: externalId, "externalId")
            if changed.set(&record.apartment, to: apartment, "apartment") {
                record.apartmentKey = record.apartment.map(RecipientRules.apartmentKey)
            }
            changed.set(&record.preferredLanguage, to: patch.preferredLanguage?.rawValue, "preferredLanguage")
            changed.set(&record.needsAccessible, to: patch.needsAccessible, "needsAccessible")
            guard !changed.isEmpty else { return try view(record) }
            try await setContact(s, &record, contact)
            record.updatedAt = clock.now().millisecondsSince1970
            try await s.saveRecipient(record)
            try await s.appendAudit(
                auditRecord(
                    .recipientUpdated, actor ?? p.actor, record, ["fields": changed.names.joined(separator: ",")]))
            return try view(record)
        }
    }

    /// Deactivates a recipient: their live pickups stay valid until picked up or expired, and nothing new is
    /// announced or dropped off for them. Deactivating a deactivated recipient changes nothing.
    public func deactivate(_ p: Principal, id: String, actor: Actor? = nil) async throws -> Recipient {
        try await setActive(p, id: id, active: false, actor: actor)
    }

    /// Makes a deactivated recipient active again (the import does so for a recipient listed again).
    public func reactivate(_ p: Principal, id: String, actor: Actor? = nil) async throws -> Recipient {
        try await setActive(p, id: id, active: true, actor: actor)
    }

    func setActive(_ p: Principal, id: String, active: Bool, actor: Actor?) async throws -> Recipient {
        try AccessPolicy.require(p, .deactivateRecipient)
        return try await ledger.write { s in
            var record = try await recipientInScope(s, p, id, lock: true)
            guard (record.deactivatedAt == nil) != active else { return try view(record) }
            let at = clock.now().millisecondsSince1970
            record.deactivatedAt = active ? nil : at
            record.updatedAt = at
            try await s.saveRecipient(record)
            try await s.appendAudit(
                auditRecord(active ? .recipientReactivated : .recipientDeactivated, actor ?? p.actor, record))
            return try view(record)
        }
    }

    // MARK: finding

    /// One page of the recipients in the caller's reach that match `lookup` exactly, optionally at one site.
    /// `cursor` is the previous page's `nextCursor`.
    public func search(
        _ p: Principal, _ lookup: RecipientLookup, siteId: String? = nil, limit: Int = 50, cursor: String? = nil
    ) async throws -> RecipientPage {
        try AccessPolicy.require(p, .readRecipient)
        guard (1...Self.maxPageSize).contains(limit) else {
            throw RecipientError.invalid(field: "limit", "limit must be an integer in 1...\(Self.maxPageSize)")
        }
        let after = try cursor.map { text -> String in
            guard let id = EntityID.parse(text) else {
                throw RecipientError.invalid(field: "cursor", "cursor is not one this server gave")
            }
            return id
        }
        let org = p.organizationId.idString
        var query = RecipientQuery(organizationId: org, siteIds: [], after: after, limit: limit + 1)
        // A key no recipient can hold (an address that is not one, say) simply finds nothing.
        let keys: (email: String?, externalId: String?, apartment: String?) =
            switch lookup {
            case .all: (nil, nil, nil)
            case .email(let text): (text, nil, nil)
            case .externalId(let text): (nil, text, nil)
            case .apartment(let text): (nil, nil, text)
            case .keys(let email, let externalId, let apartment): (email, externalId, apartment)
            }
        for (field, text, max) in [
            ("email", keys.email, 254), ("externalId", keys.externalId, RecipientRules.maxExternalIdLength),
            ("apartment", keys.apartment, RecipientRules.maxApartmentLength),
        ] {
            if let text, text.unicodeScalars.count > max {
                throw RecipientError.invalid(field: field, "\(field) is longer than \(max) characters")
            }
        }
        query.emailHash = keys.email.map { emailHash($0.trimmingWhitespace().lowercased()) }
        query.externalIdHash = keys.externalId.map { externalIdHash(organization: org, $0.trimmingWhitespace()) }
        query.apartmentKey = keys.apartment.map(RecipientRules.apartmentKey)
        let scopeSites = try siteId.map { [try Self.id($0, "siteId")] }
        let base = query
        let found = try await store.read { s -> [RecipientRecord] in
            var q = base
            if let site = scopeSites?.first {
                q.siteIds = [try await siteInScope(s, p, site).id]
            } else {
                q.siteIds = p.siteIds.map(\.idString).sorted()
            }
            return try await s.recipients(q)
        }
        let page = Array(found.prefix(limit))
        return RecipientPage(
            recipients: try page.map(view), nextCursor: found.count > limit ? page.last?.id : nil)
    }

    /// Every recipient in reach, one page at a time.
    public func list(_ p: Principal, siteId: String? = nil, limit: Int = 50, cursor: String? = nil) async throws
        -> RecipientPage
    {
        try await search(p, .all, siteId: siteId, limit: limit, cursor: cursor)
    }

    /// The recipient in reach with this email, if any.
    public func find(_ p: Principal, email: String) async throws -> Recipient? {
        try await search(p, .email(email), limit: 1).recipients.first
    }

    /// The recipient in reach with this external id, if any.
    public func find(_ p: Principal, externalId: String) async throws -> Recipient? {
        try await search(p, .externalId(externalId), limit: 1).recipients.first
    }

    /// The recipients in reach living at this apartment (exact match, case and spacing folded), first page.
    public func find(_ p: Principal, apartment: String, siteId: String? = nil) async throws -> [Recipient] {
        try await search(p, .apartment(apartment), siteId: siteId, limit: Self.maxPageSize).recipients
    }

    // MARK: shared pieces

    /// The sealed part of a recipient.
    struct Contact: Codable, Equatable {
        var name: String?
        var email: String?
        var phone: String?
        var externalId: String?
    }

    /// An id given as input, in its canonical form.
    static func id(_ text: String, _ field: String) throws -> String {
        guard let id = EntityID.parse(text) else {
            throw RecipientError.invalid(field: field, "\(field) must be a UUID")
        }
        return id
    }

    /// A site of the caller's organization and reach, or `notFound`.
    func siteInScope(_ s: StoreSession, _ p: Principal, _ id: String) async throws -> SiteRecord {
        try await ledger.siteInScope(s, id, p)
    }

    /// A recipient of the caller's organization at one of its sites, not erased, or `notFound`.
    func recipientInScope(_ s: StoreSession, _ p: Principal, _ id: String, lock: Bool) async throws -> RecipientRecord {
        guard let r = try await (lock ? s.lockRecipient(id) : s.recipient(id)),
            r.organizationId == p.organizationId.idString, Scope.covers(p, siteId: r.siteId), r.erasedAt == nil
        else { throw DomainError.notFound("recipient \(id) not found") }
        try await keys.ensureWrappingKey(s, for: r.dataKey)
        return r
    }

    /// Seals `contact` into the record and sets its blind indexes, after checking that no other recipient of the
    /// organization holds the email or the external id.
    func setContact(_ s: StoreSession, _ record: inout RecipientRecord, _ contact: Contact) async throws {
        let email = contact.email.map(emailHash)
        let external = contact.externalId.map { externalIdHash(organization: record.organizationId, $0) }
        if let email, email != record.emailHash,
            let other = try await s.recipient(organization: record.organizationId, emailHash: email),
            other.id != record.id
        {
            throw RecipientError.exists(field: "email")
        }
        if let external, external != record.externalIdHash,
            let other = try await s.recipient(organization: record.organizationId, externalIdHash: external),
            other.id != record.id
        {
            throw RecipientError.exists(field: "externalId")
        }
        record.contact = try seal(contact, record)
        record.emailHash = email
        record.externalIdHash = external
    }

    func seal(_ contact: Contact, _ record: RecipientRecord) throws -> Data {
        guard let key = record.dataKey else { throw DomainError.invalidState("the recipient's data was erased") }
        return try keys.envelope.seal(
            try JSONEncoder().encode(contact), wrappedKey: key, subject: record.id, field: "contact")
    }

    func open(_ record: RecipientRecord) throws -> Contact {
        guard let key = record.dataKey, let sealed = record.contact else { return Contact() }
        let plain = try keys.envelope.open(sealed, wrappedKey: key, subject: record.id, field: "contact")
        return try JSONDecoder().decode(Contact.self, from: plain)
    }

    func view(_ r: RecipientRecord) throws -> Recipient {
        try view(r, open(r))
    }

    func view(_ r: RecipientRecord, _ c: Contact) -> Recipient {
        Recipient(
            id: r.id, organizationId: r.organizationId, siteId: r.siteId, name: c.name, email: c.email,
            phone: c.phone, apartment: r.apartment, externalId: c.externalId,
            preferredLanguage: PreferredLanguage(rawValue: r.preferredLanguage) ?? .en,
            needsAccessible: r.needsAccessible, active: r.deactivatedAt == nil,
            createdAt: Date(millisecondsSince1970: r.createdAt),
            updatedAt: Date(millisecondsSince1970: r.updatedAt ?? r.createdAt),
            deactivatedAt: r.deactivatedAt.map { Date(millisecondsSince1970: $0) })
    }

    /// An audit event about a recipient: ids only, never a name, email or phone number.
    func auditRecord(
        _ type: AuditEventType, _ actor: Actor, _ r: RecipientRecord, _ detail: [String: String] = [:]
    ) -> AuditRecord {
        AuditRecord(
            occurredAt: clock.now(), event: type, actor: actor, organizationId: EntityID.uuid(r.organizationId),
            siteId: EntityID.uuid(r.siteId), detail: detail.merging(["recipientId": r.id]) { a, _ in a })
    }
}
