import CubbyCore
import CubbyDemo
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import CubbyServer

/// The portal's Recipients pages: search, the form, deactivation, and the CSV upload that is checked before it is
/// written.
@Suite("The portal's recipients pages")
struct RecipientPortalTests {
    static let form = "application/x-www-form-urlencoded"
    static let boundary = "cubby-test-7MA4YWxkTrZu0gW"

    static func html(_ r: HTTPResult) -> String { String(decoding: r.data, as: UTF8.self) }

    /// A `multipart/form-data` body with text fields and one file.
    static func multipart(_ fields: [(String, String)], file: (name: String, filename: String, content: String)?)
        -> String
    {
        var body = ""
        for (name, value) in fields {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        if let file {
            body +=
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.filename)\"\r\n"
            body += "Content-Type: text/csv\r\n\r\n\(file.content)\r\n"
        }
        return body + "--\(boundary)--\r\n"
    }

    static func count(_ w: TestWorld) async throws -> Int {
        try await w.parts.store.read { s in try await s.recipients(organization: w.manifest.organizationId).count }
    }

    @Test(
        "search by exact keys, create, edit and deactivate from the form; refusals show the form again",
        arguments: Backend.available)
    func directory(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let cookie = "cubby_session=\(boss.session)"
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            try await w.test { c in
                let found = Self.html(
                    try await c.call(.get, "/admin/recipients?email=RESIDENT1%40example.org", cookie: cookie))
                #expect(found.contains("resident1@example.org") && !found.contains("resident2@example.org"))
                let all = Self.html(try await c.call(.get, "/admin/recipients", cookie: cookie))
                #expect(all.contains("resident2@example.org"))
                let tooLong = try await c.call(
                    .get, "/admin/recipients?apartment=\(String(repeating: "9", count: 40))", cookie: cookie)
                #expect(tooLong.status == 400 && Self.html(tooLong).contains("role=\"alert\""))

                let before = try await Self.count(w)
                let bad = try await c.call(
                    .post, "/admin/recipients",
                    json: "csrf=\(csrf)&name=Ada+Lovelace&email=ada%40example.org&phone=555&site=\(w.site)",
                    contentType: Self.form, cookie: cookie)
                #expect(bad.status == 400 && Self.html(bad).contains("E.164"))
                #expect(Self.html(bad).contains("value=\"ada@example.org\""), "the form keeps what was sent")
                #expect(try await Self.count(w) == before)

                let made = try await c.call(
                    .post, "/admin/recipients",
                    json:
                        "csrf=\(csrf)&name=Ada+Lovelace&email=ada%40example.org&phone=%2B15550100123&apartment=4B&language=es&accessible=on&site=\(w.site)",
                    contentType: Self.form, cookie: cookie)
                #expect(made.status == 303)
                let location = try #require(made.headers[.location])
                #expect(location.hasSuffix("?done=created"))
                let id = String(location.dropFirst("/admin/recipients/".count).prefix(36))
                let created = try await w.parts.recipients.get(try principal(w, .superAdmin), id: id)
                #expect(created.phone == "+15550100123" && created.preferredLanguage == .es && created.needsAccessible)

                let taken = try await c.call(
                    .post, "/admin/recipients/\(id)",
                    json: "csrf=\(csrf)&name=Ada+Lovelace&email=resident1%40example.org&site=\(w.site)",
                    contentType: Self.form, cookie: cookie)
                #expect(taken.status == 409)
                let saved = try await c.call(
                    .post, "/admin/recipients/\(id)",
                    json: "csrf=\(csrf)&name=Ada+King&email=ada%40example.org&apartment=5C&language=en&site=\(w.site)",
                    contentType: Self.form, cookie: cookie)
                #expect(saved.status == 303)
                let changed = try await w.parts.recipients.get(try principal(w, .superAdmin), id: id)
                #expect(changed.name == "Ada King" && changed.apartment == "5C" && changed.phone == nil)
                #expect(!changed.needsAccessible && changed.preferredLanguage == .en)

                #expect(
                    try await c.call(
                        .post, "/admin/recipients/\(id)/deactivate", json: "csrf=\(csrf)", contentType: Self.form,
                        cookie: cookie
                    ).status == 303)
                #expect(try await w.parts.recipients.get(try principal(w, .superAdmin), id: id).active == false)
                let page = Self.html(try await c.call(.get, "/admin/recipients/\(id)?done=deactivated", cookie: cookie))
                #expect(page.contains("Reactivate this recipient") && page.contains("deactivated"))
            }
        }
    }

    @Test(
        "a CSV upload is checked first: rejected rows write nothing; a clean file is written only once confirmed",
        arguments: Backend.available)
    func csvImport(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let cookie = "cubby_session=\(boss.session)"
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            let type = "multipart/form-data; boundary=\(Self.boundary)"
            let before = try await Self.count(w)
            try await w.test { c in
                let withBad = "name,email,apartment\nBea One,bea1@example.org,1A\nBea Two,not-an-address,1B\n"
                let refused = try await c.call(
                    .post, "/admin/recipients/import",
                    json: Self.multipart([("csrf", csrf), ("site", w.site)], file: ("file", "people.csv", withBad)),
                    contentType: type, cookie: cookie)
                #expect(refused.status == 422)
                #expect(
                    Self.html(refused).contains("<th scope=\"row\">3</th>")
                        && !Self.html(refused).contains("Confirm the import"))
                #expect(try await Self.count(w) == before)

                // Quotes and a comma in a cell travel through the confirmation's hidden field unharmed.
                let clean =
                    "name,email,apartment\nBea One,bea1@example.org,1A\n\"Bea \"\"Two\"\", Three\",bea2@example.org,1B\n"
                let dry = try await c.call(
                    .post, "/admin/recipients/import",
                    json: Self.multipart([("csrf", csrf), ("site", w.site)], file: ("file", "people.csv", clean)),
                    contentType: type, cookie: cookie)
                #expect(dry.status == 200 && Self.html(dry).contains("Confirm the import"))
                #expect(Self.html(dry).contains("nothing is written yet"))
                #expect(try await Self.count(w) == before, "a dry run writes nothing")

                // The confirmation sends the same file back as a field of the form.
                let done = try await c.call(
                    .post, "/admin/recipients/import",
                    json: Self.multipart(
                        [("csrf", csrf), ("site", w.site), ("confirm", "yes"), ("csv", clean)], file: nil),
                    contentType: type, cookie: cookie)
                #expect(done.status == 200 && Self.html(done).contains("What was written"))
                #expect(try await Self.count(w) == before + 2)
                let quoted = try await w.parts.recipients.find(try principal(w, .superAdmin), email: "bea2@example.org")
                #expect(quoted?.name == "Bea \"Two\", Three")

                // Forms that are not what the route takes change nothing.
                let forged = try await c.call(
                    .post, "/admin/recipients/import",
                    json: Self.multipart([("csrf", "forged"), ("site", w.site)], file: ("file", "x.csv", clean)),
                    contentType: type, cookie: cookie)
                #expect(forged.status == 403)
                let unclosed = try await c.call(
                    .post, "/admin/recipients/import",
                    json: "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(csrf)",
                    contentType: type, cookie: cookie)
                #expect(unclosed.status == 400)
                let elsewhere = try await c.call(
                    .post, "/admin/recipients", json: Self.multipart([("csrf", csrf), ("name", "X")], file: nil),
                    contentType: type, cookie: cookie)
                #expect(elsewhere.status == 400, "only the import takes multipart forms")
                #expect(try await Self.count(w) == before + 2)
            }
        }
    }

    @Test("multipart bodies: fields, files, quoted names; malformed ones are refused")
    func multipartParsing() throws {
        #expect(MultipartForm.boundary("multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(MultipartForm.boundary("multipart/form-data; boundary=abc") == "abc")
        #expect(MultipartForm.boundary("multipart/mixed; boundary=abc") == nil)
        #expect(MultipartForm.boundary("multipart/form-data") == nil)
        let body = Self.multipart([("a", "1"), ("a", "2"), ("b", "é")], file: ("f", "x.csv", "x,y\r\n1,2"))
        let form = try MultipartForm.parse(Array(body.utf8), boundary: Self.boundary)
        #expect(form.all("a") == ["1", "2"] && form.first("b") == "é")
        #expect(
            form.file("f")?.filename == "x.csv"
                && form.file("f").map { String(decoding: $0.bytes, as: UTF8.self) } == "x,y\r\n1,2")
        for bad in [
            "no delimiter at all",
            "--\(Self.boundary)\r\nContent-Disposition: form-data\r\n\r\nx\r\n--\(Self.boundary)--",
            "--\(Self.boundary)\r\nContent-Type: text/plain\r\n\r\nx\r\n--\(Self.boundary)--",
            "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever closed",
        ] {
            #expect(throws: (any Error).self) { try MultipartForm.parse(Array(bad.utf8), boundary: Self.boundary) }
        }
    }
}
