import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// How to reach a staff member: their email (their sign-in name) and their phone, opened from sealed contact data.
public struct StaffContact: Sendable, Equatable {
    public var email: String
    public var phone: String?
    public var active: Bool
}

/// Who is on call at each site, on which channels and for which severities, and the staff's phone numbers.
public struct OnCallDesk: Sendable {
    let ledger: Ledger
    let keys: LockerKeys

    public init(ledger: Ledger, keys: LockerKeys) {
        self.ledger = ledger
        self.keys = keys
    }

    /// A site's on-call policy as the API and the portal show it.
    public struct Policy: Sendable, Equatable {
        public var siteId: String
        public var escalationDelaySeconds: Int64
        public var contacts: [Contact]
    }

    public struct Contact: Sendable, Equatable {
        public var accountId: String
        public var email: String
        public var hasPhone: Bool
        public var channels: [MessageChannel]
        public var severities: [AlertSeverity]
    }

    /// One contact as asked for: an account by id or by email.
    public struct ContactRequest: Sendable, Equatable {
        public var accountId: String?
        public var email: String?
        public var channels: [String]
        public var severities: [String]?

        public init(accountId: String?, email: String?, channels: [String], severities: [String]?) {
            self.accountId = accountId
            self.email = email
            self.channels = channels
            self.severities = severities
        }
    }

    public static let maxContacts = 20
    public static let delayRange: ClosedRange<Int64> = 1...86_400
    public static let defaultDelaySeconds: Int64 = 300

    /// The site's on-call list.
    public func policy(_ p: Principal, siteId: String) async throws -> Policy {
        try AccessPolicy.require(p, .readOnCall)
        return try await ledger.store.read { s in
            let site = try await ledger.siteInScope(s, siteId, p)
            return try await policy(s, site: site.id)
        }
    }

    func policy(_ s: StoreSession, site: String) async throws -> Policy {
        var contacts: [Contact] = []
        for row in try await s.onCall(site: site) {
            guard let account = try await s.staffAccount(id: row.accountId) else { continue }
            contacts.append(
                Contact(
                    accountId: row.accountId, email: account.email,
                    hasPhone: try await contact(s, account: account)?.phone != nil,
                    channels: row.channels.split(separator: ",").compactMap { MessageChannel(rawValue: String($0)) },
                    severities: row.severities.split(separator: ",").compactMap { AlertSeverity(rawValue: String($0)) })
            )
        }
        return Policy(
            siteId: site,
            escalationDelaySeconds: try await s.escalationDelaySeconds(site: site) ?? Self.defaultDelaySeconds,
            contacts: contacts)
    }

