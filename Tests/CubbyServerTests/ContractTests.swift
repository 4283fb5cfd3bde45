import CubbyCore
import CubbyDemo
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import CubbyServer

/// The API document read line by line: each operation's response codes, the `Error` codes, and named
/// schema lines. Enough to hold the server to what the document promises without a YAML library.
struct OpenAPIOutline {
    /// "POST /api/v1/parcels" → its response codes.
    var responses: [String: Set<String>] = [:]
    /// Operations that need no credential (`security: []`).
    var open: Set<String> = []
    /// The codes of the `Error` schema's `error` enum.
    var errorCodes: Set<String> = []
    let text: String

    init(_ text: String) {
        self.text = text
        var path: String?
        var operation: String?
        var inError = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
                operation = nil
            } else if line == "components:" {
                path = nil
                operation = nil
            } else if let p = path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                operation =
                    ["get", "post", "put", "delete", "patch"].contains(key) ? "\(key.uppercased()) \(p)" : nil
            } else if let op = operation {
                if line == "      security: []" { open.insert(op) }
                if line.hasPrefix("        '"), line.hasSuffix("':"), line.count == 14 {
                    responses[op, default: []].insert(String(line.dropFirst(9).prefix(3)))
                }
            }
            // Components' schemas sit at four spaces: `Error:` opens the one whose enum lists the codes.
            if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") { inError = line == "    Error:" }
            if inError, line.hasPrefix("            - ") { errorCodes.insert(String(line.dropFirst(14))) }
        }
    }

    static func load() throws -> OpenAPIOutline {
        OpenAPIOutline(String(decoding: try OpenAPIDocument.bytes(), as: UTF8.self))
    }

    /// The document's template for a route path: `:unitId` → `{unitId}`.
    static func template(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map {
            $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0)
        }.joined(separator: "/")
    }
}

extension TestClientProtocol {
    /// A request with exactly these headers.
    func raw(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields, body: String? = nil) async throws
        -> HTTPResult
    {
        try await execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) {
            HTTPResult(status: Int($0.status.code), data: Data($0.body.readableBytesView), headers: $0.headers)
        }
    }
}

@Suite("The API answers as its OpenAPI document says")
struct ContractTests {
    @Test("a credential of the wrong kind gets 403 forbidden, and every operation with a credential documents it")
    func wrongKindIsForbiddenAndDocumented() async throws {
        let outline = try OpenAPIOutline.load()
        for (operation, codes) in outline.responses where !outline.open.contains(operation) {
            #expect(codes.contains("401"), "\(operation) documents 401")
            #expect(codes.contains("403"), "\(operation) documents 403")
        }
        try await TestWorld.with(.sqlite) { w in
            let (router, entries) = try buildRoutes(parts: w.parts, settings: w.settings, logger: TestWorld.logger)
            // The demo's admin key has no sites: it holds the organization's reach, as a super-administrator.
            let org = try #require(OrganizationID(uuidString: w.manifest.organizationId))
            let (_, siteAdminKey) = try await w.parts.staff.issueCredential(
                Principal(role: .superAdmin, credentialId: .make(), organizationId: org), actor: .console,
                .init(kind: .admin, label: "site script", days: 30, sites: [w.manifest.siteId]))
            let bearer: [Principal.Role: String] = [
                .courier: w.manifest.courierToken, .carrier: w.manifest.carrierToken, .device: w.device,
                .admin: siteAdminKey, .superAdmin: w.manifest.adminToken, .auditor: w.manifest.auditorToken,
            ]
            let app = Application(router: router, logger: TestWorld.logger)
            try await app.test(.router) { client in
                var refused = 0
                for e in entries where e.surface == .api {
                    guard let action = e.action else { continue }
                    let operation = "\(e.method) \(OpenAPIOutline.template(e.path))"
                    #expect(outline.responses[operation] != nil, "\(operation) is in the document")
                    for (role, token) in bearer where !AccessPolicy.allows(role, action) {
                        let path = RoutePolicyTests.concretePath(e.path, unit: w.unit)
                        let r = try await client.call(
                            e.method, path, token: token, json: e.method == .post ? "{}" : nil)
                        // SCIM answers in its own error schema (RFC 7644 §3.12), `status` as a string.
                        let forbidden =
                            e.path.hasPrefix(SCIMRoutes.prefix)
                            ? r.body.str("status") == "403" : r.body.str("error") == "forbidden"
                        #expect(r.status == 403 && forbidden, "\(operation) as \(role)")
                        #expect(outline.responses[operation]?.contains("403") == true, "\(operation) documents 403")
                        refused += 1
                    }
                }
                #expect(refused > 30)
            }
        }
    }

