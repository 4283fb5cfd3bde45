import CubbyCore
import Foundation
import SQLKit

/// A staff member's account: administrator, super-administrator or auditor.
public struct StaffAccountRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    /// Lowercased. In the database, `email` holds the address's keyed hash (the blind index) and `email_sealed` the
    /// address sealed under the member's data key; the store opens it when it reads the row.
    public var email: String
    /// `super-admin`, `admin` or `auditor`.
    public var role: String
    /// Comma-separated site ids; nil means every site of the organization.
    public var siteIds: String?
    /// `invited`, `active` or `deactivated`.
    public var status: String
    public var passwordHash: String?
    /// The TOTP secret, sealed under the server's account-secret key.
    public var totpSecret: Data?
    public var totpConfirmed: Bool
    /// The last TOTP step accepted; a code of this step or an earlier one is refused.
    public var totpLastStep: Int64?
    public var failedSignins: Int
    /// Step-up codes refused in a row (they count toward `failedSignins` too); at the limit every session ends.
    public var stepUpFailures: Int
    public var nextSigninAt: Int64?
    public var locked: Bool
    public var createdAt: Int64
    public var enrolledAt: Int64?
    public var updatedAt: Int64
    /// The member's data key, wrapped by the key-encryption key (made with the account).
    public var dataKey: Data?
    /// The address sealed under `dataKey`; nil in a row written before emails were sealed.
    public var emailSealed: Data?

    public init(id: String, organizationId: String, email: String, role: String, siteIds: String?, createdAt: Int64) {
        self.id = id
        self.organizationId = organizationId
        self.email = email
        self.role = role
        self.siteIds = siteIds
        self.status = "invited"
        self.passwordHash = nil
        self.totpSecret = nil
        self.totpConfirmed = false
        self.totpLastStep = nil
        self.failedSignins = 0
        self.stepUpFailures = 0
        self.nextSigninAt = nil
        self.locked = false
        self.createdAt = createdAt
        self.enrolledAt = nil
        self.updatedAt = createdAt
    }

    /// The site ids, or nil for the whole organization.
    public var sites: [String]? { siteIds.map { $0.split(separator: ",").map(String.init) } }
}

public struct EnrollmentLinkRecord: Codable, Sendable, Hashable {
    public var tokenHash: Data
    public var accountId: String
    public var createdAt: Int64
    public var expiresAt: Int64
    public var usedAt: Int64?

    public init(tokenHash: Data, accountId: String, createdAt: Int64, expiresAt: Int64) {
        self.tokenHash = tokenHash
        self.accountId = accountId
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = nil
    }
}

public struct StaffSessionRecord: Codable, Sendable, Hashable {
    public var idHash: Data
    public var accountId: String
    public var createdAt: Int64
    public var lastSeenAt: Int64
    /// When the holder last entered a TOTP code (at sign-in or a step-up).
    public var verifiedAt: Int64
    public var endedAt: Int64?

    public init(idHash: Data, accountId: String, at: Int64) {
        self.idHash = idHash
        self.accountId = accountId
        self.createdAt = at
        self.lastSeenAt = at
        self.verifiedAt = at
        self.endedAt = nil
    }
}

/// Reads and writes of staff accounts, enrollment links, recovery codes and sessions.
extension StoreSession {
    /// Stores a new account: its email sealed under a new data key of its own, found later by its keyed hash.
    public func insertStaffAccount(_ r: StaffAccountRecord) async throws {
        let cipher = try ciphers.staffEmails()
        var stored = r
        var key = r.dataKey ?? Data()
        if r.dataKey == nil { key = try await cipher.newDataKey(self, r.id) }
        stored.dataKey = key
        stored.email = cipher.index(r.email)
        stored.emailSealed = try cipher.seal(r.email.lowercased(), r.id, key)
        try await insert("staff_accounts", stored)
    }

    public func staffAccount(id: String) async throws -> StaffAccountRecord? {
        try await opened(
            try await one("SELECT * FROM staff_accounts WHERE id = \(bind: id)", as: StaffAccountRecord.self))
    }

    /// The account, locked until the transaction ends (PostgreSQL), so concurrent sign-ins count failures in turn.
    public func lockStaffAccount(id: String) async throws -> StaffAccountRecord? {
        try await opened(
            try await one(
                "SELECT * FROM staff_accounts WHERE id = \(bind: id)\(unsafeRaw: kind == .postgres ? " FOR UPDATE" : "")",
                as: StaffAccountRecord.self))
    }

