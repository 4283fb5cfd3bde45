import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

extension TestClientProtocol {
    /// Posts a CSV file to the import route.
    func importCSV(_ csv: String, site: String, token: String, query: String = "", contentType: String = "text/csv")
        async throws -> HTTPResult
    {
        try await raw(
            .post, "/api/v1/recipients/import?siteId=\(site)\(query)",
            headers: [.authorization: "Bearer \(token)", .contentType: contentType], body: csv)
    }
}

extension HTTPResult {
    var results: [[String: Any]] { body["results"] as? [[String: Any]] ?? [] }
    func int(_ key: String) -> Int? { body[key] as? Int }
}

@Suite("Recipients: CSV import")
struct RecipientImportTests {
    static let examplePath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/examples/recipients.csv").path

    static let header = "External ID,Name,Email,Phone,Apartment,Language,Accessible\n"

    @Test(
        "the documented example file imports: headers by name, first + last name, unknown columns reported",
        arguments: Backend.available)
    func exampleFile(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let csv = try String(contentsOfFile: Self.examplePath, encoding: .utf8)
            try await w.test { c in
                let r = try await c.importCSV(csv, site: w.site, token: w.manifest.adminToken)
                #expect(r.status == 200, "\(String(decoding: r.data, as: UTF8.self))")
                #expect(r.int("created") == 5 && r.int("rejected") == 0)
                #expect(r.body["committed"] as? Bool == true)
                #expect(r.body["ignoredColumns"] as? [String] == ["Lease End"])
                #expect(r.body.obj("columns")?.str("E-mail Address") == "email")
                #expect(r.body.obj("columns")?.str("Tenant ID") == "externalId")
            }
            let p = try principal(w, .admin)
            let chloe = try #require(try await w.recipients.find(p, externalId: "T-1003"))
            #expect(chloe.name == "Chloé \"Coco\" Martin")
            #expect(chloe.phone == nil && chloe.preferredLanguage == .en && !chloe.needsAccessible)
            let dmitri = try #require(try await w.recipients.find(p, email: "dmitri.ivanov@example.org"))
            #expect(dmitri.name == "Dmitri Ivanov, Jr.")
            #expect(dmitri.phone == "+442079460958")
            #expect(dmitri.apartment == "Suite 200")
            let eunji = try #require(try await w.recipients.find(p, externalId: "T-1005"))
            #expect(eunji.email == nil && eunji.preferredLanguage == .es && eunji.needsAccessible)
            let types = try await w.auditTypes()
            #expect(types.filter { $0 == "recipient.created" }.count == 5)
            #expect(types.filter { $0 == "recipient.import_completed" }.count == 1)
        }
    }

    @Test(
        "a file with two bad rows is refused whole (422): every row reported, nothing written or audited",
        arguments: Backend.available)
    func badRowsWriteNothing(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let csv =
                Self.header
                + "A-1,Ann,ann@example.org,+15550100001,1A,en,no\n"
                + "A-2,Bob,not-an-email,+15550100002,1B,en,no\n"
                + "A-3,Cy,cy@example.org,+15550100003,1C,fr,no\n"
                + "A-4,Di,di@example.org,,1D,,\n"
            let before = try await (w.recipientRows().count, w.counts().audit)
            try await w.test { c in
                let r = try await c.importCSV(csv, site: w.site, token: w.manifest.adminToken)
                #expect(r.status == 422)
                #expect(r.body["committed"] as? Bool == false)
                #expect(r.int("rejected") == 2 && r.int("created") == 2)
                let rejected = r.results.filter { $0.str("outcome") == "rejected" }
                #expect(rejected.map { $0["row"] as? Int } == [3, 4])
                #expect(rejected.map { $0.str("column") } == ["Email", "Language"])
                #expect(rejected.allSatisfy { ($0.str("reason") ?? "").isEmpty == false })
                #expect(r.results.first?["recipientId"] is String)
            }
            #expect(try await (w.recipientRows().count, w.counts().audit) == before)
        }
    }

    @Test("a dry run reports what the real run then does, and writes and audits nothing", arguments: Backend.available)
    func dryRun(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let csv = try String(contentsOfFile: Self.examplePath, encoding: .utf8)
            let before = try await (w.recipientRows().count, w.counts().audit)
            try await w.test { c in
                let dry = try await c.importCSV(csv, site: w.site, token: w.manifest.adminToken, query: "&dryRun=true")
                #expect(dry.status == 200)
                #expect(dry.body["dryRun"] as? Bool == true && dry.body["committed"] as? Bool == false)
                #expect(try await (w.recipientRows().count, w.counts().audit) == before)
                let real = try await c.importCSV(csv, site: w.site, token: w.manifest.adminToken)
                for key in ["rows", "created", "updated", "unchanged", "rejected", "deactivated"] {
                    #expect(dry.int(key) == real.int(key), "\(key)")
                }
                #expect(dry.results.map { $0.str("outcome") } == real.results.map { $0.str("outcome") })
            }
            #expect(try await w.recipientRows().count == before.0 + 5)
        }
    }

    @Test(
        "an upsert run: matched by external id, else by email; created, updated and unchanged rows",
        arguments: Backend.available)
    func upsert(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let first =
                Self.header
                + "U-1,Una,una@example.org,+15550100011,2A,en,no\n"
                + "U-2,Vic,vic@example.org,+15550100012,2B,en,no\n"
                + "U-3,Wes,wes@example.org,+15550100013,2C,en,no\n"
            // U-1 moves flat, U-2 is the same, the demo's resident2 is matched by email and gets an external id,
            // U-4 is new.
            let second =
                Self.header
                + "U-1,Una,una@example.org,+15550100011,3A,es,no\n"
                + "U-2,Vic,vic@example.org,+1 555 010 0012,2B,en,no\n"
                + "R-2,Resident Two,resident2@example.org,,,en,no\n"
                + "U-4,Xan,xan@example.org,,2D,en,yes\n"
            try await w.test { c in
                let one = try await c.importCSV(first, site: w.site, token: w.manifest.adminToken)
                #expect(one.status == 200 && one.int("created") == 3)
                let ids = one.results.compactMap { $0.str("recipientId") }
                let two = try await c.importCSV(second, site: w.site, token: w.manifest.adminToken)
                #expect(two.status == 200, "\(String(decoding: two.data, as: UTF8.self))")
                #expect(two.results.map { $0.str("outcome") } == ["updated", "unchanged", "updated", "created"])
                #expect(two.results[0].str("recipientId") == ids[0])
                #expect(two.results[0]["fields"] as? [String] == ["apartment", "preferredLanguage"])
                #expect(two.results[1].str("recipientId") == ids[1])
                #expect(two.results[2].str("recipientId") == w.manifest.recipients[1].id)
                #expect(two.int("unchanged") == 1 && two.int("updated") == 2 && two.int("created") == 1)
            }
            let p = try principal(w, .admin)
            #expect(try await w.recipients.find(p, externalId: "R-2")?.id == w.manifest.recipients[1].id)
            #expect(try await w.recipients.find(p, externalId: "U-1")?.apartment == "3A")
            let types = try await w.auditTypes()
            #expect(types.filter { $0 == "recipient.created" }.count == 4)
            #expect(types.filter { $0 == "recipient.updated" }.count == 2)
            #expect(types.filter { $0 == "recipient.import_completed" }.count == 2)
        }
    }

    @Test(
        "deactivateMissing deactivates the site's recipients absent from the file; listing one again brings it back",
        arguments: Backend.available)
    func deactivateMissing(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            // The file lists the demo's residents 1 and 2 by email; resident 3 is missing.
            let csv = "email,name\nresident1@example.org,Resident 1\nresident2@example.org,Resident 2\n"
            try await w.test { c in
                let r = try await c.importCSV(csv, site: w.site, token: m.adminToken, query: "&deactivateMissing=true")
                #expect(r.status == 200)
                #expect(r.body["deactivatedRecipients"] as? [String] == [m.recipients[2].id])
                #expect(r.int("deactivated") == 1 && r.int("unchanged") == 2)
                let again = try await c.importCSV(
                    csv + "resident3@example.org,Resident 3\n", site: w.site, token: m.adminToken,
                    query: "&deactivateMissing=true")
                #expect(again.results.last?["fields"] as? [String] == ["active"])
                #expect(again.int("deactivated") == 0)
            }
            let p = try principal(w, .admin)
            #expect(try await w.recipients.get(p, id: m.recipients[2].id).active)
            let types = try await w.auditTypes()
            #expect(types.contains("recipient.deactivated") && types.contains("recipient.reactivated"))
        }
    }

    @Test("rows that clash are rejected: a repeated email or external id, a recipient of another site")
    func clashes() async throws {
        try await TestWorld.with(.sqlite) { w in
            let (siteB, _) = try await w.otherSite()
            var boss = try principal(w, .superAdmin)
            boss.siteIds.insert(try #require(SiteID(uuidString: siteB)))
            _ = try await w.recipients.create(
                boss, RecipientDraft(siteId: siteB, name: "Far", email: "far@example.org"))
            let csv =
                Self.header
                + "D-1,Dup,dup@example.org,,,,\n"
                + "D-2,Dup Again,DUP@example.org,,,,\n"
                + "D-1,Other,other@example.org,,,,\n"
                + "D-3,Far,far@example.org,,,,\n"
                + ",No Key,,,,,\n"
            try await w.test { c in
                let r = try await c.importCSV(csv, site: w.site, token: w.manifest.adminToken)
                #expect(r.status == 422)
                let reasons = r.results.map { $0.str("reason") ?? "" }
                #expect(reasons[0] == "")
                #expect(reasons[1].contains("row 2"))
                #expect(reasons[2].contains("row 2"))
                #expect(reasons[3].contains("another site"))
                #expect(reasons[4].contains("email or an external id"))
            }
        }
    }

    @Test("bad files are refused before any work with a clear 400/413/415")
    func badFiles() async throws {
        try await TestWorld.with(.sqlite) { w in
            let admin = w.manifest.adminToken
            let before = try await (w.recipientRows().count, w.counts().audit)
            let cases: [(String, String, String, Int, String)] = [
                ("unterminated quote", Self.header + "\"A-1,Ann\n", "", 400, "invalid_csv"),
                ("wrong field count", Self.header + "A-1,Ann\n", "", 400, "invalid_csv"),
                ("NUL byte", Self.header + "A-1,A\u{0}nn,a@example.org,,,,\n", "", 400, "invalid_csv"),
                ("no key column", "name,apartment\nAnn,1A\n", "", 400, "invalid_csv"),
                ("no name column", "email\na@example.org\n", "", 400, "invalid_csv"),
                ("two email columns", "name,email,e-mail\nA,a@example.org,b@example.org\n", "", 400, "invalid_csv"),
                ("empty file", "", "", 400, "invalid_csv"),
                ("bad dryRun", Self.header, "&dryRun=yes", 400, "invalid_request"),
                ("unknown parameter", Self.header, "&force=true", 400, "invalid_request"),
                ("unknown site", Self.header, "X", 400, "invalid_request"),
            ]
            try await w.test { c in
                for (name, csv, query, status, code) in cases {
                    let site = query == "X" ? EntityID.make() : w.site
                    let r = try await c.importCSV(csv, site: site, token: admin, query: query == "X" ? "" : query)
                    let expected = query == "X" ? 404 : status
                    #expect(r.status == expected, "\(name): \(r.status) \(String(decoding: r.data, as: UTF8.self))")
                    if query != "X" { #expect(r.body.str("error") == code, "\(name)") }
                }
                let json = try await c.importCSV(
                    Self.header, site: w.site, token: admin, contentType: "application/json")
                #expect(json.status == 415)
                let noSite = try await c.raw(
                    .post, "/api/v1/recipients/import",
                    headers: [.authorization: "Bearer \(admin)", .contentType: "text/csv"],
                    body: Self.header)
                #expect(noSite.status == 400)
                let badUTF8 = try await c.execute(
                    uri: "/api/v1/recipients/import?siteId=\(w.site)", method: .post,
                    headers: [.authorization: "Bearer \(admin)", .contentType: "text/csv"],
                    body: ByteBuffer(bytes: Array(Self.header.utf8) + [0xC3, 0x28, 0x0A])
                ) {
                    HTTPResult(status: Int($0.status.code), data: Data($0.body.readableBytesView), headers: $0.headers)
                }
                #expect(badUTF8.status == 400 && badUTF8.body.str("error") == "invalid_csv")
            }
            #expect(try await (w.recipientRows().count, w.counts().audit) == before)
        }
    }

    @Test("the import has its own body limit: past 16 KiB it is accepted, past 10 MiB or 50,000 rows it is 413")
    func sizeLimits() async throws {
        try await TestWorld.with(.sqlite) { w in
            let admin = w.manifest.adminToken
            #expect(w.settings.maxBodyBytes == 16 * 1024)
            // 400 rows of about 60 bytes: well past the general 16 KiB limit.
            var csv = Self.header
            for i in 0..<400 {
                csv += "L-\(i),Person \(i),person\(i)@example.org,+1555010\(String(format: "%04d", i)),\(i)A,en,no\n"
            }
            #expect(csv.utf8.count > 20 * 1024)
            let file = csv
            try await w.test { c in
                let ok = try await c.importCSV(file, site: w.site, token: admin, query: "&dryRun=true")
                #expect(ok.status == 200, "\(String(decoding: ok.data.prefix(300), as: UTF8.self))")
                #expect(ok.int("created") == 400)

                let rows = "name,email\n" + String(repeating: "a,\n", count: RecipientImport.maxRows + 1)
                let tooMany = try await c.importCSV(rows, site: w.site, token: admin, query: "&dryRun=true")
                #expect(tooMany.status == 413 && tooMany.body.str("error") == "import_too_large")

                let big = "name,email\n" + String(repeating: "x", count: RecipientImport.maxBytes) + ",\n"
                let tooBig = try await c.importCSV(big, site: w.site, token: admin, query: "&dryRun=true")
                #expect(tooBig.status == 413 && tooBig.body.str("error") == "import_too_large")

                // The JSON routes keep the general limit.
                let name = String(repeating: "n", count: 17 * 1024)
                let json = try await c.call(
                    .post, "/api/v1/recipients", token: admin, json: #"{"siteId":"\#(w.site)","name":"\#(name)"}"#)
                #expect(json.status == 413)
            }
            #expect(try await w.recipientRows().count == 3)
        }
    }
}
