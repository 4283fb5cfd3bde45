import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// User management and API credentials, within the caller's reach.
extension StaffDesk {
    /// The accounts the caller may see: itself and those it may manage.
    public func users(_ session: StaffSession) async throws -> [StaffAccountRecord] {
        let me = Self.holder(session.account)
        return try await store.read { s in try await s.staffAccounts(organization: session.account.organizationId) }
            .filter { $0.id == session.account.id || RoleGrant.canSee(granter: me, target: Self.holder($0)) }
    }

    /// Whether the caller may manage this account (change its role, deactivate it).
    public func canManage(_ session: StaffSession, _ account: StaffAccountRecord) -> Bool {
        account.id != session.account.id && account.status != "deactivated"
            && RoleGrant.canSee(granter: Self.holder(session.account), target: Self.holder(account))
    }

    func siteSet(_ sites: [String]?) -> Set<UUID>? {
        sites.map { Set($0.compactMap(UUID.init(uuidString:))) }
    }

    static func validSites(_ sites: [String]?) throws -> [String]? {
        guard let sites else { return nil }
        return try sites.map { text in
            guard let id = UUID(uuidString: text) else { throw DomainError.notFound("site not found") }
            return id.idString
        }
    }

    /// Invites a new staff member; returns the account and its enrollment link's token.
    public func invite(_ session: StaffSession, email: String, role: Principal.Role, sites rawSites: [String]?)
        async throws -> (StaffAccountRecord, String)
    {
        let sites = try Self.validSites(rawSites)
        let count = try await store.read { s in
            try await s.superAdminCount(organization: session.account.organizationId)
        }
        do {
            try RoleGrant.checkGrant(
                granter: Self.holder(session.account), target: nil, role: role, sites: siteSet(sites),
                activeSuperAdmins: count)
        } catch let e as GrantError { throw StaffError.grant(e) }
        return try await createAccount(
            organization: session.account.organizationId, email: email, role: role,
            sites: role == .superAdmin ? nil : sites,
            actor: Self.actor(session.account))
    }

    /// The account with this id, if the caller may manage it; otherwise "not found".
    func managedAccount(_ s: StoreSession, _ session: StaffSession, _ id: String) async throws -> StaffAccountRecord {
        guard let uuid = UUID(uuidString: id), let a = try await s.lockStaffAccount(id: uuid.idString),
            a.organizationId == session.account.organizationId,
            a.id == session.account.id
                || RoleGrant.canSee(granter: Self.holder(session.account), target: Self.holder(a))
        else { throw DomainError.notFound("account not found") }
        return a
    }

    /// Gives an account a new role and sites.
    public func changeRole(_ session: StaffSession, accountId: String, role: Principal.Role, sites rawSites: [String]?)
        async throws -> StaffAccountRecord
    {
        let sites = try Self.validSites(rawSites)
        let (_, at) = now()
        return try await store.write { s in
            var target = try await managedAccount(s, session, accountId)
            let orgSites = Set(try await s.sites(organization: target.organizationId))
            if let sites, !Set(sites).isSubset(of: orgSites) { throw DomainError.notFound("site not found") }
            if role == .admin && (sites ?? []).isEmpty {
                throw StaffError.invalidInput("An admin runs at least one site: choose its sites.")
            }
            let count = try await s.superAdminCount(organization: target.organizationId)
            do {
                try RoleGrant.checkGrant(
                    granter: Self.holder(session.account), target: Self.holder(target), role: role,
                    sites: siteSet(sites), activeSuperAdmins: count)
            } catch let e as GrantError { throw StaffError.grant(e) }
            let before = (target.role, target.siteIds ?? "organization")
            target.role = role.rawValue
            target.siteIds = role == .superAdmin ? nil : sites?.sorted().joined(separator: ",")
            target.updatedAt = at
            try await s.saveStaffAccount(target)
            try await s.appendAudit(
                record(
                    .staffRoleChanged, actor: Self.actor(session.account), organization: target.organizationId,
                    detail: [
                        "account": target.id, "from": before.0, "to": target.role, "fromSites": before.1,
                        "toSites": target.siteIds ?? "organization",
                    ]))
            return target
        }
    }