    /// The account of an address, found by its keyed hash (or, in a row not sealed yet, by the address).
    public func staffAccount(email: String) async throws -> StaffAccountRecord? {
        let address = email.lowercased()
        let index = try ciphers.staffEmails().index(address)
        return try await opened(
            try await one(
                "SELECT * FROM staff_accounts WHERE email IN (\(bind: index), \(bind: address)) ORDER BY email_sealed IS NULL",
                as: StaffAccountRecord.self))
    }

    /// An organization's accounts, by email.
    public func staffAccounts(organization: String) async throws -> [StaffAccountRecord] {
        var rows: [StaffAccountRecord] = []
        for row in try await all(
            "SELECT * FROM staff_accounts WHERE organization_id = \(bind: organization)", as: StaffAccountRecord.self)
        {
            rows.append(try await opened(row))
        }
        return rows.sorted { ($0.email, $0.id) < ($1.email, $1.id) }
    }

    /// The row with its email opened.
    func opened(_ row: StaffAccountRecord?) async throws -> StaffAccountRecord? {
        try await row.asyncMap { try await opened($0) }
    }

    func opened(_ row: StaffAccountRecord) async throws -> StaffAccountRecord {
        guard let sealed = row.emailSealed else { return row }
        guard let key = row.dataKey else { throw StoreError.corrupt("staff account \(row.id) has no data key") }
        var open = row
        open.email = try await ciphers.staffEmails().open(self, sealed, row.id, key)
        return open
    }

    /// Seals the emails of accounts written before emails were sealed; returns how many. Each row is changed only
    /// while it is still in clear, so several processes starting at once seal each once.
    public func sealStaffEmails() async throws -> Int {
        let cipher = try ciphers.staffEmails()
        let rows = try await all(
            "SELECT * FROM staff_accounts WHERE email_sealed IS NULL", as: StaffAccountRecord.self)
        for row in rows {
            var key = row.dataKey ?? Data()
            if row.dataKey == nil { key = try await cipher.newDataKey(self, row.id) }
            try await sql.raw(
                """
                UPDATE staff_accounts SET email = \(bind: cipher.index(row.email)),
                  email_sealed = \(bind: try cipher.seal(row.email.lowercased(), row.id, key)), data_key = \(bind: key)
                WHERE id = \(bind: row.id) AND email_sealed IS NULL
                """
            ).run()
        }
        return rows.count
    }

