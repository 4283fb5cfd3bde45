import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A staff member a test enrolled and signed in.
struct StaffMember: Sendable {
    var account: StaffAccountRecord
    var otp: OneTimePassword
    var recoveryCodes: [String]
    var session: String
    var password: String
    var email: String { account.email }
}

extension TestWorld {
    var staff: StaffDesk { parts.staff }
    var site: String { manifest.siteId }

    /// Creates, enrolls and signs in a staff member (the clock moves one TOTP step).
    func staffMember(
        _ email: String, _ role: Principal.Role, sites: [String]? = nil, password: String = "violet tram under lantern"
    ) async throws -> StaffMember {
        let (account, link) = try await staff.createAccount(
            organization: manifest.organizationId, email: email, role: role, sites: sites, actor: .system)
        let (_, otp) = try await staff.choosePassword(token: link, password: password, confirmation: password)
        let (_, codes) = try await staff.confirmAuthenticator(token: link, code: otp.code(at: clock.now))
        var member = StaffMember(account: account, otp: otp, recoveryCodes: codes, session: "", password: password)
        member.session = try await signIn(member)
        return member
    }

    /// Signs in again with the next TOTP step's code.
    func signIn(_ m: StaffMember) async throws -> String {
        clock.advance(30)
        return try await staff.signIn(
            email: m.email, password: m.password, factor: .totp(m.otp.code(at: clock.now)), address: "127.0.0.1"
        ).0
    }

    func session(_ m: StaffMember) async throws -> StaffSession {
        guard let s = try await staff.session(token: m.session) else { throw StaffError.signInFailed }
        return s
    }

    /// The types of the events written since the world was seeded (its provisioning is left out), in order.
    func auditTypes() async throws -> [String] {
        return try await parts.store.read { s in
            try await s.auditEvents(from: 0, limit: 100_000).dropFirst(seededEvents).map(\.type)
        }
    }

    /// Signs the first demo resident in with a code taken from the notifications file; returns the cookie value.
    func residentSignIn(_ email: String = "resident1@example.org") async throws -> String {
        try await parts.residents.requestCode(email: email, address: "127.0.0.1")
        try await settle()
        let code = try #require(try notifications().last { $0["kind"] == SignInCodeNotification.kind }?["code"])
        return try await parts.residents.signIn(email: email, code: code, address: "127.0.0.1")
    }

    /// A second site of the organization, with one unit.
    func otherSite() async throws -> (site: String, unit: String) {
        let site = UUID().uuidString.lowercased()
        let unit = UUID().uuidString.lowercased()
        try await parts.store.write { s in
            try await s.insertSite(
                SiteRecord(id: site, organizationId: manifest.organizationId, name: "Harbour View", createdAt: 0))
            try await s.insertUnit(
                UnitRecord(
                    id: unit, organizationId: manifest.organizationId, siteId: site, name: "Harbour A", createdAt: 0))
        }
        return (site, unit)
    }
}