    /// Deactivates an account and ends its sessions.
    public func deactivate(_ session: StaffSession, accountId: String) async throws -> StaffAccountRecord {
        let (_, at) = now()
        return try await store.write { s in
            var target = try await managedAccount(s, session, accountId)
            let count = try await s.superAdminCount(organization: target.organizationId)
            do {
                try RoleGrant.checkDeactivate(
                    granter: Self.holder(session.account), target: Self.holder(target), activeSuperAdmins: count)
            } catch let e as GrantError { throw StaffError.grant(e) }
            guard target.status != "deactivated" else { return target }
            target.status = "deactivated"
            target.updatedAt = at
            try await s.saveStaffAccount(target)
            try await s.endStaffSessions(account: target.id, at: at)
            try await s.endEnrollmentLinks(account: target.id, at: at)
            try await s.appendAudit(
                record(
                    .staffDeactivated, actor: Self.actor(session.account), organization: target.organizationId,
                    detail: ["account": target.id]))
            return target
        }
    }

    // MARK: API credentials

    /// Kinds of API credential the portal and the CLI issue.
    public static let credentialKinds: [Principal.Role] = [.courier, .carrier, .device, .admin, .auditor, .scim]

    /// The kinds in words, for error messages: "courier, carrier, … or auditor".
    public static var credentialKindWords: String {
        let names = credentialKinds.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
    }

    /// Whether a credential lies within the caller's reach: a super-admin reaches its organization; an
    /// admin reaches devices of its units, carriers serving only its sites, and keys limited to its sites.
    /// `unitSite` is the site of the credential's unit, `carrierSites` the sites its carrier serves.
    static func reaches(_ p: Principal, _ c: CredentialRecord, unitSite: String?, carrierSites: [String]) -> Bool {
        guard c.organizationId == p.organizationId.idString else { return false }
        if p.role == .superAdmin { return true }
        guard p.role == .admin else { return false }
        let mine = Set(p.siteIds.map { $0.idString })
        switch c.kind {
        case "device":
            return unitSite.map(mine.contains) ?? false
        case "courier", "carrier":
            return !carrierSites.isEmpty && Set(carrierSites).isSubset(of: mine)
        default:
            guard let list = c.siteIds else { return false }
            return Set(list.split(separator: ",").map(String.init)).isSubset(of: mine)
        }
    }

    /// The same for one credential, reading only what an admin's check needs.
    func reaches(_ s: StoreSession, _ p: Principal, _ c: CredentialRecord) async throws -> Bool {
        guard p.role == .admin else { return Self.reaches(p, c, unitSite: nil, carrierSites: []) }
        let unitSite = try await c.unitId.asyncMap { try await s.unit($0)?.siteId } ?? nil
        let carrierSites = try await c.carrierId.asyncMap { try await s.carrierSites($0) } ?? []
        return Self.reaches(p, c, unitSite: unitSite, carrierSites: carrierSites)
    }

    /// The credentials the caller may see and revoke, newest first.
    public func credentials(_ session: StaffSession) async throws -> [CredentialRecord] {
        let p = session.principal
        let org = session.account.organizationId
        return try await store.read { s in
            let all = try await s.credentials(organization: org)
            // Each unit's site and each carrier's sites are read once for the whole list.
            let unitSites = Dictionary(
                uniqueKeysWithValues: try await s.units(organization: org).map { ($0.id, $0.siteId) })
            var carrierSites: [String: [String]] = [:]
            for id in Set(all.compactMap(\.carrierId)) { carrierSites[id] = try await s.carrierSites(id) }
            return all.filter { c in
                Self.reaches(
                    p, c, unitSite: c.unitId.flatMap { unitSites[$0] },
                    carrierSites: c.carrierId.flatMap { carrierSites[$0] } ?? [])
            }.reversed()
        }
    }

    /// What a new credential is for.
    public struct CredentialRequest: Sendable {
        public var kind: Principal.Role
        public var label: String
        public var days: Int
        /// Courier and carrier credentials.
        public var carrierId: String?
        /// Device credentials.
        public var unitId: String?
        /// Auditor keys: their sites (nil = organization, super-admin only).
        public var sites: [String]?

        public init(
            kind: Principal.Role, label: String, days: Int, carrierId: String? = nil, unitId: String? = nil,
            sites: [String]? = nil
        ) {
            self.kind = kind
            self.label = label
            self.days = days
            self.carrierId = carrierId
            self.unitId = unitId
            self.sites = sites
        }
    }

