import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// A session whose last code is older than the step-up window asks for a fresh TOTP code before a sensitive action.
/// Wrong codes are counted on the account in the database: the fifth in a row ends every session of the account, and
/// each counts toward the account's sign-in lock.
@Suite("step-up codes cannot be guessed")
struct StepUpLimitTests {
    /// A code of a step long past: well-formed, never accepted.
    static func wrongCode(_ m: StaffMember, _ w: TestWorld) -> String {
        m.otp.hotp(counter: UInt64(m.otp.step(at: w.clock.now) - 40))
    }

    static func stepUpFailures(_ w: TestWorld) async throws -> [[String: String]] {
        try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 100_000) }
            .filter { $0.type == AuditEventType.staffStepUpFailed.rawValue }
            .map { e in (try JSONSerialization.jsonObject(with: Data(e.detail.utf8)) as? [String: String]) ?? [:] }
    }

    @Test(
        "the fifth wrong code in a row ends every session of the account, counted in the database across server processes",
        arguments: Backend.available)
    func fiveWrongCodesEndTheSessions(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = try await w.staffMember("guess@example.org", .superAdmin)
            let other = try await w.signIn(m)
            w.clock.advance(5 * 60 + 1)
            let s = try await w.session(m)
            #expect(!w.staff.isSteppedUp(s))
            // A second server process on the same database: its own StaffDesk, nothing shared but the database.
            let second = StaffDesk(
                store: w.parts.store, keys: w.parts.keys, clock: w.clock.serverClock,
                hasher: .forTesting(iterations: 1000), logger: TestWorld.logger)
            for attempt in 1...4 {
                let desk = attempt % 2 == 0 ? second : w.staff
                await #expect(throws: StaffError.codeInvalid) { try await desk.stepUp(s, code: Self.wrongCode(m, w)) }
                #expect(try await w.staff.session(token: m.session) != nil, "attempt \(attempt) ended the session")
            }
            await #expect(throws: StaffError.sessionEnded) { try await second.stepUp(s, code: Self.wrongCode(m, w)) }
            #expect(try await w.staff.session(token: m.session) == nil)
            #expect(try await w.staff.session(token: other) == nil)
            // The right code no longer helps the ended session.
            await #expect(throws: StaffError.sessionEnded) {
                try await w.staff.stepUp(s, code: m.otp.code(at: w.clock.now))
            }
            #expect(try await w.staff.session(token: m.session) == nil)

            let failures = try await Self.stepUpFailures(w)
            #expect(failures.map { $0["failures"] } == ["1", "2", "3", "4", "5"])
            #expect(failures[4]["sessionsEnded"] == "2")
            #expect(failures[0...3].allSatisfy { $0["sessionsEnded"] == nil })
            let account = try #require(try await w.parts.store.read { s in try await s.staffAccount(id: m.account.id) })
            #expect(account.failedSignins >= 5)

            // The holder of the password and the authenticator signs in again, and the counts start over.
            w.clock.advance(120)
            let fresh = try await w.signIn(m)
            #expect(try await w.staff.session(token: fresh) != nil)
            let after = try #require(try await w.parts.store.read { s in try await s.staffAccount(id: m.account.id) })
            #expect(after.failedSignins == 0 && after.stepUpFailures == 0)
        }
    }

    @Test("a correct code resets the count: four wrong, one right, four wrong leaves the session alive")
    func correctCodeResets() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("reset@example.org", .superAdmin)
            w.clock.advance(5 * 60 + 1)
            let s = try await w.session(m)
            for _ in 1...4 {
                await #expect(throws: StaffError.codeInvalid) {
                    try await w.staff.stepUp(s, code: Self.wrongCode(m, w))
                }
            }
            try await w.staff.stepUp(s, code: m.otp.code(at: w.clock.now))
            w.clock.advance(30)
            for _ in 1...4 {
                await #expect(throws: StaffError.codeInvalid) {
                    try await w.staff.stepUp(s, code: Self.wrongCode(m, w))
                }
            }
            #expect(try await w.staff.session(token: m.session) != nil)
        }
    }

    @Test("step-up failures count toward the sign-in lock")
    func countTowardTheLock() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("lock@example.org", .superAdmin)
            w.clock.advance(5 * 60 + 1)
            let s = try await w.session(m)
            try await w.parts.store.write { st in
                var a = try #require(try await st.staffAccount(id: m.account.id))
                a.failedSignins = StaffDesk.lockAfterFailures - 2
                try await st.saveStaffAccount(a)
            }
            await #expect(throws: StaffError.codeInvalid) { try await w.staff.stepUp(s, code: Self.wrongCode(m, w)) }
            await #expect(throws: StaffError.sessionEnded) { try await w.staff.stepUp(s, code: Self.wrongCode(m, w)) }
            let account = try #require(
                try await w.parts.store.read { st in try await st.staffAccount(id: m.account.id) })
            #expect(account.locked)
            #expect(try await w.staff.session(token: m.session) == nil)
            #expect(try await w.auditTypes().contains(AuditEventType.staffLocked.rawValue))
            w.clock.advance(120)
            await #expect(throws: StaffError.signInFailed) { _ = try await w.signIn(m) }
        }
    }

    @Test("through the portal: wrong codes on a step-up form, then the fifth signs the session out")
    func overThePortal() async throws {
        try await TestWorld.with(.sqlite) { w in
            let m = try await w.staffMember("portal@example.org", .superAdmin)
            w.clock.advance(5 * 60 + 1)
            let csrf = w.parts.keys.formToken("s:" + m.session)
            try await w.test { c in
                for attempt in 1...5 {
                    let r = try await c.call(
                        .post, "/admin/units/\(w.unit)/release-lockdown",
                        json: "csrf=\(csrf)&code=\(Self.wrongCode(m, w))",
                        contentType: "application/x-www-form-urlencoded", cookie: "cubby_session=\(m.session)")
                    #expect(r.status == (attempt < 5 ? 400 : 401), "attempt \(attempt): \(r.status)")
                }
                let after = try await c.call(.get, "/admin/dashboard", cookie: "cubby_session=\(m.session)")
                #expect(after.status == 303)
                #expect(after.headers[.location] == "/admin/sign-in")
            }
            #expect(try await Self.stepUpFailures(w).count == 5)
        }
    }
}