    /// Active or invited super-administrators of an organization.
    public func superAdminCount(organization: String) async throws -> Int {
        try await sql.raw(
            """
            SELECT COUNT(*) AS n FROM staff_accounts
            WHERE organization_id = \(bind: organization) AND role = 'super-admin' AND status <> 'deactivated'
            """
        ).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func saveStaffAccount(_ a: StaffAccountRecord) async throws {
        try await sql.raw(
            """
            UPDATE staff_accounts SET role = \(bind: a.role), site_ids = \(bind: a.siteIds), status = \(bind: a.status),
              password_hash = \(bind: a.passwordHash), totp_secret = \(bind: a.totpSecret), totp_confirmed = \(bind: a.totpConfirmed),
              totp_last_step = \(bind: a.totpLastStep), failed_signins = \(bind: a.failedSignins),
              step_up_failures = \(bind: a.stepUpFailures),
              next_signin_at = \(bind: a.nextSigninAt), locked = \(bind: a.locked), enrolled_at = \(bind: a.enrolledAt),
              updated_at = \(bind: a.updatedAt)
            WHERE id = \(bind: a.id)
            """
        ).run()
    }

    // MARK: enrollment links

    public func insertEnrollmentLink(_ r: EnrollmentLinkRecord) async throws { try await insert("enrollment_links", r) }

    public func enrollmentLink(hash: Data) async throws -> EnrollmentLinkRecord? {
        try await one("SELECT * FROM enrollment_links WHERE token_hash = \(bind: hash)", as: EnrollmentLinkRecord.self)
    }

    /// Marks every unused link of an account used (a new link, or enrollment, ends the older ones).
    public func endEnrollmentLinks(account: String, at: Int64) async throws {
        try await sql.raw(
            "UPDATE enrollment_links SET used_at = \(bind: at) WHERE account_id = \(bind: account) AND used_at IS NULL"
        ).run()
    }

    // MARK: recovery codes

    /// Replaces an account's recovery codes.
    public func replaceRecoveryCodes(account: String, hashes: [Data], at: Int64) async throws {
        try await sql.raw("DELETE FROM recovery_codes WHERE account_id = \(bind: account)").run()
        for h in hashes {
            try await sql.raw(
                """
                INSERT INTO recovery_codes (code_hash, account_id, created_at) VALUES (\(bind: h), \(bind: account), \(bind: at))
                """
            ).run()
        }
    }

    /// Uses an unused recovery code of the account; true when one matched.
    public func useRecoveryCode(account: String, hash: Data, at: Int64) async throws -> Bool {
        let rows = try await sql.raw(
            """
            UPDATE recovery_codes SET used_at = \(bind: at)
            WHERE account_id = \(bind: account) AND code_hash = \(bind: hash) AND used_at IS NULL
            RETURNING account_id
            """
        ).all()
        return !rows.isEmpty
    }

    public func unusedRecoveryCodes(account: String) async throws -> Int {
        try await sql.raw(
            """
            SELECT COUNT(*) AS n FROM recovery_codes WHERE account_id = \(bind: account) AND used_at IS NULL
            """
        ).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    // MARK: sessions

    public func insertStaffSession(_ r: StaffSessionRecord) async throws { try await insert("staff_sessions", r) }

    public func staffSession(hash: Data) async throws -> StaffSessionRecord? {
        try await one("SELECT * FROM staff_sessions WHERE id_hash = \(bind: hash)", as: StaffSessionRecord.self)
    }

    public func touchStaffSession(hash: Data, lastSeen: Int64, verifiedAt: Int64? = nil) async throws {
        if let verifiedAt {
            try await sql.raw(
                "UPDATE staff_sessions SET last_seen_at = \(bind: lastSeen), verified_at = \(bind: verifiedAt) WHERE id_hash = \(bind: hash)"
            ).run()
        } else {
            try await sql.raw(
                "UPDATE staff_sessions SET last_seen_at = \(bind: lastSeen) WHERE id_hash = \(bind: hash)"
            ).run()
        }
    }

    public func endStaffSession(hash: Data, at: Int64) async throws {
        try await sql.raw(
            "UPDATE staff_sessions SET ended_at = \(bind: at) WHERE id_hash = \(bind: hash) AND ended_at IS NULL"
        ).run()
    }

    /// Ends every open session of an account; returns how many.
    @discardableResult
    public func endStaffSessions(account: String, at: Int64) async throws -> Int {
        try await sql.raw(
            """
            UPDATE staff_sessions SET ended_at = \(bind: at) WHERE account_id = \(bind: account) AND ended_at IS NULL
            RETURNING account_id
            """
        ).all().count
    }

    // MARK: API credentials, as the portal lists them

    public func credentials(organization: String) async throws -> [CredentialRecord] {
        try await all(
            "SELECT * FROM credentials WHERE organization_id = \(bind: organization) ORDER BY created_at, id",
            as: CredentialRecord.self)
    }

    public func credential(id: String) async throws -> CredentialRecord? {
        try await one("SELECT * FROM credentials WHERE id = \(bind: id)", as: CredentialRecord.self)
    }

    public func revokeCredential(id: String, at: Int64) async throws {
        try await sql.raw(
            "UPDATE credentials SET revoked_at = \(bind: at) WHERE id = \(bind: id) AND revoked_at IS NULL"
        ).run()
    }

    public func units(organization: String) async throws -> [UnitRecord] {
        try await all(
            "SELECT * FROM units WHERE organization_id = \(bind: organization) ORDER BY name, id", as: UnitRecord.self)
    }

    public func sitesRecords(organization: String) async throws -> [SiteRecord] {
        try await all(
            "SELECT * FROM sites WHERE organization_id = \(bind: organization) ORDER BY name, id", as: SiteRecord.self)
    }

    public func carriers(organization: String) async throws -> [CarrierRecord] {
        try await all(
            "SELECT * FROM carriers WHERE organization_id = \(bind: organization) ORDER BY name, id",
            as: CarrierRecord.self)
    }

    /// Compartment counts by unit and state, for occupancy.
    public func compartmentStates(organization: String) async throws -> [(unitId: String, state: String, count: Int)] {
        try await sql.raw(
            """
            SELECT c.unit_id, c.state, COUNT(*) AS n FROM compartments c JOIN units u ON u.id = c.unit_id
            WHERE u.organization_id = \(bind: organization) GROUP BY c.unit_id, c.state
            """
        ).all().map {
            (
                try $0.decode(column: "unit_id", as: String.self), try $0.decode(column: "state", as: String.self),
                try $0.decode(column: "n", as: Int.self)
            )
        }
    }

    /// The compartments of an organization that staff can take out of service or put back: the available
    /// and the out-of-service ones, in label order.
    public func serviceableCompartments(organization: String) async throws -> [CompartmentRecord] {
        try await all(
            """
            SELECT c.* FROM compartments c JOIN units u ON u.id = c.unit_id
            WHERE u.organization_id = \(bind: organization) AND c.state IN ('available', 'out_of_service') ORDER BY c.label
            """, as: CompartmentRecord.self)
    }

    // MARK: residents

    /// The recipient signing in with this email: across organizations, an active recipient before a deactivated one
    /// (who may still sign in to see parcels left for them), then the most recently created.
    public func recipient(emailHash: Data) async throws -> RecipientRecord? {
        try await one(
            """
            SELECT * FROM recipients WHERE email_hash = \(bind: emailHash) AND erased_at IS NULL
            ORDER BY CASE WHEN deactivated_at IS NULL THEN 0 ELSE 1 END, created_at DESC, id LIMIT 1
            """,
            as: RecipientRecord.self)
    }

    /// Ends the recipient's unused codes and stores a new one.
    public func replaceResidentCode(id: String, recipient: String, hash: Data, at: Int64, expiresAt: Int64) async throws
    {
        try await sql.raw(
            "UPDATE resident_codes SET used_at = \(bind: at) WHERE recipient_id = \(bind: recipient) AND used_at IS NULL"
        ).run()
        try await sql.raw(
            """
            INSERT INTO resident_codes (id, recipient_id, code_hash, created_at, expires_at, attempts)
            VALUES (\(bind: id), \(bind: recipient), \(bind: hash), \(bind: at), \(bind: expiresAt), 0)
            """
        ).run()
    }

    /// The recipient's live code: its id, hash, expiry and attempts so far.
    public func liveResidentCode(recipient: String) async throws -> (
        id: String, hash: Data, expiresAt: Int64, attempts: Int
    )? {
        guard
            let row = try await sql.raw(
                """
                SELECT id, code_hash, expires_at, attempts FROM resident_codes
                WHERE recipient_id = \(bind: recipient) AND used_at IS NULL ORDER BY created_at DESC LIMIT 1
                """
            ).first()
        else { return nil }
        return (
            try row.decode(column: "id", as: String.self), try row.decode(column: "code_hash", as: Data.self),
            try row.decode(column: "expires_at", as: Int64.self), try row.decode(column: "attempts", as: Int.self)
        )
    }

    public func countResidentCodeAttempt(id: String, used: Bool, at: Int64) async throws {
        if used {
            try await sql.raw(
                "UPDATE resident_codes SET used_at = \(bind: at), attempts = attempts + 1 WHERE id = \(bind: id)"
            ).run()
        } else {
            try await sql.raw("UPDATE resident_codes SET attempts = attempts + 1 WHERE id = \(bind: id)").run()
        }
    }

    public func insertResidentSession(hash: Data, recipient: String, at: Int64) async throws {
        try await sql.raw(
            """
            INSERT INTO resident_sessions (id_hash, recipient_id, created_at, last_seen_at) VALUES (\(bind: hash), \(bind: recipient), \(bind: at), \(bind: at))
            """
        ).run()
    }

    /// The session's recipient, start and last-seen time, if it has not ended.
    public func residentSession(hash: Data) async throws -> (recipient: String, createdAt: Int64, lastSeenAt: Int64)? {
        guard
            let row = try await sql.raw(
                """
                SELECT recipient_id, created_at, last_seen_at FROM resident_sessions WHERE id_hash = \(bind: hash) AND ended_at IS NULL
                """
            ).first()
        else { return nil }
        return (
            try row.decode(column: "recipient_id", as: String.self),
            try row.decode(column: "created_at", as: Int64.self),
            try row.decode(column: "last_seen_at", as: Int64.self)
        )
    }

    public func touchResidentSession(hash: Data, at: Int64) async throws {
        try await sql.raw("UPDATE resident_sessions SET last_seen_at = \(bind: at) WHERE id_hash = \(bind: hash)").run()
    }

    public func endResidentSession(hash: Data, at: Int64) async throws {
        try await sql.raw(
            "UPDATE resident_sessions SET ended_at = \(bind: at) WHERE id_hash = \(bind: hash) AND ended_at IS NULL"
        ).run()
    }

    /// A recipient's parcels, newest first.
    public func parcels(recipient: String, limit: Int = 100) async throws -> [ParcelRecord] {
        try await all(
            "SELECT * FROM parcels WHERE recipient_id = \(bind: recipient) ORDER BY created_at DESC, id LIMIT \(bind: limit)",
            as: ParcelRecord.self)
    }

    /// Records a form's single-use value; false when it was used before.
    public func claimFormSubmission(hash: Data, at: Int64) async throws -> Bool {
        try await !sql.raw(
            """
            INSERT INTO form_submissions (once_hash, used_at) VALUES (\(bind: hash), \(bind: at))
            ON CONFLICT (once_hash) DO NOTHING RETURNING once_hash
            """
        ).all().isEmpty
    }
}