    @Test("empty optional fields are sent as null, never left out")
    func emptyFieldsAreNull() async throws {
        try await TestWorld.with(.sqlite) { w in
            try await w.parts.auditLog.sequence()
            try await w.test { c in
                let unit = try await c.call(.get, "/api/v1/units/\(w.unit)", token: w.manifest.adminToken)
                #expect(unit.status == 200)
                let compartments = unit.body["compartments"] as? [[String: Any]] ?? []
                #expect(compartments.count == 24)
                for compartment in compartments {
                    #expect(compartment["parcelId"] is NSNull, "an empty compartment's parcelId is null")
                }
                #expect(unit.body.obj("pinEntry")?["lockedUntil"] is NSNull)

                let page = try await c.call(.get, "/api/v1/audit/events?limit=1000", token: w.manifest.adminToken)
                #expect(page.status == 200)
                #expect(page.body["next"] is NSNull)
                let events = page.body["events"] as? [[String: Any]] ?? []
                let seeded = try #require(events.first { $0.str("type") == "organization.created" })
                #expect(seeded["unitId"] is NSNull)
                #expect(seeded["compartmentId"] is NSNull)
                #expect(seeded["parcelId"] is NSNull)
                #expect(seeded["trackingNumber"] is NSNull)
                #expect(seeded.obj("actor")?["id"] is NSNull)

                let resumed = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pin-entry/resume", token: w.manifest.adminToken)
                #expect(resumed.status == 200)
                #expect(resumed.body["lockedUntil"] is NSNull)
            }
        }
    }

