import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Walks every registered route × every role and compares the answer with the policy table.
@Suite("Route × role policy walk")
struct RoutePolicyTests {
    static func concretePath(_ path: String, unit: String) -> String {
        path.replacingOccurrences(of: ":unitId", with: unit)
            .replacingOccurrences(of: ":parcelId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":accountId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":credentialId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":alertId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":compartmentId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":siteId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":carrierId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":recipientId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":userId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":webhookId", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: ":deliveryId", with: "1")
            .replacingOccurrences(of: ":resourceTypeId", with: "User")
            .replacingOccurrences(of: ":schemaId", with: "urn:ietf:params:scim:schemas:core:2.0:User")
    }

    @Test(arguments: Backend.available)
    func everyRouteAnswersAsThePolicyTableSays(backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let (router, entries) = try buildRoutes(parts: w.parts, settings: w.settings, logger: TestWorld.logger)

            // Every route the router knows was registered through the policy layer, with an action or as open.
            let registered = Set(router.routes.map { "\($0.method) \($0.path)" })
            let declared = Set(entries.map { "\($0.method) \(RouterPath($0.path))" })
            #expect(registered == declared)
            #expect(
                entries.filter { $0.action == nil && $0.surface == .api }.map(\.path).sorted() == [
                    "/api/v1/edge/enroll", "/api/v1/openapi.yaml", "/healthz", "/report/:token", "/unsubscribe/:token",
                ])

            // The demo's admin key has no sites: it holds the organization's reach, as a super-administrator.
            let org = try #require(OrganizationID(uuidString: w.manifest.organizationId))
            let (_, siteAdminKey) = try await w.parts.staff.issueCredential(
                Principal(role: .superAdmin, credentialId: .make(), organizationId: org), actor: .console,
                .init(kind: .admin, label: "site script", days: 30, sites: [w.site]))
            let bearer: [Principal.Role: String] = [
                .courier: w.manifest.courierToken, .carrier: w.manifest.carrierToken, .device: w.device,
                .admin: siteAdminKey, .superAdmin: w.manifest.adminToken, .auditor: w.manifest.auditorToken,
                .scim: try await w.scimToken().token,
            ]
            var staff: [Principal.Role: StaffMember] = [:]
            staff[.superAdmin] = try await w.staffMember("boss@example.org", .superAdmin)
            staff[.admin] = try await w.staffMember("site@example.org", .admin, sites: [w.site])
            staff[.auditor] = try await w.staffMember("audit@example.org", .auditor, sites: [w.site])
            let residentToken = try await w.residentSignIn()
            // Sessions are used last by the routes that end them.
            let ends: Set<Action> = [.manageOwnSession, .residentSignOut]
            let ordered = entries.sorted {
                (ends.contains($0.action ?? .readAudit) ? 1 : 0) < (ends.contains($1.action ?? .readAudit) ? 1 : 0)
            }

            let app = Application(router: router, logger: TestWorld.logger)
            let signedIn = staff
            try await app.test(.router) { client in
                var staff = signedIn
                var resident = residentToken
                var checked = 0
                for e in ordered {
                    // Decommissioning retires the second unit, so that the first one's device credential keeps working.
                    let path = Self.concretePath(
                        e.path, unit: e.action == .decommissionUnit ? w.manifest.units[1].id : w.unit)
                    let name = "\(e.method) \(e.path)"
                    switch e.surface {
                    case .api:
                        let body: String? = e.method == .post || e.method == .patch ? "{}" : nil
                        let anonymous = try await client.call(e.method, path, json: body)
                        if e.action == nil {
                            // Open routes answer anyone (the enrollment endpoint refuses an empty body, not the caller;
                            // an unsubscribe link is its own authority, and a made-up one names nothing).
                            let expected =
                                [EdgeLink.enrollPath: 400, "/unsubscribe/:token": 404, "/report/:token": 404][e.path]
                                ?? 200
                            #expect(anonymous.status == expected, "\(name) is open: \(anonymous.status)")
                            continue
                        }
                        #expect(anonymous.status == 401, "\(name) without credentials")
                        for role in Principal.Role.allCases {
                            if let token = bearer[role] {
                                let r = try await client.call(e.method, path, token: token, json: body)
                                if AccessPolicy.allows(role, e.action!), e.action!.needsStepUp {
                                    // A fresh second factor is a person's: an API credential may hold the action
                                    // and still be told to come with one.
                                    #expect(
                                        r.status != 401
                                            && (r.status != 403 || r.body.str("error") == "step_up_required"),
                                        "\(name) as \(role): \(r.status)")
                                } else if AccessPolicy.allows(role, e.action!) {
                                    #expect(r.status != 401 && r.status != 403, "\(name) as \(role): \(r.status)")
                                } else {
                                    #expect(r.status == 403, "\(name) as \(role): \(r.status)")
                                }
                                checked += 1
                            }
                            if let member = staff[role] {
                                // A portal session is not an API credential.
                                let r = try await client.call(
                                    e.method, path, json: body, cookie: "cubby_session=\(member.session)")
                                #expect(r.status == 401, "\(name) with a \(role) session cookie: \(r.status)")
                            }
                        }
                    case .portal:
                        let pre = w.parts.keys.preSignInToken()
                        let preBody = "csrf=" + w.parts.keys.formToken("p:" + pre)
                        let anonymous = try await client.call(
                            e.method, path, json: e.method == .post ? preBody : nil,
                            contentType: "application/x-www-form-urlencoded",
                            cookie: "cubby_pre=\(pre)")
                        if e.action == nil {
                            #expect(
                                anonymous.status != 403 && anonymous.status < 500,
                                "\(name) is open: \(anonymous.status)")
                            continue
                        }
                        let signInPage = e.path.hasPrefix("/me") ? "/me/sign-in" : "/admin/sign-in"
                        #expect(
                            anonymous.status == 303 && anonymous.headers[.location] == signInPage,
                            "\(name) without a session: \(anonymous.status)")
                        for role in Principal.Role.allCases {
                            let cookie: String
                            let binding: String
                            if role == .resident {
                                if e.action == .residentSignOut { resident = try await w.residentSignIn() }
                                (cookie, binding) = ("cubby_resident=\(resident)", "r:" + resident)
                            } else {
                                guard var member = staff[role] else { continue }
                                if e.action == .manageOwnSession {
                                    member.session = try await w.signIn(member)
                                    staff[role] = member
                                }
                                (cookie, binding) = ("cubby_session=\(member.session)", "s:" + member.session)
                            }
                            let form = "csrf=" + w.parts.keys.formToken(binding)
                            let r = try await client.call(
                                e.method, path, json: e.method == .post ? form : nil,
                                contentType: "application/x-www-form-urlencoded",
                                cookie: cookie)
                            let toSignIn =
                                r.status == 303 && r.headers[.location] == signInPage && !ends.contains(e.action!)
                            if AccessPolicy.allows(role, e.action!) {
                                #expect(
                                    r.status != 401 && r.status != 403 && r.status < 500 && !toSignIn,
                                    "\(name) as \(role): \(r.status)")
                            } else {
                                #expect(r.status == 403, "\(name) as \(role): \(r.status)")
                            }
                            checked += 1
                            // The same form without its anti-forgery token is refused.
                            if e.method == .post {
                                let forged = try await client.call(
                                    e.method, path, json: "csrf=x", contentType: "application/x-www-form-urlencoded",
                                    cookie: cookie)
                                #expect(
                                    forged.status == 403 || forged.status == 303,
                                    "\(name) forged as \(role): \(forged.status)")
                            }
                        }
                    }
                }
                #expect(checked > 60)
            }
        }
    }

    @Test func everyOpenAPIPathExceptTheOpenOnesNeedsCredentials() async throws {
        try await TestWorld.with(.sqlite) { w in
            let yaml = String(decoding: try OpenAPIDocument.bytes(), as: UTF8.self)
            // Paths are the lines "  /…:" under `paths:`; each operation is "    get:" / "    post:".
            var path: String? = nil
            var operations: [(String, String)] = []
            var inPaths = false
            for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
                if line == "paths:" {
                    inPaths = true
                    continue
                }
                if inPaths, !line.hasPrefix(" "), !line.isEmpty { inPaths = false }
                guard inPaths else { continue }
                if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
                for m in ["get", "post"] where line == "    \(m):" { if let path { operations.append((m, path)) } }
            }
            #expect(operations.count >= 14)
            let listed = operations
            try await w.test { client in
                for (method, p) in listed {
                    let concrete = p.replacingOccurrences(of: "{unitId}", with: w.unit).replacingOccurrences(
                        of: "{parcelId}", with: UUID().uuidString
                    )
                    .replacingOccurrences(of: "{sha256}", with: String(repeating: "a", count: 64))
                    let r = try await client.call(
                        method == "get" ? .get : .post, concrete, json: method == "post" ? "{}" : nil)
                    if p == "/healthz" || p == "/api/v1/openapi.yaml" {
                        #expect(r.status == 200, "\(p)")
                    } else if p == EdgeLink.enrollPath {
                        #expect(r.status == 400, "\(p) is open and wants a code: \(r.status)")
                    } else if p == "/unsubscribe/{token}" || p == "/report/{token}" {
                        #expect(r.status == 404, "\(p) is open and its token names nothing: \(r.status)")
                    } else {
                        #expect(r.status == 401, "\(method) \(p): \(r.status)")
                    }
                }
            }
        }
    }
}