@Suite("Staff accounts: enrollment, sign-in, sessions, escalation")
struct StaffTests {
    @Test(arguments: Backend.available)
    func enrollmentThenSignInWithTwoFactors(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = try await w.staffMember("ops@example.org", .superAdmin)
            #expect(m.recoveryCodes.count == 10)
            #expect(Set(m.recoveryCodes).count == 10)
            let s = try await w.session(m)
            #expect(s.principal.role == .superAdmin)
            #expect(s.principal.siteIds.map { $0.uuid.uuidString.lowercased() } == [w.site])
            // The session id is 160 random bits and is stored only as a keyed hash.
            #expect(m.session.count >= 26)
            let stored = try await w.parts.store.read { db in
                try await db.staffSession(hash: w.parts.keys.sessionHash(m.session))
            }
            #expect(stored != nil)
            let types = try await w.auditTypes()
            #expect(
                types.contains("staff.invited") && types.contains("staff.enrolled") && types.contains("staff.signed_in")
            )
        }
    }

    @Test func aReplayedCodeFailsAndSoDoEveryOtherWrongFactorWithOneAnswer() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("ops@example.org", .superAdmin)
            let used = m.otp.code(at: w.clock.now)
            // Replayed code (the one that just signed in), wrong password, unknown email, wrong code.
            let attempts: [(String, String, String)] = [
                (m.email, m.password, used),
                (m.email, "not the password at all", m.otp.code(at: w.clock.now.addingTimeInterval(30))),
                ("nobody@example.org", m.password, used),
                (m.email, m.password, "000000"),
            ]
            for (email, password, code) in attempts {
                await #expect(throws: StaffError.signInFailed) {
                    _ = try await w.staff.signIn(
                        email: email, password: password, factor: .totp(code), address: "10.0.0.1")
                }
            }
            let events = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 1000) }
            let failures = events.filter { $0.type == "staff.sign_in_failed" }
            #expect(failures.count == 4)
            // No secret reaches the audit log: neither the password nor any code.
            let dump = events.map { "\($0)" }.joined()
            #expect(
                !dump.contains(m.password) && !dump.contains("not the password at all")
                    && !dump.contains("nobody@example.org"))
        }
    }

    @Test func failuresDelayThenLockTheAccountAfterAHundred() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("ops@example.org", .superAdmin)
            for n in 1...StaffDesk.lockAfterFailures {
                await #expect(throws: StaffError.signInFailed) {
                    _ = try await w.staff.signIn(
                        email: m.email, password: "wrong password \(n)", factor: .totp("123456"), address: "10.0.\(n).1"
                    )
                }
                let a = try await w.parts.store.read { s in try await s.staffAccount(id: m.account.id) }!
                #expect(a.failedSignins == n)
                #expect(a.locked == (n >= 100))
                if n == 5 { #expect(a.nextSigninAt == w.clock.now.millisecondsSince1970 + 1000) }
                if n <= StaffDesk.freeFailures { #expect(a.nextSigninAt == nil) }
                w.clock.advance(61)
            }
            // Locked: even every right factor fails now.
            w.clock.advance(30)
            await #expect(throws: StaffError.signInFailed) {
                _ = try await w.staff.signIn(
                    email: m.email, password: m.password, factor: .totp(m.otp.code(at: w.clock.now)),
                    address: "10.9.9.9")
            }
            #expect(try await w.auditTypes().contains("staff.locked"))
            #expect(StaffDesk.delay(afterFailures: 6) == 2 && StaffDesk.delay(afterFailures: 50) == 60)
        }
    }

    @Test func anAttemptDuringTheDelayIsRefusedWithoutCounting() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("ops@example.org", .superAdmin)
            for _ in 1...5 {
                _ = try? await w.staff.signIn(
                    email: m.email, password: "wrong password", factor: .totp("123456"), address: "10.0.0.2")
            }
            // Inside the one-second delay even the right factors are refused, and the refusal is not counted.
            let code = m.otp.hotp(counter: UInt64(m.otp.step(at: w.clock.now) + 1))
            await #expect(throws: StaffError.signInFailed) {
                _ = try await w.staff.signIn(
                    email: m.email, password: m.password, factor: .totp(code), address: "10.0.0.2")
            }
            let a = try await w.parts.store.read { s in try await s.staffAccount(id: m.account.id) }!
            #expect(a.failedSignins == 5)
            // After the delay they work, and the count starts again.
            w.clock.advance(2)
            _ = try await w.staff.signIn(email: m.email, password: m.password, factor: .totp(code), address: "10.0.0.2")
            let b = try await w.parts.store.read { s in try await s.staffAccount(id: m.account.id) }!
            #expect(b.failedSignins == 0)
        }
    }

    @Test func onePerAddressLimiterStopsSprayingAcrossAccounts() async throws {
        try await TestWorld.with(.sqlite) { w in
            var limited = false
            for n in 0..<40 {
                do {
                    _ = try await w.staff.signIn(
                        email: "user\(n)@example.org", password: "whatever password", factor: .totp("123456"),
                        address: "192.0.2.7")
                } catch StaffError.tooManyAttempts(let wait) {
                    #expect(wait > 0)
                    limited = true
                    break
                } catch {}
            }
            #expect(limited)
            // Another address is not affected.
            await #expect(throws: StaffError.signInFailed) {
                _ = try await w.staff.signIn(
                    email: "user@example.org", password: "whatever password", factor: .totp("123456"),
                    address: "192.0.2.8")
            }
        }
    }

    @Test func recoveryCodesWorkOnceEach() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("ops@example.org", .superAdmin)
            let code = m.recoveryCodes[3]
            _ = try await w.staff.signIn(
                email: m.email, password: m.password, factor: .recoveryCode(code.uppercased()), address: "127.0.0.1")
            await #expect(throws: StaffError.signInFailed) {
                _ = try await w.staff.signIn(
                    email: m.email, password: m.password, factor: .recoveryCode(code), address: "127.0.0.1")
            }
            let left = try await w.parts.store.read { s in try await s.unusedRecoveryCodes(account: m.account.id) }
            #expect(left == 9)
            #expect(try await w.auditTypes().contains("staff.recovery_code_used"))
        }
    }

    @Test func sessionsEndWhenIdleTooOldOrSignedOutEverywhere() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("ops@example.org", .superAdmin)
            w.clock.advance(14 * 60)
            #expect(try await w.staff.session(token: m.session) != nil)
            w.clock.advance(15 * 60 + 1)
            #expect(try await w.staff.session(token: m.session) == nil, "idle for more than 15 minutes")
            // Kept busy, a session still ends after 12 hours.
            let busy = try await w.signIn(m)
            for _ in 0..<(12 * 6) {
                w.clock.advance(10 * 60)
                _ = try await w.staff.session(token: busy)
            }
            w.clock.advance(60)
            #expect(try await w.staff.session(token: busy) == nil, "older than 12 hours")
            // Sign out everywhere ends every session of the account.
            let one = try await w.signIn(m)
            let two = try await w.signIn(m)
            let n = try await w.staff.signOutEverywhere(try await w.staff.session(token: one)!)
            #expect(n == 2)
            #expect(try await w.staff.session(token: one) == nil)
            #expect(try await w.staff.session(token: two) == nil)
        }
    }

    @Test func stepUpNeedsAFreshCode() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("ops@example.org", .superAdmin)
            #expect(w.staff.isSteppedUp(try await w.session(m)))
            w.clock.advance(5 * 60 + 1)
            let s = try await w.session(m)
            #expect(!w.staff.isSteppedUp(s))
            await #expect(throws: StaffError.codeInvalid) {
                try await w.staff.stepUp(s, code: m.otp.hotp(counter: UInt64(m.otp.step(at: w.clock.now) - 20)))
            }
            try await w.staff.stepUp(s, code: m.otp.code(at: w.clock.now))
            #expect(w.staff.isSteppedUp(try await w.session(m)))
        }
    }

    @Test(arguments: Backend.available)
    func escalationIsRefused(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let admin = try await w.staffMember("site@example.org", .admin, sites: [w.site])
            let other = try await w.otherSite()
            let bossS = try await w.session(boss)
            let adminS = try await w.session(admin)
            // An admin cannot grant a role it does not hold, nor reach beyond its sites.
            await #expect(throws: StaffError.grant(.roleNotHeld)) {
                _ = try await w.staff.invite(adminS, email: "new@example.org", role: .superAdmin, sites: nil)
            }
            await #expect(throws: StaffError.grant(.outsideScope)) {
                _ = try await w.staff.invite(
                    adminS, email: "new@example.org", role: .admin, sites: [w.site, other.site])
            }
            // Nobody changes their own role.
            await #expect(throws: StaffError.grant(.ownAccount)) {
                _ = try await w.staff.changeRole(
                    adminS, accountId: admin.account.id, role: .admin, sites: [w.site, other.site])
            }
            await #expect(throws: StaffError.grant(.ownAccount)) {
                _ = try await w.staff.changeRole(bossS, accountId: boss.account.id, role: .admin, sites: [w.site])
            }
            // The last super-admin cannot be demoted or removed — not even by another super-admin after the first is gone.
            let deputy = try await w.staffMember("deputy@example.org", .superAdmin)
            let deputyS = try await w.session(deputy)
            _ = try await w.staff.deactivate(deputyS, accountId: boss.account.id)
            await #expect(throws: StaffError.grant(.ownAccount)) {
                _ = try await w.staff.deactivate(deputyS, accountId: deputy.account.id)
            }
            // The deactivated account's session ended with it.
            #expect(try await w.staff.session(token: boss.session) == nil)
            // An account beyond the admin's sites is "not found", like one that does not exist.
            let far = try await w.staff.invite(deputyS, email: "far@example.org", role: .admin, sites: [other.site]).0
            await #expect(throws: DomainError.notFound("account not found")) {
                _ = try await w.staff.deactivate(adminS, accountId: far.id)
            }
            await #expect(throws: DomainError.notFound("account not found")) {
                _ = try await w.staff.deactivate(adminS, accountId: UUID().uuidString)
            }
            await #expect(throws: DomainError.notFound("account not found")) {
                _ = try await w.staff.deactivate(adminS, accountId: deputy.account.id)
            }
            // What an admin may do, it can: invite an auditor for its site, then change it to admin.
            let aud = try await w.staff.invite(adminS, email: "aud@example.org", role: .auditor, sites: [w.site]).0
            let changed = try await w.staff.changeRole(adminS, accountId: aud.id, role: .admin, sites: [w.site])
            #expect(changed.role == "admin")
            #expect(try await w.staff.users(adminS).map(\.email).sorted() == ["aud@example.org", "site@example.org"])
            let types = try await w.auditTypes()
            #expect(types.contains("staff.role_changed") && types.contains("staff.deactivated"))
        }
    }

    @Test func theLastSuperAdminCannotBeDemoted() async throws {
        try await TestWorld.with(.sqlite) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            // The seeded organization's own super-administrator (invited, never enrolled) is deactivated first.
            let seeded = try #require(
                try await w.parts.store.read { s in try await s.staffAccount(email: "admin@example.org") })
            _ = try await w.staff.deactivate(try await w.session(boss), accountId: seeded.id)
            let deputy = try await w.staffMember("deputy@example.org", .superAdmin)
            _ = try await w.staff.changeRole(
                try await w.session(boss), accountId: deputy.account.id, role: .admin, sites: [w.site])
            let demoted = try await w.session(deputy)
            #expect(demoted.principal.role == .admin)
            // The remaining super-admin is the last one; the demoted deputy cannot touch it either.
            await #expect(throws: DomainError.notFound("account not found")) {
                _ = try await w.staff.changeRole(demoted, accountId: boss.account.id, role: .admin, sites: [w.site])
            }
            // The one super-admin left can only be changed by itself, which nobody may do.
            await #expect(throws: StaffError.grant(.ownAccount)) {
                _ = try await w.staff.changeRole(
                    try await w.session(boss), accountId: boss.account.id, role: .admin, sites: [w.site])
            }
            #expect(
                try await w.parts.store.read { s in try await s.superAdminCount(organization: w.manifest.organizationId)
                } == 1)
        }
    }

    @Test func enrollmentRefusesWeakPasswordsExpiredLinksAndWrongCodes() async throws {
        try await TestWorld.with(.sqlite) { w in
            let (_, link) = try await w.staff.createAccount(
                organization: w.manifest.organizationId, email: "new@example.org", role: .auditor, sites: nil,
                actor: .system)
            await #expect(throws: StaffError.password(.tooShort(minimum: 12))) {
                _ = try await w.staff.choosePassword(token: link, password: "short", confirmation: "short")
            }
            await #expect(throws: StaffError.password(.common)) {
                _ = try await w.staff.choosePassword(
                    token: link, password: "password12345", confirmation: "password12345")
            }
            await #expect(throws: StaffError.passwordsDiffer) {
                _ = try await w.staff.choosePassword(
                    token: link, password: "violet tram under lantern", confirmation: "violet tram under lanterns")
            }
            let (_, otp) = try await w.staff.choosePassword(
                token: link, password: "violet tram under lantern", confirmation: "violet tram under lantern")
            await #expect(throws: StaffError.codeInvalid) {
                _ = try await w.staff.confirmAuthenticator(token: link, code: "000000")
            }
            _ = try await w.staff.confirmAuthenticator(token: link, code: otp.code(at: w.clock.now))
            // The link works once.
            await #expect(throws: StaffError.linkInvalid) { _ = try await w.staff.enrollingAccount(token: link) }
            // A link expires after 24 hours.
            let (_, late) = try await w.staff.createAccount(
                organization: w.manifest.organizationId, email: "late@example.org", role: .auditor, sites: nil,
                actor: .system)
            w.clock.advance(24 * 3600 + 1)
            await #expect(throws: StaffError.linkInvalid) { _ = try await w.staff.enrollingAccount(token: late) }
            await #expect(throws: StaffError.linkInvalid) { _ = try await w.staff.enrollingAccount(token: "") }
        }
    }

    @Test(arguments: Backend.available)
    func credentialsAreScopedAndARevokedOneFailsOnItsNextRequest(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let admin = try await w.staffMember("site@example.org", .admin, sites: [w.site])
            let s = try await w.session(admin)
            let (record, token) = try await w.staff.issueCredential(
                s.principal, actor: .system, .init(kind: .device, label: "kiosk A spare", days: 30, unitId: w.unit))
            #expect(token.hasPrefix("cby_device_"))
            #expect(record.expiresAt == w.clock.now.millisecondsSince1970 + 30 * 86_400_000)
            // Stored as a keyed hash only.
            #expect(record.tokenHash == w.parts.keys.credentialHash(token))
            let other = try await w.otherSite()
            await #expect(throws: DomainError.notFound("unit not found")) {
                _ = try await w.staff.issueCredential(
                    s.principal, actor: .system, .init(kind: .device, label: "far", days: 30, unitId: other.unit))
            }
            await #expect(throws: StaffError.invalidInput("The credential must expire within 1–365 days.")) {
                _ = try await w.staff.issueCredential(
                    s.principal, actor: .system, .init(kind: .device, label: "x", days: 0, unitId: w.unit))
            }
            try await w.test { client in
                #expect(try await client.call(.get, "/api/v1/units/\(w.unit)", token: token).status == 200)
                _ = try await w.staff.revokeCredential(s.principal, actor: .system, id: record.id)
                let after = try await client.call(.get, "/api/v1/units/\(w.unit)", token: token)
                #expect(after.status == 401)
            }
            let types = try await w.auditTypes()
            #expect(types.contains("credential.issued") && types.contains("credential.revoked"))
        }
    }
}