    /// Replaces the site's on-call list; each contact must be an active staff member who runs the site, and a contact
    /// paged by SMS must have a phone number.
    public func replace(_ p: Principal, siteId: String, contacts requested: [ContactRequest], delaySeconds: Int64?)
        async throws -> Policy
    {
        try AccessPolicy.require(p, .manageOnCall)
        guard requested.count <= Self.maxContacts else {
            throw DomainError.invalidRequest("an on-call list holds at most \(Self.maxContacts) contacts")
        }
        let delay = delaySeconds ?? Self.defaultDelaySeconds
        guard Self.delayRange.contains(delay) else {
            throw DomainError.invalidRequest("escalationDelaySeconds must be 1–86400")
        }
        // The shape of every contact first (400), then who they are (404, 409).
        let shapes = try requested.enumerated().map { i, c in
            (channels: try Self.channels(c.channels, index: i), severities: try Self.severities(c.severities, index: i))
        }
        for (i, c) in requested.enumerated() {
            guard (c.accountId == nil) != (c.email == nil) else {
                throw DomainError.invalidRequest(
                    "contacts[\(i)] names its staff member by accountId or by email, not both")
            }
            if let id = c.accountId, UUID(uuidString: id) == nil {
                throw DomainError.invalidRequest("contacts[\(i)].accountId must be an id")
            }
        }
        let now = ledger.clock.now().millisecondsSince1970
        return try await ledger.write { s in
            let site = try await ledger.siteInScope(s, siteId, p, lock: true)
            var rows: [OnCallRecord] = []
            for (i, c) in requested.enumerated() {
                let account = try await account(s, c, index: i, organization: site.organizationId)
                guard
                    account.role == "super-admin"
                        || (account.siteIds ?? "").split(separator: ",").contains(Substring(site.id))
                else {
                    throw DomainError.invalidState("contacts[\(i)]: \(account.email) does not run this site")
                }
                guard !rows.contains(where: { $0.accountId == account.id }) else {
                    throw DomainError.invalidState("contacts[\(i)]: \(account.email) is on the list twice")
                }
                let (channels, severities) = shapes[i]
                if channels.contains(.sms), try await contact(s, account: account)?.phone == nil {
                    throw DomainError.invalidState(
                        "contacts[\(i)]: \(account.email) has no phone number for SMS; add one first")
                }
                rows.append(
                    OnCallRecord(
                        siteId: site.id, position: Int64(i), accountId: account.id,
                        channels: channels.map(\.rawValue).joined(separator: ","),
                        severities: severities.map(\.rawValue).joined(separator: ",")))
            }
            try await s.replaceOnCall(site: site.id, contacts: rows, delaySeconds: delay, at: now)
            try await s.appendAudit(
                AuditRecord(
                    occurredAt: ledger.clock.now(), event: .siteOnCallChanged, outcome: .success, actor: p.actor,
                    organizationId: EntityID.uuid(site.organizationId), siteId: EntityID.uuid(site.id),
                    detail: [
                        "contacts": rows.map(\.accountId).joined(separator: ","),
                        "escalationDelaySeconds": String(delay),
                    ]))
            return try await policy(s, site: site.id)
        }
    }

    func account(_ s: StoreSession, _ c: ContactRequest, index i: Int, organization: String) async throws
        -> StaffAccountRecord
    {
        var found: StaffAccountRecord?
        switch (c.accountId, c.email) {
        case (let id?, nil):
            guard let uuid = UUID(uuidString: id) else {
                throw DomainError.invalidRequest("contacts[\(i)].accountId must be an id")
            }
            found = try await s.staffAccount(id: uuid.idString)
        case (nil, let email?):
            found = try await s.staffAccount(email: email.lowercased())
        default:
            throw DomainError.invalidRequest("contacts[\(i)] names its staff member by accountId or by email, not both")
        }
        guard let account = found, account.organizationId == organization else {
            throw DomainError.notFound("contacts[\(i)]: no such staff member")
        }
        // An invited member is paged too: a page's link asks them to finish enrolling before they can act on it.
        guard account.status != "deactivated" else {
            throw DomainError.invalidState("contacts[\(i)]: \(account.email) is deactivated")
        }
        return account
    }

    static func channels(_ raw: [String], index i: Int) throws -> [MessageChannel] {
        guard !raw.isEmpty else { throw DomainError.invalidRequest("contacts[\(i)].channels names email, sms or both") }
        var out: [MessageChannel] = []
        for name in raw {
            guard let c = MessageChannel(rawValue: name) else {
                throw DomainError.invalidRequest("contacts[\(i)].channels: \(name.prefix(40)) is not email or sms")
            }
            if !out.contains(c) { out.append(c) }
        }
        return out
    }

    static func severities(_ raw: [String]?, index i: Int) throws -> [AlertSeverity] {
        guard let raw else { return AlertSeverity.defaultSet }
        guard !raw.isEmpty else {
            throw DomainError.invalidRequest("contacts[\(i)].severities names at least one of critical, warning, info")
        }
        var out: [AlertSeverity] = []
        for name in raw {
            guard let sev = AlertSeverity(rawValue: name) else {
                throw DomainError.invalidRequest(
                    "contacts[\(i)].severities: \(name.prefix(40)) is not critical, warning or info")
            }
            if !out.contains(sev) { out.append(sev) }
        }
        return out.sorted(by: >)
    }

