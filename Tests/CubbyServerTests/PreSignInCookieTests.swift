import CubbyCore
import CubbyCrypto
import CubbyServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The pre-sign-in cookie binds the sign-in form's anti-forgery token; only a value the server made is kept, so no
/// one can plant a value whose form token they know (login CSRF).
@Suite("the pre-sign-in cookie is the server's own")
struct PreSignInCookieTests {
    static func setCookie(_ r: HTTPResult, _ name: String) -> String? {
        r.headers[values: .setCookie].lazy.compactMap { line -> String? in
            guard line.hasPrefix(name + "=") else { return nil }
            return String(line.dropFirst(name.count + 1).prefix { $0 != ";" })
        }.first
    }

    static func formToken(in page: HTTPResult) -> String? {
        let html = String(decoding: page.data, as: UTF8.self)
        guard let r = html.range(of: #"name="csrf" value=""#) else { return nil }
        return String(html[r.upperBound...].prefix { $0 != "\"" })
    }

    @Test("a planted value is replaced at once and a form bound to it is refused; a value the server made is kept")
    func plantedValue() async throws {
        try await TestWorld.with(.sqlite) { w in
            let member = try await w.staffMember("planted@example.org", .superAdmin)
            let planted = "attacker-chosen-value-0123456789"
            let signIn = { @Sendable (token: String) -> String in
                w.clock.advance(30)
                let code = member.otp.code(at: w.clock.now)
                return
                    "csrf=\(token)&email=planted%40example.org&password=\(member.password.replacingOccurrences(of: " ", with: "+"))&code=\(code)"
            }
            try await w.test { c in
                let page = try await c.call(.get, "/admin/sign-in", cookie: "cubby_pre=\(planted)")
                #expect(page.status == 200)
                let fresh = try #require(Self.setCookie(page, "cubby_pre"))
                #expect(fresh != planted)
                #expect(w.parts.keys.isPreSignInToken(fresh))
                #expect(!w.parts.keys.isPreSignInToken(planted))
                #expect(Self.formToken(in: page) == w.parts.keys.formToken("p:" + fresh))

                // A sign-in posted with the planted cookie and the token that value would give is refused.
                let forged = try await c.call(
                    .post, "/admin/sign-in", json: signIn(w.parts.keys.formToken("p:" + planted)),
                    contentType: "application/x-www-form-urlencoded", cookie: "cubby_pre=\(planted)")
                #expect(forged.status == 403)
                #expect(Self.setCookie(forged, "cubby_session") == nil)

                // The value the server made is kept on the next page and its form signs in.
                let again = try await c.call(.get, "/admin/sign-in", cookie: "cubby_pre=\(fresh)")
                #expect(Self.setCookie(again, "cubby_pre") == nil)
                let ok = try await c.call(
                    .post, "/admin/sign-in", json: signIn(w.parts.keys.formToken("p:" + fresh)),
                    contentType: "application/x-www-form-urlencoded", cookie: "cubby_pre=\(fresh)")
                #expect(ok.status == 303)
                #expect(Self.setCookie(ok, "cubby_session") != nil)
            }
        }
    }

    @Test("a value the server made does not pass with its tag altered or moved to another nonce")
    func tagChecked() async throws {
        try await TestWorld.with(.sqlite) { w in
            let a = w.parts.keys.preSignInToken()
            let b = w.parts.keys.preSignInToken()
            #expect(a != b)
            let (na, ta) = (a.split(separator: ".")[0], a.split(separator: ".")[1])
            let (nb, _) = (b.split(separator: ".")[0], b.split(separator: ".")[1])
            #expect(w.parts.keys.isPreSignInToken(a))
            #expect(!w.parts.keys.isPreSignInToken("\(nb).\(ta)"))
            let other: Character = ta.last == "A" ? "B" : "A"
            #expect(!w.parts.keys.isPreSignInToken("\(na).\(ta.dropLast())\(other)"))
            #expect(!w.parts.keys.isPreSignInToken("\(na)"))
            #expect(!w.parts.keys.isPreSignInToken(""))
        }
    }
}
