import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// What can go wrong in staff sign-in, enrollment and user management.
public enum StaffError: Error, Equatable, Sendable {
    /// One answer for an unknown email, a wrong password, a wrong or replayed code, a locked or
    /// deactivated account and a sign-in attempted too soon.
    case signInFailed
    /// Too many failures from one network address.
    case tooManyAttempts(retryAfterSeconds: Int)
    /// The enrollment link is unknown, used or expired.
    case linkInvalid
    case password(PasswordPolicy.Problem)
    case passwordsDiffer
    /// A TOTP code for enrollment or step-up is wrong or already used.
    case codeInvalid
    /// Too many wrong step-up codes in a row: every session of the account has ended.
    case sessionEnded
    case grant(GrantError)
    case invalidInput(String)

    public var message: String {
        switch self {
        case .signInFailed: "The email, password or code is not right, or the account cannot sign in now."
        case .tooManyAttempts: "Too many failed sign-ins from this network address. Wait and try again."
        case .linkInvalid:
            "This enrollment link is not valid: it was used, it expired, or it was replaced by a newer one."
        case .password(let p): p.message
        case .passwordsDiffer: "The two passwords are not the same."
        case .codeInvalid: "The code is not right or was already used. Enter the code your authenticator shows now."
        case .sessionEnded:
            "Too many wrong codes in a row: every session of this account has ended. Sign in again."
        case .grant(let g): g.message
        case .invalidInput(let m): m
        }
    }
}

/// A signed-in staff member's session, as each portal request sees it.
public struct StaffSession: Sendable {
    /// The cookie value (forms' anti-forgery tokens are bound to it).
    public let token: String
    public let hash: Data
    public let account: StaffAccountRecord
    public let principal: Principal
    /// When the holder last entered a TOTP code.
    public let verifiedAt: Date
}

/// Staff accounts: invitation, enrollment with a password and a TOTP authenticator, sign-in with two
/// factors, sessions, step-up, user management and API credentials, each audited.
public struct StaffDesk: Sendable {
    public let store: any SQLStore
    public let keys: LockerKeys
    public let clock: ServerClock
    public let hasher: PasswordHasher
    public let passwords: PasswordPolicy
    let limiter: AddressLimiter
    let logger: Logger

    public static let linkLifetime: TimeInterval = 24 * 3600
    public static let idleTimeout: TimeInterval = 15 * 60
    public static let absoluteTimeout: TimeInterval = 12 * 3600
    /// NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts on one account.
    public static let lockAfterFailures = 100
    /// Failures allowed before each further attempt has to wait.
    public static let freeFailures = 4
    /// Step-up codes refused in a row after which every session of the account ends.
    public static let stepUpFailureLimit = 5
    public static let recoveryCodeCount = 10
    /// The most a credential may live.
    public static let maxCredentialDays = 365

    public init(
        store: any SQLStore, keys: LockerKeys, clock: ServerClock, hasher: PasswordHasher = .standard,
        passwords: PasswordPolicy = .standard, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.clock = clock
        self.hasher = hasher
        self.passwords = passwords
        self.limiter = AddressLimiter()
        self.logger = logger
    }

    /// Seconds an account waits before the next attempt after `failures` consecutive failures.
    public static func delay(afterFailures failures: Int) -> Int {
        failures <= freeFailures ? 0 : min(60, 1 << min(failures - freeFailures - 1, 6))
    }

    // MARK: helpers

    static func newId() -> String { EntityID.make() }

    func now() -> (Date, Int64) {
        let d = clock.now()
        return (d, d.millisecondsSince1970)
    }

    static func actor(_ a: StaffAccountRecord) -> Actor { Actor(kind: .admin, id: a.id, role: a.role) }

    func record(
        _ type: AuditEventType, _ outcome: AuditOutcome = .success, actor: Actor, organization: String?,
        detail: [String: String] = [:]
    ) -> AuditRecord {
        AuditRecord(
            occurredAt: clock.now(), event: type, outcome: outcome, actor: actor,
            organizationId: EntityID.uuid(organization), detail: detail)
    }