@Suite("Scope within one organization")
struct ScopeTests {
    @Test(arguments: Backend.available)
    func couriersDevicesAndAdminsStayInsideTheirSites(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            // A second site of the same organization that the demo carrier does not serve.
            let other = try await w.otherSite()
            let admin = try await w.staffMember("site@example.org", .admin, sites: [other.site])
            let drop = #"{"trackingNumber":"SCOPE1","recipientId":"\#(w.manifest.recipients[0].id)","size":"S"}"#
            try await w.test { client in
                // Same answer as for a unit that does not exist.
                let courier = try await client.call(
                    .post, "/api/v1/units/\(other.unit)/dropoffs", token: w.manifest.courierToken, json: drop)
                let missing = try await client.call(
                    .post, "/api/v1/units/\(UUID().uuidString)/dropoffs", token: w.manifest.courierToken, json: drop)
                #expect(courier.status == 404 && missing.status == 404)
                #expect(courier.body.str("error") == missing.body.str("error"))
                // A device reads only its own unit.
                #expect(try await client.call(.get, "/api/v1/units/\(w.unit)", token: w.device).status == 200)
                #expect(
                    try await client.call(.get, "/api/v1/units/\(w.manifest.units[1].id)", token: w.device).status
                        == 404)
                // The demo admin key's organization-wide reach includes the new site; a site-scoped
                // portal admin sees only its own site on the dashboard.
                let page = try await client.call(.get, "/admin/dashboard", cookie: "cubby_session=\(admin.session)")
                let html = String(decoding: page.data, as: UTF8.self)
                #expect(page.status == 200 && html.contains("Harbour View") && !html.contains("Riverside Apartments"))
            }
        }
    }
}

