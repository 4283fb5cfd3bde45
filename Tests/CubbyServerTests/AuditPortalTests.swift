import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import ZIPFoundation

/// The portal's Audit log page: filters, scope, exports and forensic bundles, each download audited.
@Suite("The portal's audit log page")
struct AuditPortalTests {
    static let form = "application/x-www-form-urlencoded"

    /// A tamper signal with a still from the world's first unit, as its edge controller reports it.
    static func tamperWithStill(_ w: TestWorld) async throws -> String {
        let still = Data("a still from the unit's camera".utf8)
        var event = EdgeEvent(
            seq: 1, occurredAt: w.clock.now.millisecondsSince1970, kind: .tamper, detail: ["kind": "pry"],
            photoSHA256: Hex.sha256(still), previousHash: EdgeEvent.genesisHash)
        event.hash = EdgeJournalHash.hash(previous: event.previousHash, event: event)
        _ = try await w.parts.edges.apply(unitId: w.unit, event: event, photo: still)
        return Hex.sha256(still)
    }

    static func html(_ r: HTTPResult) -> String { String(decoding: r.data, as: UTF8.self) }

    @Test(
        "events filtered by type, unit and actor; bad filters get the page again with a 400; another site's admin sees none of them",
        arguments: Backend.available)
    func filters(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            _ = try await LockdownTests.dropOff(w, "AUDIT-PAGE-1")
            try await w.settle()
            let annex = try await w.parts.provisioning.createSite(
                try principal(w, .superAdmin),
                ProvisioningDesk.SiteInput(name: "Annex", address: "2 Side St", timeZone: "UTC"))
            let stranger = try await w.staffMember("annex@example.org", .admin, sites: [annex.id])
            try await w.test { c in
                let cookie = "cubby_session=\(boss.session)"
                let deposits = try await c.call(.get, "/admin/audit?type=parcel.deposited", cookie: cookie)
                #expect(deposits.status == 200)
                let page = Self.html(deposits)
                #expect(page.contains("AUDIT-PAGE-1") && page.contains("<td>parcel.deposited</td>"))
                #expect(!page.contains("<td>parcel.reserved</td>") && !page.contains("<td>organization.created</td>"))

                let byUnit = Self.html(
                    try await c.call(.get, "/admin/audit?unit=\(w.manifest.units[1].id)", cookie: cookie))
                #expect(!byUnit.contains("AUDIT-PAGE-1"), "the parcel went to the first unit")
                let byActor = Self.html(
                    try await c.call(.get, "/admin/audit?actor=boss%40example.org&type=staff.signed_in", cookie: cookie)
                )
                #expect(byActor.contains("<td>staff.signed_in</td>") && byActor.contains("boss@example.org"))

                let before = try await w.counts()
                for query in [
                    "from=yesterday", "type=parcel.vanished", "from=2026-12-05&to=2026-12-04", "unit=lobby",
                    "unit=\(UUID().uuidString)", "actor=nobody", "cursor=-4",
                ] {
                    let bad = try await c.call(.get, "/admin/audit?\(query)", cookie: cookie)
                    #expect(bad.status == 400, "\(query) → \(bad.status)")
                    #expect(Self.html(bad).contains("role=\"alert\""), "\(query): no message")
                }
                #expect(try await w.counts() == before)

                let theirs = Self.html(
                    try await c.call(
                        .get, "/admin/audit?type=parcel.deposited", cookie: "cubby_session=\(stranger.session)"))
                #expect(!theirs.contains("AUDIT-PAGE-1") && theirs.contains("No events match."))
                // Residents, couriers' keys and the signed-out get no page.
                #expect(try await c.call(.get, "/admin/audit").status == 303)
            }
        }
    }

    @Test(
        "an export is an attachment of the filtered events and an audit event; a forensic bundle verifies offline with its still",
        arguments: Backend.available)
    func downloads(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            _ = try await LockdownTests.dropOff(w, "AUDIT-EXPORT-1")
            try await w.settle()
            let still = try await Self.tamperWithStill(w)
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            let cookie = "cubby_session=\(boss.session)"
            try await w.test { c in
                let csv = try await c.call(
                    .post, "/admin/audit/export", json: "csrf=\(csrf)&format=csv&type=parcel.deposited",
                    contentType: Self.form, cookie: cookie)
                #expect(csv.status == 200)
                #expect(csv.headers[.contentDisposition] == "attachment; filename=\"cubby-audit.csv\"")
                let lines = Self.html(csv).split(whereSeparator: \.isNewline)  // CSV lines end in CRLF
                #expect(lines.first?.hasPrefix("index,id,occurredAt,type") == true)
                let rows = lines.dropFirst()
                #expect(!rows.isEmpty && rows.allSatisfy { $0.contains(",parcel.deposited,") })
                #expect(rows.filter { $0.contains("AUDIT-EXPORT-1") }.count == 1)
                let deposits = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 100_000) }
                    .filter { $0.type == "parcel.deposited" }.count
                #expect(rows.count == deposits)

                let cef = try await c.call(
                    .post, "/admin/audit/export", json: "csrf=\(csrf)&format=cef&unit=\(w.unit)",
                    contentType: Self.form,
                    cookie: cookie)
                #expect(cef.status == 200 && Self.html(cef).hasPrefix("CEF:0|"))

                let before = try await w.counts()
                for body in ["format=xml", "format=csv&from=tomorrow", "format=csv&type=nope"] {
                    let bad = try await c.call(
                        .post, "/admin/audit/export", json: "csrf=\(csrf)&\(body)", contentType: Self.form,
                        cookie: cookie)
                    #expect(bad.status == 400, "\(body) → \(bad.status)")
                }
                let forged = try await c.call(
                    .post, "/admin/audit/export", json: "csrf=forged&format=csv", contentType: Self.form, cookie: cookie
                )
                #expect(forged.status == 403)
                #expect(try await w.counts() == before)

                let zip = try await c.call(
                    .post, "/admin/audit/bundle", json: "csrf=\(csrf)&unit=\(w.unit)", contentType: Self.form,
                    cookie: cookie)
                #expect(zip.status == 200 && zip.headers[.contentType] == "application/zip")
                let archive = try Archive(data: zip.data, accessMode: .read)
                var files: [String: Data] = [:]
                for entry in archive {
                    var data = Data()
                    _ = try archive.extract(entry) { data.append($0) }
                    files[entry.path] = data
                }
                let key = try await w.parts.auditLog.identity(
                    .organization(
                        try #require(
                            OrganizationID(uuidString: w.manifest.organizationId)))
                ).verifierKey
                let verified = try EvidenceBundle(files: files).verify(pinnedKey: key)
                #expect(verified.evidenceFiles == 1 && files["evidence/" + still] != nil)
                let events = String(decoding: try #require(files["events.jsonl"]), as: UTF8.self)
                #expect(events.contains("unit.tamper") && events.contains("AUDIT-EXPORT-1"))
                #expect(!events.contains("organization.created"), "only the unit's events")
                var tampered = files
                tampered["events.jsonl"] = Data(
                    events.replacingOccurrences(of: "AUDIT-EXPORT-1", with: "AUDIT-EXPORT-2").utf8)
                #expect(throws: (any Error).self) { try EvidenceBundle(files: tampered).verify(pinnedKey: key) }
            }
            let exports = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 100_000) }
                .filter { $0.type == "audit.exported" }
            #expect(exports.map { $0.detailMap["format"] } == ["csv", "cef", "bundle"])
            #expect(exports[0].detailMap["eventType"] == "parcel.deposited" && exports[0].detailMap["events"] != "0")
            #expect(exports.allSatisfy { $0.actorId == boss.account.id })
        }
    }
}