    @Test("every error code the API answers with is in the document's Error enum")
    func errorCodesAreDocumented() async throws {
        let outline = try OpenAPIOutline.load()
        try await TestWorld.with(.sqlite) { w in
            try await w.test { c in
                let link = try await c.call(.get, EdgeLink.path, token: w.device)
                #expect(link.status == 426 && link.body.str("error") == "upgrade_required")
                #expect(outline.responses["GET \(EdgeLink.path)"]?.contains("426") == true)

                let method = try await c.call(.delete, "/api/v1/parcels", token: w.manifest.adminToken)
                #expect(method.status == 405 && method.body.str("error") == "method_not_allowed")

                var last = HTTPResult(status: 0, data: Data(), headers: [:])
                for _ in 0..<12 {
                    last = try await c.call(.post, EdgeLink.enrollPath, json: #"{"code":"AAAA-BBBB-CCCC-DDDD"}"#)
                }
                for r in [link, method, last] {
                    let code = try #require(r.body.str("error"))
                    #expect(outline.errorCodes.contains(code), "\(code) (\(r.status)) is in the Error enum")
                }
                #expect(outline.errorCodes.count >= 16)
            }
        }
    }

    @Test("failed enrollments from one address end in 429 too_many_attempts, which speaks of enrollment")
    func enrollmentLimitSpeaksOfEnrollment() async throws {
        let outline = try OpenAPIOutline.load()
        #expect(outline.responses["POST \(EdgeLink.enrollPath)"]?.contains("429") == true)
        try await TestWorld.with(.sqlite) { w in
            try await w.test { c in
                var statuses: [Int] = []
                var last = HTTPResult(status: 0, data: Data(), headers: [:])
                for _ in 0..<12 {
                    last = try await c.call(.post, EdgeLink.enrollPath, json: #"{"code":"AAAA-BBBB-CCCC-DDDD"}"#)
                    statuses.append(last.status)
                }
                #expect(statuses.prefix(10).allSatisfy { $0 == 403 })
                #expect(last.status == 429)
                #expect(last.body.str("error") == "too_many_attempts")
                let message = last.body.str("message") ?? ""
                #expect(message.contains("enrollment") && !message.contains("PIN"), "\(message)")
                #expect(Int(last.headers[.retryAfter] ?? "") ?? 0 > 0)
            }
        }
    }

    @Test("a known path asked with another method answers 405 with Allow; an unknown path 404")
    func undeclaredMethods() async throws {
        try await TestWorld.with(.sqlite) { w in
            try await w.test { c in
                let cases: [(String, [HTTPRequest.Method], String)] = [
                    ("/api/v1/parcels", [.get, .put, .delete, .patch, .options, .trace], "POST"),
                    ("/api/v1/units/\(w.unit)", [.post, .put, .delete, .options, .trace], "GET, HEAD, PATCH"),
                    ("/api/v1/units/\(w.unit)/pickups", [.get, .put, .delete, .head], "POST"),
                    ("/healthz", [.post, .put, .delete], "GET, HEAD"),
                    ("/api/v1/openapi.yaml", [.post, .trace], "GET, HEAD"),
                    ("/admin/sign-in", [.put, .delete], "GET, HEAD, POST"),
                    // A literal path beside a parameter route answers with its own methods, not the parameter's.
                    ("/api/v1/recipients/import", [.get, .patch, .put, .delete], "POST"),
                ]
                for (path, methods, allow) in cases {
                    for m in methods {
                        for token in [nil, w.manifest.adminToken, "garbage"] {
                            let r = try await c.call(m, path, token: token)
                            #expect(r.status == 405, "\(m) \(path): \(r.status)")
                            #expect(r.headers[.allow] == allow, "\(m) \(path): Allow \(r.headers[.allow] ?? "none")")
                            if m != .head { #expect(r.body.str("error") == "method_not_allowed") }
                        }
                    }
                }
                for m in [HTTPRequest.Method.get, .options, .put, .patch, .delete] {
                    let r = try await c.call(m, "/scim/v2/Users/.search", token: "garbage")
                    #expect(r.status == 405 && r.headers[.allow] == "POST", "\(m) /scim/v2/Users/.search: \(r.status)")
                }
                // The declared methods still answer; unknown paths stay 404.
                #expect(try await c.call(.get, "/healthz").status == 200)
                // HEAD answers as GET does, through the same policy, without a body.
                let get = try await c.call(.get, "/api/v1/units/\(w.unit)", token: w.manifest.adminToken)
                let head = try await c.call(.head, "/api/v1/units/\(w.unit)", token: w.manifest.adminToken)
                #expect(head.status == 200 && head.data.isEmpty && !get.data.isEmpty)
                #expect(head.headers[.contentType] == get.headers[.contentType])
                #expect(try await c.call(.head, "/api/v1/units/\(w.unit)", token: nil).status == 401)
                #expect(
                    try await c.call(.head, "/api/v1/units/\(w.unit)", token: w.manifest.courierToken).status == 403)
                #expect(try await c.call(.head, "/healthz").status == 200)
                #expect(try await c.call(.get, "/api/v1/units/\(w.unit)", token: w.manifest.adminToken).status == 200)
                for path in ["/api/v1/nothing", "/api/v1/units/\(w.unit)/nothing", "/api/v1/parcels/a/b/c"] {
                    let r = try await c.call(.put, path, token: w.manifest.adminToken)
                    #expect(r.status == 404 && r.headers[.allow] == nil, "PUT \(path): \(r.status)")
                }
            }
        }
    }

    @Test("the served document names the configured public address in servers")
    func servedDocumentNamesThePublicURL() async throws {
        try await TestWorld.with(.sqlite) { w in
            var settings = w.settings
            settings.publicURL = "https://lockers.example.org:8443"
            let app = Application(
                router: try buildRouter(parts: w.parts, settings: settings, logger: TestWorld.logger),
                logger: TestWorld.logger)
            try await app.test(.router) { c in
                let r = try await c.call(.get, "/api/v1/openapi.yaml")
                #expect(r.status == 200)
                #expect(r.headers[.contentType]?.hasPrefix("application/yaml") == true)
                let text = String(decoding: r.data, as: UTF8.self)
                #expect(text.contains("servers:\n  - url: \"https://lockers.example.org:8443\"\n"))
                #expect(!text.contains("127.0.0.1:8080"))
                // The document's content type for this answer is the one sent.
                let outline = OpenAPIOutline(text)
                #expect(outline.text.contains("            application/yaml:\n"))
            }
            // Without a public address, the listening address.
            settings.publicURL = nil
            settings.host = "127.0.0.2"
            settings.port = 9999
            let plain = Application(
                router: try buildRouter(parts: w.parts, settings: settings, logger: TestWorld.logger),
                logger: TestWorld.logger)
            try await plain.test(.router) { c in
                let text = String(decoding: try await c.call(.get, "/api/v1/openapi.yaml").data, as: UTF8.self)
                #expect(text.contains("servers:\n  - url: \"http://127.0.0.2:9999\"\n"))
            }
        }
    }

    @Test("open routes ignore a malformed Authorization header; routes that need a credential refuse it")
    func openRoutesIgnoreAuthorization() async throws {
        try await TestWorld.with(.sqlite) { w in
            try await w.test { c in
                for header in [
                    "Bearer", "Basic dXNlcjpwYXNz", "Bearer cby_admin_nope", "garbage", "Bearer " + w.device,
                ] {
                    let headers: HTTPFields = [.authorization: header]
                    #expect(try await c.raw(.get, "/healthz", headers: headers).status == 200, "\(header)")
                    #expect(try await c.raw(.get, "/api/v1/openapi.yaml", headers: headers).status == 200, "\(header)")
                    var json = headers
                    json[.contentType] = "application/json"
                    let enroll = try await c.raw(.post, EdgeLink.enrollPath, headers: json, body: "{}")
                    #expect(enroll.status == 400, "\(header): \(enroll.status)")
                    #expect(try await c.raw(.get, "/admin/sign-in", headers: headers).status == 200, "\(header)")
                }
                let refused = try await c.raw(
                    .get, "/api/v1/units/\(w.unit)", headers: [.authorization: "Basic dXNlcjpwYXNz"])
                #expect(refused.status == 401 && refused.body.str("error") == "unauthorized")
            }
        }
    }

    @Test("a note is refused exactly when the document's schema refuses it")
    func noteRuleMatchesTheDocument() async throws {
        let outline = try OpenAPIOutline.load()
        let patternLine = try #require(
            outline.text.split(separator: "\n").first {
                $0.hasPrefix("                  pattern: '^[^\\x00")
            })
        let pattern = String(patternLine.drop { $0 != "'" }.dropFirst().dropLast())
        let regex = try NSRegularExpression(pattern: pattern)
        @Sendable func documentAllows(_ note: String) -> Bool {
            note.unicodeScalars.count <= 200
                && regex.firstMatch(in: note, range: NSRange(note.startIndex..., in: note)) != nil
        }
        let notes = [
            "all good", " padded ", "", "line one\nline two", "trailing\n", "\r", "tab\there", "x\u{85}", "x\u{2028}y",
            "bell\u{07}", "del\u{7F}", String(repeating: "a", count: 200), String(repeating: "a", count: 201),
            String(repeating: "e\u{301}", count: 100), String(repeating: "e\u{301}", count: 101), "ünïcödé ✓",
        ]
        try await TestWorld.with(.sqlite) { w in
            let compartments = try await w.parts.store.read { s in try await s.compartments(unit: w.unit) }
            try await w.test { c in
                for note in notes {
                    let body = String(decoding: try JSONEncoder().encode(["note": note]), as: UTF8.self)
                    let json = "{\"inService\":false," + body.dropFirst()
                    let r = try await c.call(
                        .post, "/api/v1/compartments/\(compartments[0].id)/service", token: w.manifest.adminToken,
                        json: json)
                    #expect((r.status == 200) == documentAllows(note), "\(note.debugDescription): \(r.status)")
                    #expect(r.status == 200 || r.status == 400, "\(note.debugDescription): \(r.status)")
                    if r.status == 200 {
                        let back = try await c.call(
                            .post, "/api/v1/compartments/\(compartments[0].id)/service",
                            token: w.manifest.adminToken, json: #"{"inService":true}"#)
                        #expect(back.status == 200)
                    }
                }
            }
        }
    }

    @Test("every integer query parameter has the bounds the server applies")
    func queryBoundsAreDocumented() async throws {
        let outline = try OpenAPIOutline.load()
        var queryIntegers = 0
        let lines = outline.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (i, line) in lines.enumerated() where line == "          in: query" {
            // The parameter's own lines: up to the next parameter (or twelve lines).
            let own = lines[(i + 1)...].prefix(12).prefix { !$0.hasPrefix("        - ") }
            let schema = own.joined(separator: "\n")
            guard schema.contains("type: integer") else { continue }
            queryIntegers += 1
            #expect(schema.contains("minimum:"), "\(lines[i - 1])")
            #expect(schema.contains("maximum:"), "\(lines[i - 1])")
        }
        #expect(queryIntegers == 9)
        try await TestWorld.with(.sqlite) { w in
            try await w.parts.auditLog.sequence()
            try await w.test { c in
                let admin = w.manifest.adminToken
                let max = Int.max
                for q in [
                    "inclusion?index=\(max)&size=\(max)", "consistency?from=966&to=0",
                    "inclusion?index=9223372036854775808&size=1",
                ] {
                    let r = try await c.call(.get, "/api/v1/audit/proof/" + q, token: admin)
                    #expect(r.status == 400 && r.body.str("error") == "invalid_request", "\(q): \(r.status)")
                }
                // Within the bounds but beyond the organization's tree: no such tree, as if it did not exist.
                let beyond = try await c.call(.get, "/api/v1/audit/proof/consistency?from=0&to=\(max)", token: admin)
                #expect(beyond.status == 404 && beyond.body.str("error") == "not_found")
                let within = try await c.call(.get, "/api/v1/audit/events?from=\(max)", token: admin)
                #expect(within.status == 200)
                #expect(
                    try await c.call(.get, "/api/v1/audit/proof/consistency?from=0&to=1", token: admin).status == 200)
            }
        }
    }
}

extension ContractTests {
    @Test("every kind of audit actor is in the document's AuditActor enum")
    func actorKindsAreDocumented() throws {
        let outline = try OpenAPIOutline.load()
        let block = try #require(outline.text.components(separatedBy: "    AuditActor:\n").dropFirst().first)
        let line = try #require(block.split(separator: "\n").first { $0.hasPrefix("          enum: [") })
        let listed = Set(
            line.drop { $0 != "[" }.dropFirst().dropLast().split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            })
        #expect(listed == Set(Actor.Kind.allCases.map(\.rawValue)))
    }
}