    /// Issues an API credential on behalf of `principal` (a staff member, or the CLI's system principal);
    /// returns its record and the secret, which is shown once and stored only as a keyed hash.
    public func issueCredential(_ p: Principal, actor: Actor, _ request: CredentialRequest) async throws -> (
        CredentialRecord, String
    ) {
        guard Self.credentialKinds.contains(request.kind) else {
            throw StaffError.invalidInput("The kind must be \(Self.credentialKindWords).")
        }
        let label = request.label.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...80).contains(label.count),
            !label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw StaffError.invalidInput("The label must be 1–80 characters.")
        }
        guard (1...Self.maxCredentialDays).contains(request.days) else {
            throw StaffError.invalidInput("The credential must expire within 1–\(Self.maxCredentialDays) days.")
        }
        let org = p.organizationId.idString
        let token = SecretGenerator.credential(prefix: "cby_\(request.kind.rawValue)_")
        let (_, at) = now()
        let issued = try await store.write { s -> CredentialRecord in
            var c = CredentialRecord(
                id: Self.newId(), kind: request.kind.rawValue, tokenHash: keys.credentialHash(token),
                organizationId: org,
                label: label, createdAt: at, expiresAt: at + Int64(request.days) * Milliseconds.day)
            switch request.kind {
            case .courier, .carrier:
                guard let text = request.carrierId, let id = UUID(uuidString: text),
                    let carrier = try await s.carriers(organization: org).first(where: { $0.id == id.idString })
                else { throw DomainError.notFound("carrier not found") }
                guard carrier.deactivatedAt == nil else {
                    throw StaffError.invalidInput("The carrier is deactivated: it gets no new credentials.")
                }
                c.carrierId = carrier.id
                if request.kind == .courier {
                    let courier = Self.newId()
                    try await s.insertCourier(id: courier, carrier: carrier.id, name: label, at: at)
                    c.courierId = courier
                }
            case .device:
                guard let text = request.unitId, let id = UUID(uuidString: text),
                    let unit = try await s.unit(id.idString),
                    unit.organizationId == org
                else { throw DomainError.notFound("unit not found") }
                c.unitId = unit.id
            case .scim:
                // A SCIM client provisions the recipients of one site: the site new users are created in.
                guard let sites = try Self.validSites(request.sites), sites.count == 1 else {
                    throw StaffError.invalidInput("A scim credential needs exactly one site.")
                }
                guard try await s.sites(organization: org).contains(sites[0]) else {
                    throw DomainError.notFound("site not found")
                }
                c.siteIds = sites[0]
            default:
                let sites = try Self.validSites(request.sites)
                if let sites {
                    guard !sites.isEmpty, Set(sites).isSubset(of: Set(try await s.sites(organization: org))) else {
                        throw DomainError.notFound("site not found")
                    }
                    c.siteIds = sites.sorted().joined(separator: ",")
                }
            }
            guard try await reaches(s, p, c) else {
                // The target exists but lies beyond the caller's sites: it is reported as not found.
                throw DomainError.notFound(
                    "\(request.kind == .device ? "unit" : request.carrierId == nil ? "site" : "carrier") not found")
            }
            try await s.insertCredential(c)
            try await s.appendAudit(
                record(
                    .credentialIssued, actor: actor, organization: org,
                    detail: ["credential": c.id, "kind": c.kind, "expiresAt": String(c.expiresAt ?? 0)]))
            return c
        }
        return (issued, token)
    }

    /// Revokes a credential; its very next request fails.
    public func revokeCredential(_ p: Principal, actor: Actor, id: String) async throws -> CredentialRecord {
        let (_, at) = now()
        return try await store.write { s in
            guard let uuid = UUID(uuidString: id), var c = try await s.credential(id: uuid.idString),
                try await reaches(s, p, c)
            else { throw DomainError.notFound("credential not found") }
            guard c.revokedAt == nil else { return c }
            try await s.revokeCredential(id: c.id, at: at)
            c.revokedAt = at
            try await s.appendAudit(
                record(
                    .credentialRevoked, actor: actor, organization: c.organizationId,
                    detail: ["credential": c.id, "kind": c.kind]))
            return c
        }
    }
}
