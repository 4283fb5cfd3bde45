import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import Hummingbird

/// The portal's Alerts pages: open and resolved alerts, one alert with what it paged and who answered it, and each
/// site's on-call list. A page's link leads here, behind the sign-in; opening it never acknowledges anything.
struct AlertPortalRoutes {
    let edges: EdgeDesk
    let onCall: OnCallDesk
    let staff: StaffDesk
    let gate: PortalGate

    var pages: PortalPages { gate.pages }

    /// Rows of the on-call form: enough for a building's rota; the API takes up to `OnCallDesk.maxContacts`.
    static let formRows = 6

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/alerts", .readAlerts) { req, _, call in
            try await listPage(call, resolved: req.uri.queryParameters.get("state") == "resolved")
        }
        routes.portal(.get, "/admin/alerts/:alertId", .readAlerts) { req, ctx, call in
            try await alertPage(
                call, alertId: ctx.parameters.get("alertId") ?? "",
                notice: DashboardNotices.text[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.get, "/admin/sites/:siteId/on-call", .readOnCall) { req, ctx, call in
            try await onCallPage(
                call, siteId: ctx.parameters.get("siteId") ?? "",
                notice: req.uri.queryParameters.get("done") == "saved" ? "The on-call list was saved." : nil)
        }
        routes.portal(.post, "/admin/sites/:siteId/on-call", .manageOnCall) { _, ctx, call in
            try await saveOnCall(call, siteId: ctx.parameters.get("siteId") ?? "")
        }
        routes.portal(.post, "/admin/users/:accountId/phone", .setStaffPhone) { _, ctx, call in
            let s = try session(call)
            let phone = call.form.first("phone").trimmingCharacters(in: .whitespaces)
            try await staff.setPhone(
                s, accountId: ctx.parameters.get("accountId") ?? "", phone: phone.isEmpty ? nil : phone)
            return gate.redirect("/admin/users?done=phone")
        }
    }

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    static func time(_ ms: Int64) -> String { AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: ms)) }

    /// Staff emails by account id, for "who" columns.
    func emails(_ p: Principal) async throws -> [String: String] {
        let org = p.organizationId.idString
        return Dictionary(
            try await edges.store.read { s in try await s.staffAccounts(organization: org) }.map { ($0.id, $0.email) },
            uniquingKeysWith: { a, _ in a })
    }

    func who(_ id: String?, _ emails: [String: String]) -> String {
        guard let id else { return "—" }
        return emails[id] ?? id
    }

    func listPage(_ call: PortalCall, resolved: Bool) async throws -> Response {
        let s = try session(call)
        let now = edges.clock.now().millisecondsSince1970
        let alerts = try await edges.alerts(s.principal, resolved: resolved)
        let emails = try await emails(s.principal)
        let rows = alerts.map { a -> [String: Any] in
            let severity = AlertSeverity.of(kind: a.kind, openForMs: (a.resolvedAt ?? now) - a.createdAt)
            var state = "open"
            if let at = a.resolvedAt {
                state = "resolved by \(who(a.resolvedBy, emails)) at \(Self.time(at))"
            } else if let at = a.acknowledgedAt {
                state = "acknowledged by \(who(a.acknowledgedBy, emails)) at \(Self.time(at))"
            } else if a.pageStep > 0 {
                state = "open, paged \(a.pageStep) time\(a.pageStep == 1 ? "" : "s")"
            }
            return [
                "id": a.id, "at": Self.time(a.createdAt), "kind": a.kind, "severity": severity.rawValue,
                "detail": a.detail, "signals": String(a.signals), "state": state,
            ]
        }
        return pages.page(
            "alerts", title: resolved ? "Resolved alerts" : "Open alerts", session: s, formToken: call.formToken,
            ["alerts": rows, "hasAlerts": !rows.isEmpty, "resolved": resolved])
    }

    func alertPage(_ call: PortalCall, alertId: String, notice: String?) async throws -> Response {
        let s = try session(call)
        let history = try await edges.alertHistory(s.principal, alertId: alertId)
        let a = history.alert
        let now = edges.clock.now().millisecondsSince1970
        let emails = try await emails(s.principal)
        let facts = try await edges.store.read { st -> (String, String, String, String?) in
            let site = try await a.siteId.asyncMap { try await st.site($0) } ?? nil
            let unit = try await a.unitId.asyncMap { try await st.unit($0) } ?? nil
            let compartment = try await a.compartmentId.asyncMap { try await st.compartment($0) } ?? nil
            var place = [String]()
            if let unit { place.append("unit \(unit.name)") }
            if let compartment { place.append("compartment \(compartment.label)") }
            if let site { place.append(site.name) }
            return (
                place.joined(separator: ", "), site?.timeZone ?? "UTC", site?.id ?? "",
                unit?.lockedDownAt.map {
                    "locked down since \(Self.time($0)) (\(unit?.lockdownReason ?? "no reason given"))"
                }
            )
        }
        var events: [[String: String]] = [["at": Self.time(a.createdAt), "what": "Raised: \(a.detail)"]]
        if a.signals > 1, let last = a.lastSignalAt {
            events.append(["at": Self.time(last), "what": "Signal \(a.signals) of this incident (the latest)"])
        }
        for page in history.pages {
            let to = who(page.accountId, emails)
            let channels = page.channels.replacingOccurrences(of: ",", with: " and ")
            events.append([
                "at": Self.time(page.pagedAt),
                "what": page.step == 0
                    ? "Paged \(to) by \(channels) (\(page.severity))"
                    : "Nobody acknowledged: escalated to \(to) by \(channels) (page \(page.step + 1), \(page.severity))"
                    ,
            ])
        }
        if let at = a.acknowledgedAt {
            events.append([
                "at": Self.time(at),
                "what": "Acknowledged by \(who(a.acknowledgedBy, emails))" + (a.acknowledgeNote.map { ": \($0)" } ?? "")
                ,
            ])
        }
        if let at = a.resolvedAt {
            events.append([
                "at": Self.time(at),
                "what": "Resolved by \(who(a.resolvedBy, emails))" + (a.resolveNote.map { ": \($0)" } ?? ""),
            ])
        }
        events.sort { ($0["at"] ?? "") < ($1["at"] ?? "") }
        let open = a.resolvedAt == nil
        var values: [String: Any] = [
            "id": a.id, "kind": a.kind, "detail": a.detail, "where": facts.0.isEmpty ? "—" : facts.0,
            "timeZone": facts.1, "raised": Self.time(a.createdAt),
            "severity": AlertSeverity.of(kind: a.kind, openForMs: (a.resolvedAt ?? now) - a.createdAt).rawValue,
            "signals": String(a.signals), "events": events,
            "unitState": facts.3 ?? "", "hasUnitState": facts.3 != nil,
            "canAcknowledge": open && a.acknowledgedAt == nil
                && AccessPolicy.allows(s.principal.role, .acknowledgeAlert),
            "canResolve": open && AccessPolicy.allows(s.principal.role, .resolveAlert),
            "nextPage": open && a.acknowledgedAt == nil ? (a.nextPageAt.map(Self.time) ?? "") : "",
            "siteId": facts.2, "hasSite": !facts.2.isEmpty,
        ]
        if let notice { values["notice"] = notice }
        return pages.page("alert", title: "Alert: \(a.kind)", session: s, formToken: call.formToken, values)
    }

    /// The site's on-call page; after a refused form, with what was sent (`submitted`) in the form's rows.
    func onCallPage(
        _ call: PortalCall, siteId: String, notice: String?, error: String? = nil,
        status: HTTPResponse.Status = .ok, submitted: (contacts: [OnCallDesk.ContactRequest], delay: String)? = nil
    ) async throws -> Response {
        let s = try session(call)
        let policy = try await onCall.policy(s.principal, siteId: siteId)
        let site = try await edges.store.read { st in try await st.site(policy.siteId) }
        let org = s.principal.organizationId.idString
        let candidates = try await edges.store.read { st in try await st.staffAccounts(organization: org) }
            .filter { a in
                a.status != "deactivated"
                    && (a.role == "super-admin"
                        || (a.siteIds ?? "").split(separator: ",").contains(Substring(policy.siteId)))
            }
            .sorted { $0.email < $1.email }
        // The rows as stored, or as sent when the form is shown again with what was wrong.
        let shown: [(account: String, channels: [String], severities: [String])] =
            submitted?.contacts.map { ($0.accountId ?? "", $0.channels, $0.severities ?? []) }
            ?? policy.contacts.map { ($0.accountId, $0.channels.map(\.rawValue), $0.severities.map(\.rawValue)) }
        var rows: [[String: Any]] = []
        for i in 0..<max(Self.formRows, shown.count) {
            let c = i < shown.count ? shown[i] : nil
            let severities = c?.severities ?? AlertSeverity.defaultSet.map(\.rawValue)
            rows.append([
                "n": String(i + 1), "i": String(i),
                "options": candidates.map {
                    ["value": $0.id, "label": "\($0.email) (\($0.role))", "selected": $0.id == c?.account]
                        as [String: Any]
                },
                "email": c?.channels.contains("email") ?? true, "sms": c?.channels.contains("sms") ?? false,
                "critical": severities.contains("critical"), "warning": severities.contains("warning"),
                "info": severities.contains("info"),
            ])
        }
        var values: [String: Any] = [
            "siteId": policy.siteId, "siteName": site?.name ?? policy.siteId, "rows": rows,
            "delay": submitted?.delay ?? String(policy.escalationDelaySeconds),
            "contacts": policy.contacts.enumerated().map { i, c in
                [
                    "n": String(i + 1), "email": c.email,
                    "channels": c.channels.map(\.rawValue).joined(separator: ", "),
                    "severities": c.severities.map(\.rawValue).joined(separator: ", "),
                    "phone": c.hasPhone ? "yes" : "no",
                ]
            },
            "hasContacts": !policy.contacts.isEmpty,
            "canManage": AccessPolicy.allows(s.principal.role, .manageOnCall),
        ]
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return pages.page(
            "on-call", title: "On call at \(site?.name ?? "the site")", session: s, formToken: call.formToken, values,
            status: status)
    }

    func saveOnCall(_ call: PortalCall, siteId: String) async throws -> Response {
        let s = try session(call)
        var contacts: [OnCallDesk.ContactRequest] = []
        for i in 0..<OnCallDesk.maxContacts {
            let account = call.form.first("account-\(i)")
            guard !account.isEmpty else { continue }
            contacts.append(
                OnCallDesk.ContactRequest(
                    accountId: account, email: nil, channels: call.form.all("channels-\(i)"),
                    severities: call.form.all("severities-\(i)")))
        }
        let delayText = call.form.first("delay").trimmingCharacters(in: .whitespaces)
        let sent = (contacts: contacts, delay: String(delayText.prefix(12)))
        guard let delay = Int64(delayText) else {
            return try await onCallPage(
                call, siteId: siteId, notice: nil, error: "The escalation delay is a whole number of seconds.",
                status: .badRequest, submitted: sent)
        }
        do {
            _ = try await onCall.replace(s.principal, siteId: siteId, contacts: contacts, delaySeconds: delay)
        } catch let e as DomainError {
            // The form again with what was sent and what was wrong; nothing was saved.
            let (status, message): (HTTPResponse.Status, String) =
                switch e {
                case .invalidRequest(let m): (.badRequest, m)
                case .invalidState(let m): (.conflict, m)
                case .notFound(let m) where m.hasPrefix("contacts["): (.badRequest, m)
                default: throw e
                }
            return try await onCallPage(
                call, siteId: siteId, notice: nil, error: Self.portalWording(message), status: status,
                submitted: sent)
        }
        return gate.redirect("/admin/sites/\(siteId)/on-call?done=saved")
    }

    /// The API's wording about `contacts[i]` as the form's "row i+1".
    static func portalWording(_ message: String) -> String {
        var text = message
        for i in (0..<OnCallDesk.maxContacts).reversed() {
            text = text.replacingOccurrences(of: "contacts[\(i)].", with: "Row \(i + 1): ")
            text = text.replacingOccurrences(of: "contacts[\(i)]", with: "Row \(i + 1)")
        }
        return text.prefix(1).uppercased() + text.dropFirst()
    }
}

/// What the dashboard's and the alert page's forms say once done.
enum DashboardNotices {
    static let text: [String: String] = [
        "acknowledged": "The alert is acknowledged: its escalation stopped.",
        "resolved": "The alert is resolved.",
    ]
}
