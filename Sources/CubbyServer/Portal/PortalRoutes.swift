import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The management portal under `/admin`: sign-in, enrollment, recovery, dashboard, users, credentials.
struct PortalRoutes {
    let staff: StaffDesk
    let gate: PortalGate
    /// Where links in the portal point (enrollment links are built on it).
    let publicURL: String
    /// Units' edge controllers: enrollment codes and lockdown release.
    let edges: EdgeDesk
    /// The organization as the pages show it.
    var overview: Overview { Overview(store: staff.store) }

    var pages: PortalPages { gate.pages }

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin", nil) { _, _, call in
            gate.redirect(call.session == nil ? "/admin/sign-in" : "/admin/dashboard")
        }
        routes.portal(.get, "/admin/static/portal.css", nil) { _, _, _ in pages.css() }
        routes.portal(.get, "/admin/sign-in", nil) { _, _, call in
            if call.session != nil { return gate.redirect("/admin/dashboard") }
            return pages.page("sign-in", title: "Sign in", session: nil, formToken: call.formToken)
        }
        routes.portal(.post, "/admin/sign-in", nil) { _, _, call in
            try await signIn(call, factor: .totp(call.form.first("code")), template: "sign-in", title: "Sign in")
        }
        routes.portal(.get, "/admin/recover", nil) { _, _, call in
            pages.page("recover", title: "Sign in with a recovery code", session: nil, formToken: call.formToken)
        }
        routes.portal(.post, "/admin/recover", nil) { _, _, call in
            try await signIn(
                call, factor: .recoveryCode(call.form.first("recovery")), template: "recover",
                title: "Sign in with a recovery code")
        }
        routes.portal(.get, "/admin/enroll", nil) { req, _, call in
            let token = req.uri.queryParameters.get("token") ?? ""
            let account = try await staff.enrollingAccount(token: token)
            return pages.page(
                "enroll-password", title: "Set up your account", session: nil, formToken: call.formToken,
                ["email": account.email, "role": account.role, "token": token])
        }
        routes.portal(.post, "/admin/enroll", nil) { _, _, call in try await choosePassword(call) }
        routes.portal(.post, "/admin/enroll/confirm", nil) { _, _, call in try await confirmAuthenticator(call) }
        routes.portal(.get, "/admin/dashboard", .viewDashboard) { req, _, call in
            try await dashboard(call, notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/units/:unitId/lockdown", .lockDown) { _, ctx, call in
            let s = try session(call)
            let unitId = ctx.parameters.get("unitId") ?? ""
            _ = try await edges.lockDown(s.principal, unitId: unitId, reason: call.form.first("reason"))
            return gate.redirect(Self.unitBack(call, unitId) + "?done=locked")
        }
        routes.portal(.post, "/admin/sites/:siteId/lockdown", .lockDown) { _, ctx, call in
            let s = try session(call)
            _ = try await edges.lockDownSite(
                s.principal, siteId: ctx.parameters.get("siteId") ?? "", reason: call.form.first("reason"))
            return gate.redirect("/admin/dashboard?done=site-locked")
        }
        routes.portal(.post, "/admin/units/:unitId/release-lockdown", .releaseLockdown) { _, ctx, call in
            let s = try session(call)
            let unitId = ctx.parameters.get("unitId") ?? ""
            _ = try await edges.releaseLockdown(s.principal, unitId: unitId)
            return gate.redirect(Self.unitBack(call, unitId) + "?done=released")
        }
        routes.portal(.post, "/admin/alerts/:alertId/acknowledge", .acknowledgeAlert) { _, ctx, call in
            let s = try session(call)
            let id = ctx.parameters.get("alertId") ?? ""
            _ = try await edges.acknowledgeAlert(s.principal, alertId: id, note: Self.note(call.form.first("note")))
            return gate.redirect(Self.alertBack(call, id) + "?done=acknowledged")
        }
        routes.portal(.post, "/admin/alerts/:alertId/resolve", .resolveAlert) { _, ctx, call in
            let s = try session(call)
            let id = ctx.parameters.get("alertId") ?? ""
            _ = try await edges.resolveAlert(s.principal, alertId: id, note: Self.note(call.form.first("note")))
            return gate.redirect(Self.alertBack(call, id) + "?done=resolved")
        }
        routes.portal(.post, "/admin/compartments/service", .serviceCompartment) { _, _, call in
            let s = try session(call)
            let inService: Bool
            switch call.form.first("inService") {
            case "true": inService = true
            case "false": inService = false
            default: throw DomainError.invalidRequest("say whether the compartment goes into service or out of it")
            }
            guard let compartment = UUID(uuidString: call.form.first("compartment")) else {
                throw DomainError.invalidRequest("choose a compartment")
            }
            let changed = try await edges.setCompartmentService(
                s.principal, compartmentId: compartment.idString, inService: inService,
                note: call.form.first("note"))
            return gate.redirect(
                Self.unitBack(call, changed.unitId) + "?done=" + (inService ? "in-service" : "out-of-service"))
        }
        routes.portal(.post, "/admin/units/:unitId/enrollment-code", .enrollUnit) { _, ctx, call in
            let s = try session(call)
            let unitId = ctx.parameters.get("unitId") ?? ""
            let (code, expires) = try await edges.issueEnrollmentCode(s.principal, unitId: unitId)
            return try await dashboard(
                call,
                enrollment: ["unitId": unitId, "code": code, "expiresAt": AuditCanonicalEncoding.timestamp(expires)])
        }
        routes.portal(.get, "/admin/users", .viewUsers) { req, _, call in
            try await usersPage(call, notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/users", .inviteUser) { _, _, call in try await invite(call) }
        routes.portal(.post, "/admin/users/:accountId/role", .changeRole) { _, ctx, call in
            let s = try session(call)
            let role = try Self.role(call.form.first("role"))
            let sites = call.form.all("site")
            _ = try await staff.changeRole(
                s, accountId: ctx.parameters.get("accountId") ?? "", role: role, sites: sites.isEmpty ? nil : sites)
            return gate.redirect("/admin/users?done=role")
        }
        routes.portal(.post, "/admin/users/:accountId/deactivate", .deactivateUser) { _, ctx, call in
            let s = try session(call)
            _ = try await staff.deactivate(s, accountId: ctx.parameters.get("accountId") ?? "")
            return gate.redirect("/admin/users?done=deactivated")
        }
        routes.portal(.get, "/admin/credentials", .viewCredentials) { req, _, call in
            try await credentialsPage(call, notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/credentials", .issueCredential) { _, _, call in try await issue(call) }
        routes.portal(.post, "/admin/credentials/:credentialId/revoke", .revokeCredential) { _, ctx, call in
            let s = try session(call)
            _ = try await staff.revokeCredential(
                s.principal, actor: StaffDesk.actor(s.account), id: ctx.parameters.get("credentialId") ?? "")
            return gate.redirect("/admin/credentials?done=revoked")
        }
        routes.portal(.post, "/admin/sign-out", .manageOwnSession) { _, _, call in
            try await staff.signOut(try session(call))
            return gate.redirect("/admin/sign-in", cookies: [gate.cookie(PortalGate.sessionCookie, "", clear: true)])
        }
        routes.portal(.post, "/admin/sign-out-everywhere", .manageOwnSession) { _, _, call in
            try await staff.signOutEverywhere(try session(call))
            return gate.redirect("/admin/sign-in", cookies: [gate.cookie(PortalGate.sessionCookie, "", clear: true)])
        }
    }

    /// What a page says after a form redirected to it (`?done=`).
    static let notices: [String: String] = [
        "role": "The role was changed.", "deactivated": "The account is deactivated and its sessions have ended.",
        "revoked": "The credential is revoked; its next request will be refused.",
        "released": "The lockdown is lifted; the unit is told over its link.",
        "locked":
            "The unit is locked down: no pickup or drop-off there until it is released; the unit is told over its link.",
        "site-locked": "Every unit of the site is locked down; the units are told over their links.",
        "resolved": "The alert is resolved.",
        "acknowledged": "The alert is acknowledged: others see that someone is on it. Resolve it when it is answered.",
        "phone": "The phone number was saved; it is kept sealed.",
        "in-service": "The compartment is back in service; the unit is told over its link.",
        "out-of-service": "The compartment is out of service; no drop-off will be assigned to it.",
    ]

    /// Where an alert's form returns: the alert's own page when sent from there, else the dashboard.
    static func alertBack(_ call: PortalCall, _ id: String) -> String {
        call.form.first("back") == "alert" && EntityID.parse(id) != nil ? "/admin/alerts/\(id)" : "/admin/dashboard"
    }

    /// Where a unit's form returns: the unit's own page when sent from there, else the dashboard.
    static func unitBack(_ call: PortalCall, _ unitId: String) -> String {
        call.form.first("back") == "unit" && EntityID.parse(unitId) != nil
            ? "/admin/units/\(EntityID.parse(unitId)!)" : "/admin/dashboard"
    }

    /// A form's note: an empty field is no note.
    static func note(_ text: String) -> String? { text.isEmpty ? nil : text }

    /// A fresh single-use value for a form that shows a secret once.
    static func once() -> String { Base64URL.encode(SecretGenerator.bytes(18)) }

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    static func role(_ text: String) throws -> Principal.Role {
        guard let r = Principal.Role(rawValue: text), r.isStaff else {
            throw StaffError.invalidInput("The role must be super-admin, admin or auditor.")
        }
        return r
    }

    // MARK: sign-in and enrollment

    func signIn(_ call: PortalCall, factor: StaffDesk.SecondFactor, template: String, title: String) async throws
        -> Response
    {
        let email = call.form.first("email")
        do {
            let (token, _) = try await staff.signIn(
                email: email, password: call.form.first("password"), factor: factor, address: call.address)
            // A new session id at every sign-in; the pre-session cookie is no longer needed.
            return gate.redirect(
                "/admin/dashboard",
                cookies: [
                    gate.cookie(PortalGate.sessionCookie, token), gate.cookie(PortalGate.preCookie, "", clear: true),
                ])
        } catch StaffError.signInFailed {
            return pages.page(
                template, title: title, session: nil, formToken: call.formToken,
                ["error": StaffError.signInFailed.message, "email": String(email.prefix(254))], status: .unauthorized)
        }
    }

    func choosePassword(_ call: PortalCall) async throws -> Response {
        let token = call.form.first("token")
        do {
            let (account, otp) = try await staff.choosePassword(
                token: token, password: call.form.first("password"), confirmation: call.form.first("confirm"))
            return try authenticatorPage(call, token: token, account: account, otp: otp)
        } catch let e as StaffError where e != .linkInvalid {
            let account = try await staff.enrollingAccount(token: token)
            return pages.page(
                "enroll-password", title: "Set up your account", session: nil, formToken: call.formToken,
                ["email": account.email, "role": account.role, "token": token, "error": e.message], status: .badRequest)
        }
    }

    func authenticatorPage(
        _ call: PortalCall, token: String, account: StaffAccountRecord, otp: OneTimePassword, error: String? = nil
    ) throws -> Response {
        let uri = otp.provisioningURI(issuer: "Cubby", account: account.email)
        let qr = try QRCode(text: uri, correction: .medium)
        let secret = Base32.encode(otp.secret).uppercased()
        let groups = stride(from: 0, to: secret.count, by: 4).map { i -> String in
            let start = secret.index(secret.startIndex, offsetBy: i)
            return String(secret[start..<secret.index(start, offsetBy: min(4, secret.count - i))])
        }.joined(separator: " ")
        var values: [String: Any] = [
            "qrSVG": qr.svg(label: "QR code to add Cubby to your authenticator app"), "uri": uri,
            "secretGroups": groups, "token": token,
        ]
        if let error { values["error"] = error }
        return pages.page(
            "enroll-authenticator", title: "Set up your authenticator", session: nil, formToken: call.formToken, values,
            status: error == nil ? .ok : .badRequest)
    }

    func confirmAuthenticator(_ call: PortalCall) async throws -> Response {
        let token = call.form.first("token")
        do {
            let (_, codes) = try await staff.confirmAuthenticator(token: token, code: call.form.first("code"))
            return pages.page(
                "enroll-done", title: "Save your recovery codes", session: nil, formToken: call.formToken,
                ["codes": codes])
        } catch StaffError.codeInvalid {
            let (account, otp) = try await staff.pendingAuthenticator(token: token)
            return try authenticatorPage(
                call, token: token, account: account, otp: otp, error: StaffError.codeInvalid.message)
        }
    }

    // MARK: dashboard

    func dashboard(_ call: PortalCall, notice: String? = nil, enrollment: [String: String]? = nil) async throws
        -> Response
    {
        let s = try session(call)
        let canRelease = AccessPolicy.allows(s.principal.role, .releaseLockdown)
        let canLockDown = AccessPolicy.allows(s.principal.role, .lockDown)
        let canEnroll = AccessPolicy.allows(s.principal.role, .enrollUnit)
        let canService = AccessPolicy.allows(s.principal.role, .serviceCompartment)
        let needsCode = !staff.isSteppedUp(s)
        let overview = try await overview.dashboard(s.principal, serviceable: canService)
        let (units, counts) = (overview.units, overview.counts)
        // Per unit: the compartments to put back in service, and those that can be taken out.
        var broken: [String: [[String: String]]] = [:]
        var working: [String: [[String: String]]] = [:]
        for c in overview.serviceable {
            let entry = ["id": c.id, "label": c.label]
            if c.state == .outOfService {
                broken[c.unitId, default: []].append(entry)
            } else {
                working[c.unitId, default: []].append(entry)
            }
        }
        let visible = overview.sites.map { site -> [String: Any] in
            let rows = units.filter { $0.siteId == site.id }.map { u -> [String: Any] in
                let c = counts[u.id] ?? [:]
                let total = c.values.reduce(0, +)
                let occupied = c["occupied"] ?? 0
                let reserved = c["reserved"] ?? 0
                let inService = total - (c["out_of_service"] ?? 0)
                return [
                    "id": u.id, "lockedDown": u.lockedDownAt != nil, "lockdownReason": u.lockdownReason ?? "",
                    "hasEdge": u.edgeEnrolledAt != nil,
                    "canRelease": canRelease && u.lockedDownAt != nil, "canEnroll": canEnroll, "needsCode": needsCode,
                    "canLockDown": canLockDown && u.lockedDownAt == nil,
                    "enrollStep": ["needsCode": needsCode, "id": "enroll-" + u.id] as [String: Any],
                    "enrollment": enrollment?["unitId"] == u.id ? enrollment as Any : false,
                    "name": u.name, "total": total, "occupied": occupied, "reserved": reserved,
                    "available": c["available"] ?? 0,
                    "outOfService": c["out_of_service"] ?? 0, "canService": canService,
                    "broken": broken[u.id] ?? [], "working": working[u.id] ?? [], "hasWorking": working[u.id] != nil,
                    "percent": inService > 0
                        ? Int((Double(occupied + reserved) / Double(inService) * 100).rounded()) : 0,
                ]
            }
            return [
                "id": site.id, "name": site.name, "units": rows, "hasUnits": !rows.isEmpty,
                "canLockDownSite": canLockDown && !rows.isEmpty,
                "canReadOnCall": AccessPolicy.allows(s.principal.role, .readOnCall),
                "canReadSite": AccessPolicy.allows(s.principal.role, .readSite),
            ]
        }
        var values: [String: Any] = ["sites": visible, "once": Self.once(), "canServiceAny": canService]
        if AccessPolicy.allows(s.principal.role, .readAlerts) {
            let names = Dictionary(uniqueKeysWithValues: units.map { ($0.id, $0.name) })
            let canResolve = AccessPolicy.allows(s.principal.role, .resolveAlert)
            let alerts = try await edges.openAlerts(s.principal)
            values["showAlerts"] = true
            values["hasAlerts"] = !alerts.isEmpty
            values["alerts"] = alerts.map { a -> [String: Any] in
                [
                    "id": a.id, "kind": a.kind.replacingOccurrences(of: "_", with: " "), "detail": a.detail,
                    "unit": a.unitId.flatMap { names[$0] } ?? "",
                    "at": AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: a.createdAt)),
                    "canResolve": canResolve,
                    "canAcknowledge": canResolve && a.acknowledgedAt == nil,
                    "acknowledged": a.acknowledgedAt.map {
                        "acknowledged at " + AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: $0))
                    } ?? false,
                    "storm": a.signals > 1
                        ? [
                            "signals": a.signals,
                            "lastAt": AuditCanonicalEncoding.timestamp(
                                Date(millisecondsSince1970: a.lastSignalAt ?? a.createdAt)),
                        ] as [String: Any] : false,
                ]
            }
        }
        if let notice { values["notice"] = notice }
        return pages.page("dashboard", title: "Dashboard", session: s, formToken: call.formToken, values)
    }

    // MARK: users

    func siteOptions(_ s: StaffSession) async throws -> [SiteRecord] {
        try await overview.sites(s.principal)
    }

    func usersPage(_ call: PortalCall, notice: String? = nil, invited: (String, String)? = nil) async throws -> Response
    {
        let s = try session(call)
        let users = try await staff.users(s)
        let sites = try await siteOptions(s)
        let names = Dictionary(uniqueKeysWithValues: sites.map { ($0.id, $0.name) })
        let grantable: [Principal.Role] = s.principal.role == .superAdmin ? Principal.Role.staff : [.admin, .auditor]
        let needsCode = !staff.isSteppedUp(s)
        var rows: [[String: Any]] = []
        for u in users {
            let theirs = Set(u.sites ?? [])
            let phone = try await staff.phone(s, accountId: u.id)
            rows.append([
                "phone": phone.map { String(repeating: "•", count: max(0, $0.count - 4)) + $0.suffix(4) } ?? "none",
                "canSetPhone": (staff.canManage(s, u) || u.id == s.account.id)
                    && AccessPolicy.allows(s.principal.role, .setStaffPhone),
                "id": u.id, "email": u.email, "role": u.role, "status": u.status,
                "sites": u.sites.map { $0.map { names[$0] ?? "another site" }.joined(separator: ", ") }
                    ?? "whole organization",
                "canManage": staff.canManage(s, u), "needsCode": needsCode,
                "roleOptions": grantable.map { ["value": $0.rawValue, "selected": $0.rawValue == u.role] },
                "siteOptions": sites.map {
                    ["id": $0.id, "name": $0.name, "checked": theirs.contains($0.id)] as [String: Any]
                },
            ])
        }
        var values: [String: Any] = [
            "users": rows, "inviteRoles": grantable.map(\.rawValue), "once": Self.once(),
            "allSites": sites.map { ["id": $0.id, "name": $0.name] },
        ]
        if let notice { values["notice"] = notice }
        if let invited {
            values["inviteEmail"] = invited.0
            values["inviteLink"] = invited.1
        }
        return pages.page("users", title: "Users", session: s, formToken: call.formToken, values)
    }

    func enrollmentLink(_ token: String) -> String { "\(publicURL)/admin/enroll?token=\(token)" }

    func invite(_ call: PortalCall) async throws -> Response {
        let s = try session(call)
        let role = try Self.role(call.form.first("role"))
        let sites = call.form.all("site")
        let (account, token) = try await staff.invite(
            s, email: call.form.first("email"), role: role, sites: sites.isEmpty ? nil : sites)
        return try await usersPage(call, invited: (account.email, enrollmentLink(token)))
    }

    // MARK: credentials

    func credentialsPage(_ call: PortalCall, notice: String? = nil, issued: (CredentialRecord, String)? = nil)
        async throws -> Response
    {
        let s = try session(call)
        let creds = try await staff.credentials(s)
        let sites = try await siteOptions(s)
        let mine = Set(sites.map(\.id))
        let (units, carriers) = try await overview.unitsAndCarriers(s.principal)
        let unitNames = Dictionary(uniqueKeysWithValues: units.map { ($0.id, $0.name) })
        let carrierNames = Dictionary(uniqueKeysWithValues: carriers.map { ($0.id, $0.name) })
        let now = staff.clock.now().millisecondsSince1970
        let needsCode = !staff.isSteppedUp(s)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        let rows = creds.map { c -> [String: Any] in
            let expired = (c.expiresAt ?? .max) <= now
            let target =
                c.unitId.map { unitNames[$0] ?? "unit" } ?? c.carrierId.map { carrierNames[$0] ?? "carrier" }
                ?? (c.siteIds == nil ? "whole organization" : "selected sites")
            return [
                "id": c.id, "label": c.label, "kind": c.kind, "target": target,
                "expires": c.expiresAt.map { formatter.string(from: Date(millisecondsSince1970: $0)) } ?? "never",
                "status": c.revokedAt != nil ? "revoked" : expired ? "expired" : "active",
                "live": c.revokedAt == nil && !expired, "needsCode": needsCode,
            ]
        }
        var values: [String: Any] = [
            "credentials": rows, "once": Self.once(), "allSites": sites.map { ["id": $0.id, "name": $0.name] },
            "units": units.filter { mine.contains($0.siteId) }.map { ["id": $0.id, "name": $0.name] },
            "carriers": carriers.map { ["id": $0.id, "name": $0.name] },
            "stepCode": ["needsCode": needsCode, "id": "issue"] as [String: Any],
        ]
        if let notice { values["notice"] = notice }
        if let (record, token) = issued {
            values["issuedToken"] = token
            values["issuedKind"] = record.kind
            values["issuedLabel"] = record.label
        }
        return pages.page("credentials", title: "Credentials", session: s, formToken: call.formToken, values)
    }

    func issue(_ call: PortalCall) async throws -> Response {
        let s = try session(call)
        guard let kind = Principal.Role(rawValue: call.form.first("kind")), StaffDesk.credentialKinds.contains(kind)
        else {
            throw StaffError.invalidInput("The kind must be \(StaffDesk.credentialKindWords).")
        }
        guard let days = Int(call.form.first("days")) else {
            throw StaffError.invalidInput("Valid for must be a number of days.")
        }
        let sites = call.form.all("site")
        let request = StaffDesk.CredentialRequest(
            kind: kind, label: call.form.first("label"), days: days, carrierId: call.form.first("carrier"),
            unitId: call.form.first("unit"),
            sites: sites.isEmpty
                ? (s.principal.role == .superAdmin ? nil : s.principal.siteIds.map { $0.idString }) : sites)
        let issued = try await staff.issueCredential(s.principal, actor: StaffDesk.actor(s.account), request)
        return try await credentialsPage(call, issued: issued)
    }
}