extension ContractTests {
    @Test("every error the server maps has its code in the Error enum and its status in the document's table")
    func everyMappedErrorIsDocumented() throws {
        let outline = try OpenAPIOutline.load()
        // The table rows: "| `code` | status | meaning |".
        var table: [String: Int] = [:]
        for line in outline.text.split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            if cells.count >= 2, cells[0].hasPrefix("`"), let status = Int(cells[1]) {
                table[String(cells[0].dropFirst().dropLast())] = status
            }
        }
        let errors: [any Error] =
            [
                DomainError.notFound("x"), DomainError.unitFull, DomainError.unitLockedDown,
                DomainError.invalidState("x"),
                DomainError.duplicateParcel, DomainError.invalidCode,
                DomainError.lockedOut(retryAfterSeconds: 1, reason: .lockout),
                DomainError.lockedOut(retryAfterSeconds: 1, reason: .suspended), DomainError.invalidRequest("x"),
                DomainError.forbidden("x"), APIError.unauthorized, APIError.forbidden, APIError.invalidJSON("x"),
                APIError.invalidRequest("x"), APIError.payloadTooLarge(1), APIError.unsupportedMediaType,
                APIError.tooManyAttempts(retryAfterSeconds: 1, "x"), APIError.stepUpRequired("x"), HTTPError(.notFound),
                HTTPError(.methodNotAllowed, headers: [.allow: "GET"]), HTTPError(.contentTooLarge),
                RecipientError.deactivated("x"), RecipientError.exists(field: "email"),
                RecipientError.invalid(field: "x", "x"), RecipientError.importTooLarge("x"), RecipientError.notCSV,
                RecipientError.invalidCSV("x"), RecipientError.preferenceRefused("x"), DeliveryError.inProgress,
                DeliveryError.alreadyFinal("dead"), DeliveryError.notFinal("failed"), DeliveryError.messageErased,
                DeliveryError.subscriptionDisabled, ParcelChangeError.beyondSiteLimit(latest: 0),
            ] + ProvisioningError.allCases
        var mapped: [(String, Int)] = errors.map {
            let (status, code, _, _) = ErrorMapping<CubbyRequestContext>.describe($0)
            return (code, Int(status.code))
        }
        mapped.append(("upgrade_required", 426))  // the edge link's answer to a plain request
        for (code, status) in mapped {
            #expect(outline.errorCodes.contains(code), "\(code) is in the Error enum")
            #expect(table[code] == status, "\(code) is in the table with \(status)")
        }
        #expect(Set(mapped.map(\.0)) == outline.errorCodes, "the enum lists exactly the codes the server sends")
    }
}