@Suite("Portal forms")
struct PortalFormTests {
    @Test func aFormThatShowsASecretOnceCannotBeSentTwice() async throws {
        try await TestWorld.with(.sqlite) { w in
            let boss = try await w.staffMember("boss@example.org", .superAdmin)
            let csrf = w.parts.keys.formToken("s:" + boss.session)
            let form =
                "csrf=\(csrf)&once=abcdefghijklmnopqrstuvwx&kind=device&label=Lobby+A+spare&unit=\(w.unit)&days=30"
            try await w.test { client in
                let first = try await client.call(
                    .post, "/admin/credentials", json: form, contentType: "application/x-www-form-urlencoded",
                    cookie: "cubby_session=\(boss.session)")
                #expect(first.status == 200)
                #expect(String(decoding: first.data, as: UTF8.self).contains("cby_device_"))
                let again = try await client.call(
                    .post, "/admin/credentials", json: form, contentType: "application/x-www-form-urlencoded",
                    cookie: "cubby_session=\(boss.session)")
                #expect(again.status == 409)
                #expect(!String(decoding: again.data, as: UTF8.self).contains("cby_device_"))
                // Without the single-use value the form is not accepted at all.
                let bare = form.replacingOccurrences(of: "&once=abcdefghijklmnopqrstuvwx", with: "")
                #expect(
                    try await client.call(
                        .post, "/admin/credentials", json: bare, contentType: "application/x-www-form-urlencoded",
                        cookie: "cubby_session=\(boss.session)"
                    ).status == 400)
                let labelled = try await w.parts.store.read { s in
                    try await s.credentials(organization: w.manifest.organizationId)
                }.filter { $0.label == "Lobby A spare" }
                #expect(labelled.count == 1)
                // Revoking redirects (so a reload cannot repeat it) and the list says so.
                let revoke = try await client.call(
                    .post, "/admin/credentials/\(labelled[0].id)/revoke", json: "csrf=\(csrf)",
                    contentType: "application/x-www-form-urlencoded",
                    cookie: "cubby_session=\(boss.session)")
                #expect(revoke.status == 303 && revoke.headers[.location] == "/admin/credentials?done=revoked")
            }
        }
    }
}