@Suite("Residents sign in with a one-time code")
struct ResidentSignInTests {
    @Test(arguments: Backend.available)
    func aCodeThroughTheOutboxOpensTheResidentsOwnPages(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            // A parcel for resident 1 and one for resident 2.
            let courier = try principal(w, .courier)
            let mine = try await w.desk.dropoff(
                courier, unitId: w.unit, trackingNumber: "MINE-1", recipientId: w.manifest.recipients[0].id,
                size: .small)
            _ = try await w.desk.dropoff(
                courier, unitId: w.unit, trackingNumber: "THEIRS-1", recipientId: w.manifest.recipients[1].id,
                size: .small)
            try await w.settle()
            let token = try await w.residentSignIn()
            let session = try #require(try await w.parts.residents.session(token: token))
            #expect(session.principal.role == .resident)
            #expect(session.recipient.id == w.manifest.recipients[0].id)
            try await w.test { client in
                let page = try await client.call(.get, "/me", cookie: "cubby_resident=\(token)")
                let html = String(decoding: page.data, as: UTF8.self)
                #expect(page.status == 200)
                #expect(html.contains("MINE-1") && !html.contains("THEIRS-1"))
                #expect(html.contains(mine.compartment.label))
                // A resident session opens nothing of the staff portal, and no API route.
                #expect(
                    try await client.call(.get, "/admin/dashboard", cookie: "cubby_resident=\(token)").status == 403)
                #expect(
                    try await client.call(.get, "/api/v1/parcels/\(mine.parcel.id)", cookie: "cubby_resident=\(token)")
                        .status == 401)
            }
            #expect(try await w.auditTypes().contains("resident.signed_in"))
        }
    }

    @Test func codesWorkOnceExpireAndAllowFiveTries() async throws {
        try await TestWorld.with(.sqlite) { w in
            let email = "resident2@example.org"
            try await w.parts.residents.requestCode(email: email, address: "127.0.0.1")
            try await w.settle()
            let code = try #require(try w.notifications().last { $0["kind"] == SignInCodeNotification.kind }?["code"])
            #expect(code.count == 8)
            let wrong = code == "00000000" ? "11111111" : "00000000"
            for _ in 0..<ResidentDesk.triesPerCode {
                await #expect(throws: StaffError.signInFailed) {
                    _ = try await w.parts.residents.signIn(email: email, code: wrong, address: "127.0.0.1")
                }
            }
            // Five wrong tries used the code up: the right one no longer works.
            await #expect(throws: StaffError.signInFailed) {
                _ = try await w.parts.residents.signIn(email: email, code: code, address: "127.0.0.1")
            }
            // A new code works once, and not after 10 minutes.
            _ = try await w.residentSignIn(email)
            let before = try w.notifications().count
            try await w.parts.residents.requestCode(email: email, address: "127.0.0.1")
            try await w.settle()
            let late = try #require(try w.notifications().last?["code"])
            #expect(try w.notifications().count == before + 1)
            w.clock.advance(ResidentDesk.codeLifetime + 1)
            await #expect(throws: StaffError.signInFailed) {
                _ = try await w.parts.residents.signIn(email: email, code: late, address: "127.0.0.1")
            }
            // An unknown address sends nothing and answers the same.
            let count = try w.notifications().count
            try await w.parts.residents.requestCode(email: "stranger@example.org", address: "127.0.0.1")
            try await w.settle()
            #expect(try w.notifications().count == count)
        }
    }
}