    // MARK: staff contact data

    /// A staff member's contact data; nil when the account does not exist.
    public func contact(account id: String) async throws -> StaffContact? {
        try await ledger.store.read { s in
            guard let account = try await s.staffAccount(id: id) else { return nil }
            return try await contact(s, account: account)
        }
    }

    func contact(_ s: StoreSession, account: StaffAccountRecord) async throws -> StaffContact? {
        var phone: String? = nil
        if let stored = try await s.staffContact(account: account.id), let key = stored.dataKey,
            let sealed = stored.contact
        {
            try await keys.ensureWrappingKey(s, for: key)
            let plain = try keys.envelope.open(sealed, wrappedKey: key, subject: account.id, field: "contact")
            phone = try JSONDecoder().decode(SealedStaffContact.self, from: plain).phone
        }
        return StaffContact(email: account.email, phone: phone, active: account.status != "deactivated")
    }

    struct SealedStaffContact: Codable {
        var phone: String?
    }

    /// Sets or removes (nil) a staff member's phone number, sealed under their own data key. A number still needed
    /// by an on-call list that pages them by SMS cannot be removed.
    func setPhone(_ s: StoreSession, account: StaffAccountRecord, phone raw: String?, actor: Actor, at: Date)
        async throws
    {
        let phone: String?
        do { phone = try raw.map { try RecipientRules.phone($0) } } catch {
            throw DomainError.invalidRequest("phone must be in E.164 form, like +15550100199")
        }
        if phone == nil,
            try await s.onCallEntries(account: account.id).contains(where: { $0.channels.contains("sms") })
        {
            throw DomainError.invalidRequest(
                "\(account.email) is paged by SMS on an on-call list; take SMS off the list before removing the number")
        }
        let stored = try await s.staffContact(account: account.id)
        let key: Data
        if let existing = stored?.dataKey {
            try await keys.ensureWrappingKey(s, for: existing)
            key = existing
        } else {
            key = try await keys.newWrappedDataKey(s, subject: account.id)
        }
        let sealed = try keys.envelope.seal(
            try JSONEncoder().encode(SealedStaffContact(phone: phone)), wrappedKey: key, subject: account.id,
            field: "contact")
        try await s.saveStaffContact(account: account.id, dataKey: key, contact: sealed, at: at.millisecondsSince1970)
        try await s.appendAudit(
            AuditRecord(
                occurredAt: at, event: .staffContactChanged, outcome: .success, actor: actor,
                organizationId: EntityID.uuid(account.organizationId),
                detail: ["account": account.id, "phone": phone == nil ? "removed" : "set"]))
    }
}

extension StaffDesk {
    var onCall: OnCallDesk { OnCallDesk(ledger: Ledger(store: store, clock: clock), keys: keys) }

    /// Sets or removes a staff member's phone number from the portal: the member's own, or one the caller manages.
    public func setPhone(_ session: StaffSession, accountId: String, phone: String?) async throws {
        let desk = onCall
        let at = clock.now()
        try await store.write { s in
            let target = try await managedAccount(s, session, accountId)
            try await desk.setPhone(s, account: target, phone: phone, actor: Self.actor(session.account), at: at)
        }
    }

    /// Sets or removes a staff member's phone number from the server's console.
    public func setPhone(email: String, phone: String?) async throws {
        let desk = onCall
        let at = clock.now()
        try await store.write { s in
            guard let target = try await s.staffAccount(email: email.lowercased()) else {
                throw DomainError.notFound("no account with email \(email)")
            }
            try await desk.setPhone(s, account: target, phone: phone, actor: .console, at: at)
        }
    }

    /// A staff member's phone number, if the caller may see the account.
    public func phone(_ session: StaffSession, accountId: String) async throws -> String? {
        let desk = onCall
        return try await store.read { s in
            guard let account = try await s.staffAccount(id: accountId),
                account.organizationId == session.account.organizationId
            else { return nil }
            return try await desk.contact(s, account: account)?.phone
        }
    }
}