    /// A normalized email address, or a clear error.
    public static func email(_ text: String) throws -> String {
        let e = text.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = e.split(separator: "@", omittingEmptySubsequences: false)
        guard (3...254).contains(e.utf8.count), parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            e.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f && $0 != "<" && $0 != ">" && $0 != "\"" })
        else { throw StaffError.invalidInput("Enter a valid email address.") }
        return e
    }

    static func holder(_ a: StaffAccountRecord) -> RoleGrant.Holder {
        RoleGrant.Holder(
            id: UUID(uuidString: a.id) ?? UUID(), role: Principal.Role(rawValue: a.role) ?? .auditor,
            sites: a.sites.map { Set($0.compactMap(UUID.init(uuidString:))) })
    }

    // MARK: accounts and enrollment links

    /// Creates an invited account and its enrollment link; returns the account and the link's token.
    public func createAccount(
        organization: String, email rawEmail: String, role: Principal.Role, sites: [String]?, actor: Actor
    ) async throws -> (StaffAccountRecord, String) {
        let email = try Self.email(rawEmail)
        guard role.isStaff else { throw StaffError.invalidInput("The role must be super-admin, admin or auditor.") }
        if role == .admin && (sites ?? []).isEmpty {
            throw StaffError.invalidInput("An admin runs at least one site: choose its sites.")
        }
        let token = SecretGenerator.credential(prefix: "")
        let account = try await store.write { s -> StaffAccountRecord in
            let orgSites = Set(try await s.sites(organization: organization))
            guard !orgSites.isEmpty || sites == nil else { throw DomainError.notFound("organization not found") }
            if let sites, !Set(sites).isSubset(of: orgSites) { throw DomainError.notFound("site not found") }
            return try await insertInvitedAccount(
                s, organization: organization, email: email, role: role, sites: sites, token: token, actor: actor)
        }
        return (account, token)
    }

    /// Writes an invited account, its enrollment link for `token` and the audit event, in the caller's
    /// transaction; `email` is already normalized and `sites` checked against the organization.
    func insertInvitedAccount(
        _ s: StoreSession, organization: String, email: String, role: Principal.Role, sites: [String]?, token: String,
        actor: Actor
    ) async throws -> StaffAccountRecord {
        let (_, at) = now()
        if try await s.staffAccount(email: email) != nil {
            throw StaffError.invalidInput("An account with this email address already exists.")
        }
        let account = StaffAccountRecord(
            id: Self.newId(), organizationId: organization, email: email, role: role.rawValue,
            siteIds: role == .superAdmin ? nil : sites?.sorted().joined(separator: ","), createdAt: at)
        try await s.insertStaffAccount(account)
        try await s.insertEnrollmentLink(
            EnrollmentLinkRecord(
                tokenHash: keys.enrollmentHash(token), accountId: account.id, createdAt: at,
                expiresAt: at + Milliseconds.of(seconds: Self.linkLifetime)))
        try await s.appendAudit(
            record(
                .staffInvited, actor: actor, organization: organization,
                detail: ["account": account.id, "role": role.rawValue, "sites": account.siteIds ?? "organization"]))
        return account
    }

    /// A fresh enrollment link for an account that has not finished enrolling (older links stop working).
    public func renewEnrollmentLink(accountId: String, actor: Actor) async throws -> String {
        let token = SecretGenerator.credential(prefix: "")
        let (_, at) = now()
        try await store.write { s in
            guard let a = try await s.staffAccount(id: accountId), a.status != "deactivated" else {
                throw DomainError.notFound("account not found")
            }
            try await s.endEnrollmentLinks(account: a.id, at: at)
            try await s.insertEnrollmentLink(
                EnrollmentLinkRecord(
                    tokenHash: keys.enrollmentHash(token), accountId: a.id, createdAt: at,
                    expiresAt: at + Milliseconds.of(seconds: Self.linkLifetime)))
            try await s.appendAudit(
                record(
                    .staffEnrollmentLinkIssued, actor: actor, organization: a.organizationId, detail: ["account": a.id])
            )
        }
        return token
    }

    func validLink(_ s: StoreSession, _ token: String, at: Int64) async throws -> StaffAccountRecord {
        guard token.utf8.count <= 128, let link = try await s.enrollmentLink(hash: keys.enrollmentHash(token)),
            link.usedAt == nil,
            link.expiresAt > at, let account = try await s.staffAccount(id: link.accountId),
            account.status != "deactivated"
        else { throw StaffError.linkInvalid }
        return account
    }

    /// The account an enrollment link belongs to.
    public func enrollingAccount(token: String) async throws -> StaffAccountRecord {
        let (_, at) = now()
        return try await store.read { s in try await validLink(s, token, at: at) }
    }

    /// Step 1 of enrollment: sets the password and a new TOTP secret, which the next step confirms.
    public func choosePassword(token: String, password: String, confirmation: String) async throws -> (
        StaffAccountRecord, OneTimePassword
    ) {
        let account = try await enrollingAccount(token: token)
        guard password == confirmation else { throw StaffError.passwordsDiffer }
        if let problem = passwords.problem(with: password, email: account.email) { throw StaffError.password(problem) }
        let hash = hasher.hash(password)
        let otp = OneTimePassword(secret: OneTimePassword.newSecret())
        let sealed = try keys.accountSecrets.seal(Data(otp.secret), context: "totp:\(account.id)")
        let (_, at) = now()
        let updated = try await store.write { s -> StaffAccountRecord in
            var a = try await validLink(s, token, at: at)
            a.passwordHash = hash
            a.totpSecret = sealed
            a.totpConfirmed = false
            a.updatedAt = at
            try await s.saveStaffAccount(a)
            return a
        }
        return (updated, otp)
    }

    func otp(_ a: StaffAccountRecord) throws -> OneTimePassword? {
        guard let sealed = a.totpSecret else { return nil }
        return OneTimePassword(secret: Array(try keys.accountSecrets.open(sealed, context: "totp:\(a.id)")))
    }

    /// The authenticator secret waiting for confirmation, to show again.
    public func pendingAuthenticator(token: String) async throws -> (StaffAccountRecord, OneTimePassword) {
        let a = try await enrollingAccount(token: token)
        guard a.passwordHash != nil, !a.totpConfirmed, let otp = try otp(a) else { throw StaffError.linkInvalid }
        return (a, otp)
    }

    /// Step 2: the first code from the authenticator confirms it; the account becomes active and gets
    /// its recovery codes (returned once, stored hashed).
    public func confirmAuthenticator(token: String, code: String) async throws -> (StaffAccountRecord, [String]) {
        let codes = (0..<Self.recoveryCodeCount).map { _ in Self.recoveryCode() }
        let (date, at) = now()
        let account = try await store.write { s -> StaffAccountRecord? in
            var a = try await validLink(s, token, at: at)
            guard a.passwordHash != nil, !a.totpConfirmed, let otp = try otp(a) else { throw StaffError.linkInvalid }
            guard let step = otp.acceptedStep(for: code, at: date, lastUsedStep: a.totpLastStep) else { return nil }
            a.totpConfirmed = true
            a.totpLastStep = step
            a.status = "active"
            a.enrolledAt = at
            a.failedSignins = 0
            a.nextSigninAt = nil
            a.locked = false
            a.updatedAt = at
            try await s.saveStaffAccount(a)
            try await s.endEnrollmentLinks(account: a.id, at: at)
            try await s.replaceRecoveryCodes(
                account: a.id, hashes: codes.map { keys.recoveryHash(account: a.id, code: $0) }, at: at)
            try await s.endStaffSessions(account: a.id, at: at)
            try await s.appendAudit(
                record(
                    .staffEnrolled, actor: Self.actor(a), organization: a.organizationId,
                    detail: ["recoveryCodes": String(codes.count)]))
            return a
        }
        guard let account else { throw StaffError.codeInvalid }
        return (account, codes)
    }

    /// A recovery code: 10 characters from the base32 alphabet in two groups (50 bits).
    static func recoveryCode() -> String {
        let text = Base32.encode(SecretGenerator.bytes(7))
        let chars = Array(text.prefix(10))
        return String(chars[0..<5]) + "-" + String(chars[5..<10])
    }

    // MARK: sign-in

    /// The second factor offered at sign-in.
    public enum SecondFactor: Sendable {
        case totp(String)
        case recoveryCode(String)
    }

    enum Attempt: Sendable {
        case success(StaffAccountRecord, remainingRecoveryCodes: Int?)
        case failure
    }

    /// Signs in with email, password and a second factor; returns the new session's cookie value.
    /// Every failure gives the same `signInFailed`, after the same password-hashing work.
    public func signIn(email rawEmail: String, password: String, factor: SecondFactor, address: String) async throws
        -> (String, StaffAccountRecord)
    {
        let (date, at) = now()
        if let wait = await limiter.retryAfter(address, now: date) {
            throw StaffError.tooManyAttempts(retryAfterSeconds: wait)
        }
        let email = (try? Self.email(rawEmail)) ?? ""
        let found = email.isEmpty ? nil : try await store.read { s in try await s.staffAccount(email: email) }
        guard let found, let stored = found.passwordHash else {
            hasher.verifyNothing(password)
            await limiter.recordFailure(address, now: date)
            try await store.write { s in
                try await s.appendAudit(
                    record(
                        .staffSignInFailed, .failure, actor: Actor(kind: .admin, id: nil, role: nil),
                        organization: found?.organizationId,
                        detail: ["reason": found == nil ? "unknown_account" : "not_enrolled", "address": address]))
            }
            throw StaffError.signInFailed
        }
        // The expensive check runs outside the transaction, so it never holds the writer.
        let passwordOK = hasher.verify(password, against: stored)
        let token = SecretGenerator.credential(prefix: "")
        let outcome = try await store.write { s -> Attempt in
            guard var a = try await s.lockStaffAccount(id: found.id) else { return .failure }
            let actor = Self.actor(a)
            func fail(_ reason: String, count: Bool) async throws -> Attempt {
                var detail = ["reason": reason, "address": address]
                if count {
                    try await countFailure(s, &a, at: at)
                    try await s.saveStaffAccount(a)
                    detail["failures"] = String(a.failedSignins)
                }
                try await s.appendAudit(
                    record(.staffSignInFailed, .failure, actor: actor, organization: a.organizationId, detail: detail))
                return .failure
            }
            if a.locked { return try await fail("locked", count: false) }
            guard a.status == "active", a.totpConfirmed, a.passwordHash == stored else {
                return try await fail("not_active", count: false)
            }
            if let next = a.nextSigninAt, next > at { return try await fail("too_soon", count: false) }
            guard passwordOK else { return try await fail("password", count: true) }
            var remaining: Int? = nil
            switch factor {
            case .totp(let code):
                guard let otp = try otp(a),
                    let step = otp.acceptedStep(for: code, at: date, lastUsedStep: a.totpLastStep)
                else {
                    return try await fail("code", count: true)
                }
                a.totpLastStep = step
            case .recoveryCode(let code):
                guard code.utf8.count <= 64,
                    try await s.useRecoveryCode(
                        account: a.id, hash: keys.recoveryHash(account: a.id, code: code), at: at)
                else {
                    return try await fail("recovery_code", count: true)
                }
                let left = try await s.unusedRecoveryCodes(account: a.id)
                remaining = left
                try await s.appendAudit(
                    record(
                        .staffRecoveryCodeUsed, actor: actor, organization: a.organizationId,
                        detail: ["remaining": String(left)]))
            }
            a.failedSignins = 0
            a.stepUpFailures = 0
            a.nextSigninAt = nil
            a.updatedAt = at
            try await s.saveStaffAccount(a)
            try await s.insertStaffSession(StaffSessionRecord(idHash: keys.sessionHash(token), accountId: a.id, at: at))
            try await s.appendAudit(
                record(
                    .staffSignedIn, actor: actor, organization: a.organizationId,
                    detail: ["method": remaining == nil ? "totp" : "recovery_code", "address": address]))
            return .success(a, remainingRecoveryCodes: remaining)
        }
        switch outcome {
        case .success(let a, _): return (token, a)
        case .failure:
            await limiter.recordFailure(address, now: date)
            throw StaffError.signInFailed
        }
    }

    // MARK: sessions

    /// The live session for a cookie value, or nil (unknown, ended, idle or too old, or the account
    /// can no longer sign in). A live session's last-seen time moves forward.
    public func session(token: String) async throws -> StaffSession? {
        guard (16...128).contains(token.utf8.count) else { return nil }
        let hash = keys.sessionHash(token)
        let (_, at) = now()
        guard
            let (session, account, sites) = try await store.read({
                s -> (StaffSessionRecord, StaffAccountRecord, [String])? in
                guard let session = try await s.staffSession(hash: hash), session.endedAt == nil,
                    let account = try await s.staffAccount(id: session.accountId)
                else { return nil }
                if let list = account.sites { return (session, account, list) }
                return (session, account, try await s.sites(organization: account.organizationId))
            })
        else { return nil }
        let idle = at - session.lastSeenAt > Milliseconds.of(seconds: Self.idleTimeout)
        let old = at - session.createdAt > Milliseconds.of(seconds: Self.absoluteTimeout)
        guard !idle, !old, account.status == "active", !account.locked,
            let role = Principal.Role(rawValue: account.role),
            let org = UUID(uuidString: account.organizationId), let id = UUID(uuidString: account.id)
        else {
            if session.endedAt == nil { try await store.write { s in try await s.endStaffSession(hash: hash, at: at) } }
            return nil
        }
        if at - session.lastSeenAt > 15_000 {
            try await store.write { s in try await s.touchStaffSession(hash: hash, lastSeen: at) }
        }
        let principal = Principal(
            role: role, credentialId: CredentialID(id), organizationId: OrganizationID(org),
            siteIds: Set(sites.compactMap(SiteID.init(uuidString:))), subjectId: PersonID(id))
        return StaffSession(
            token: token, hash: hash, account: account, principal: principal,
            verifiedAt: Date(millisecondsSince1970: session.verifiedAt))
    }

    public func signOut(_ session: StaffSession) async throws {
        let (_, at) = now()
        try await store.write { s in
            try await s.endStaffSession(hash: session.hash, at: at)
            try await s.appendAudit(
                record(
                    .staffSignedOut, actor: Self.actor(session.account), organization: session.account.organizationId))
        }
    }

    /// Ends every session of the caller's account, this one included; returns how many.
    @discardableResult
    public func signOutEverywhere(_ session: StaffSession) async throws -> Int {
        let (_, at) = now()
        return try await store.write { s in
            let n = try await s.endStaffSessions(account: session.account.id, at: at)
            try await s.appendAudit(
                record(
                    .staffSignedOutEverywhere, actor: Self.actor(session.account),
                    organization: session.account.organizationId, detail: ["sessions": String(n)]))
            return n
        }
    }

    /// Whether the session entered a TOTP code recently enough for a step-up action.
    public func isSteppedUp(_ session: StaffSession) -> Bool {
        clock.now().timeIntervalSince(session.verifiedAt) <= AccessPolicy.stepUpWindow
    }

    /// Counts one failed sign-in (or refused step-up code) on the account: the delay before its next attempt, and the
    /// lock at `lockAfterFailures` (audited). Returns whether this failure locked the account. The caller saves it.
    @discardableResult
    func countFailure(_ s: StoreSession, _ a: inout StaffAccountRecord, at: Int64) async throws -> Bool {
        a.failedSignins += 1
        a.updatedAt = at
        let wait = Self.delay(afterFailures: a.failedSignins)
        a.nextSigninAt = wait > 0 ? at + Milliseconds.of(seconds: Int64(wait)) : nil
        guard a.failedSignins >= Self.lockAfterFailures && !a.locked else { return false }
        a.locked = true
        try await s.appendAudit(
            record(
                .staffLocked, .failure, actor: Self.actor(a), organization: a.organizationId,
                detail: ["failures": String(a.failedSignins)]))
        return true
    }

    enum StepUpOutcome: Sendable {
        case verified, refused, sessionsEnded
    }

    /// Verifies a fresh TOTP code for a step-up action and records it on the session.
    ///
    /// Refused codes are counted on the account, in the database, so every server process sees one count: each counts
    /// toward the account's sign-in lock as a failed sign-in does, and the `stepUpFailureLimit`-th in a row ends every
    /// session of the account (a stolen session gets a handful of guesses, never the 10^6 codes).
    public func stepUp(_ session: StaffSession, code: String) async throws {
        let (date, at) = now()
        let outcome = try await store.write { s -> StepUpOutcome in
            guard var a = try await s.lockStaffAccount(id: session.account.id),
                try await s.staffSession(hash: session.hash)?.endedAt == nil
            else { return .sessionsEnded }
            let actor = Self.actor(a)
            if let otp = try otp(a), let step = otp.acceptedStep(for: code, at: date, lastUsedStep: a.totpLastStep) {
                a.totpLastStep = step
                a.stepUpFailures = 0
                a.updatedAt = at
                try await s.saveStaffAccount(a)
                try await s.touchStaffSession(hash: session.hash, lastSeen: at, verifiedAt: at)
                try await s.appendAudit(record(.staffSteppedUp, actor: actor, organization: a.organizationId))
                return .verified
            }
            a.stepUpFailures += 1
            // Locking the account ends its sessions too (`session(token:)` refuses a locked account).
            let lockedNow = try await countFailure(s, &a, at: at)
            var detail = ["failures": String(a.stepUpFailures), "failedSignins": String(a.failedSignins)]
            var outcome = lockedNow ? StepUpOutcome.sessionsEnded : .refused
            if a.stepUpFailures >= Self.stepUpFailureLimit {
                detail["sessionsEnded"] = String(try await s.endStaffSessions(account: a.id, at: at))
                a.stepUpFailures = 0
                outcome = .sessionsEnded
            }
            try await s.appendAudit(
                record(.staffStepUpFailed, .failure, actor: actor, organization: a.organizationId, detail: detail))
            try await s.saveStaffAccount(a)
            return outcome
        }
        switch outcome {
        case .verified: return
        case .refused: throw StaffError.codeInvalid
        case .sessionsEnded: throw StaffError.sessionEnded
        }
    }
}
