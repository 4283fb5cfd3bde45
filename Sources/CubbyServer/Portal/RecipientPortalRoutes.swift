import CubbyCore
import CubbyStore
import Foundation
import Hummingbird

/// The portal's Recipients pages: the directory with exact-key search and pages, a recipient's form (create, edit,
/// deactivate, reactivate), and the CSV import, which shows its dry-run report and writes nothing until confirmed.
struct RecipientPortalRoutes {
    let desk: RecipientDesk
    let gate: PortalGate

    var pages: PortalPages { gate.pages }
    static let pageSize = 50

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/recipients", .readRecipient) { req, _, call in try await directory(req, call) }
        routes.portal(.get, "/admin/recipients/new", .createRecipient) { _, _, call in
            try await form(call, recipient: nil, fields: [:])
        }
        routes.portal(.post, "/admin/recipients", .createRecipient) { _, _, call in try await save(call, id: nil) }
        routes.portal(.get, "/admin/recipients/import", .importRecipients) { _, _, call in
            try await importPage(call, report: nil, csv: nil, fields: [:])
        }
        routes.portal(.post, "/admin/recipients/import", .importRecipients, upload: RecipientImport.maxBytes) {
            _, _, call in try await runImport(call)
        }
        routes.portal(.get, "/admin/recipients/:recipientId", .readRecipient) { req, ctx, call in
            let s = try session(call)
            let r = try await desk.get(s.principal, id: ctx.parameters.get("recipientId") ?? "")
            return try await form(
                call, recipient: r, fields: Self.fields(r),
                notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/recipients/:recipientId", .updateRecipient) { _, ctx, call in
            try await save(call, id: ctx.parameters.get("recipientId") ?? "")
        }
        routes.portal(.post, "/admin/recipients/:recipientId/deactivate", .deactivateRecipient) { _, ctx, call in
            let id = ctx.parameters.get("recipientId") ?? ""
            _ = try await desk.deactivate(try session(call).principal, id: id)
            return gate.redirect("/admin/recipients/\(EntityID.parse(id) ?? "")?done=deactivated")
        }
        routes.portal(.post, "/admin/recipients/:recipientId/reactivate", .deactivateRecipient) { _, ctx, call in
            let id = ctx.parameters.get("recipientId") ?? ""
            _ = try await desk.reactivate(try session(call).principal, id: id)
            return gate.redirect("/admin/recipients/\(EntityID.parse(id) ?? "")?done=reactivated")
        }
    }

    static let notices: [String: String] = [
        "created": "The recipient was created.", "saved": "The changes were saved.",
        "deactivated": "The recipient is deactivated: nothing new is delivered to them.",
        "reactivated": "The recipient is active again.",
    ]

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    /// The sites the caller runs, for the forms' site choices.
    func sites(_ p: Principal) async throws -> [SiteRecord] {
        let org = p.organizationId.idString
        return try await desk.store.read { s in
            var out: [SiteRecord] = []
            for id in try await s.sites(organization: org) {
                if let site = try await s.site(id),
                    p.organizationWide || p.siteIds.contains(where: { $0.idString == id })
                {
                    out.append(site)
                }
            }
            return out.sorted { $0.name < $1.name }
        }
    }

    static func fields(_ r: Recipient) -> [String: String] {
        [
            "name": r.name ?? "", "email": r.email ?? "", "phone": r.phone ?? "", "apartment": r.apartment ?? "",
            "externalId": r.externalId ?? "", "language": r.preferredLanguage.rawValue,
            "accessible": r.needsAccessible ? "on" : "", "site": r.siteId,
        ]
    }

    /// A recipient's error as the form's message.
    static func message(_ error: RecipientError) -> String {
        let (_, _, text, _) = RecipientRoutes.describe(error)
        return text.prefix(1).uppercased() + text.dropFirst() + "."
    }

    func directory(_ req: Request, _ call: PortalCall) async throws -> Response {
        let s = try session(call)
        let q = req.uri.queryParameters
        let get = { (name: String) in (q.get(name) ?? "").trimmingCharacters(in: .whitespaces) }
        let (email, apartment, externalId, site) = (get("email"), get("apartment"), get("externalId"), get("site"))
        let cursor = get("cursor")
        let sites = try await sites(s.principal)
        var values: [String: Any] = [
            "email": email, "apartment": apartment, "externalId": externalId,
            "siteOptions": sites.map {
                ["value": $0.id, "label": $0.name, "selected": $0.id == site] as [String: Any]
            },
            "canCreate": AccessPolicy.allows(s.principal.role, .createRecipient),
            "canImport": AccessPolicy.allows(s.principal.role, .importRecipients),
        ]
        var status: HTTPResponse.Status = .ok
        do {
            let lookup: RecipientLookup = .keys(
                email: email.isEmpty ? nil : email, externalId: externalId.isEmpty ? nil : externalId,
                apartment: apartment.isEmpty ? nil : apartment)
            let page = try await desk.search(
                s.principal, lookup, siteId: site.isEmpty ? nil : site, limit: Self.pageSize,
                cursor: cursor.isEmpty ? nil : cursor)
            let names = Dictionary(sites.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            values["recipients"] = page.recipients.map { r -> [String: Any] in
                [
                    "id": r.id, "name": r.name ?? "—", "email": r.email ?? "—", "apartment": r.apartment ?? "—",
                    "site": names[r.siteId] ?? r.siteId, "active": r.active,
                ]
            }
            values["hasRecipients"] = !page.recipients.isEmpty
            if let next = page.nextCursor {
                var c = URLComponents()
                c.path = "/admin/recipients"
                c.queryItems =
                    [("email", email), ("apartment", apartment), ("externalId", externalId), ("site", site)]
                    .filter { !$0.1.isEmpty }.map { URLQueryItem(name: $0.0, value: $0.1) }
                    + [URLQueryItem(name: "cursor", value: next)]
                values["next"] = c.string ?? "/admin/recipients"
            }
        } catch let e as RecipientError {
            values["error"] = Self.message(e)
            status = .badRequest
        }
        return pages.page(
            "recipients", title: "Recipients", session: s, formToken: call.formToken, values, status: status)
    }

    func form(
        _ call: PortalCall, recipient: Recipient?, fields: [String: String], notice: String? = nil,
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let sites = try await sites(s.principal)
        var values: [String: Any] = fields
        values["siteOptions"] = sites.map {
            ["value": $0.id, "label": $0.name, "selected": $0.id == fields["site"]] as [String: Any]
        }
        values["languageOptions"] = PreferredLanguage.allCases.map {
            ["value": $0.rawValue, "selected": $0.rawValue == (fields["language"] ?? "en")] as [String: Any]
        }
        values["isAccessible"] = fields["accessible"] == "on"
        if let recipient {
            values["id"] = recipient.id
            values["active"] = recipient.active
            values["existing"] = true
            values["canUpdate"] = AccessPolicy.allows(s.principal.role, .updateRecipient)
            values["canDeactivate"] = AccessPolicy.allows(s.principal.role, .deactivateRecipient)
        } else {
            values["canUpdate"] = true
        }
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        let title = recipient.map { "Recipient: \($0.name ?? $0.id)" } ?? "New recipient"
        return pages.page("recipient", title: title, session: s, formToken: call.formToken, values, status: status)
    }

    /// Creates (`id` nil) or changes a recipient from the form; a refusal shows the form again with what was sent.
    func save(_ call: PortalCall, id: String?) async throws -> Response {
        let s = try session(call)
        var fields: [String: String] = [:]
        for name in ["name", "email", "phone", "apartment", "externalId", "language", "accessible", "site"] {
            fields[name] = call.form.first(name).trimmingCharacters(in: .whitespaces)
        }
        func optional(_ name: String) -> String? { fields[name]!.isEmpty ? nil : fields[name] }
        let language = PreferredLanguage(rawValue: fields["language"] ?? "") ?? .en
        do {
            if let id {
                let before = try await desk.get(s.principal, id: id)
                let patch = RecipientPatch(
                    siteId: fields["site"] == before.siteId || fields["site"]!.isEmpty ? nil : fields["site"],
                    name: fields["name"], email: .some(optional("email")), phone: .some(optional("phone")),
                    apartment: .some(optional("apartment")), externalId: .some(optional("externalId")),
                    preferredLanguage: language, needsAccessible: fields["accessible"] == "on")
                _ = try await desk.update(s.principal, id: before.id, patch)
                return gate.redirect("/admin/recipients/\(before.id)?done=saved")
            }
            let created = try await desk.create(
                s.principal,
                RecipientDraft(
                    siteId: fields["site"] ?? "", name: fields["name"] ?? "", email: optional("email"),
                    phone: optional("phone"), apartment: optional("apartment"), externalId: optional("externalId"),
                    preferredLanguage: language, needsAccessible: fields["accessible"] == "on"))
            return gate.redirect("/admin/recipients/\(created.id)?done=created")
        } catch let e as RecipientError {
            let recipient = try await id.asyncMap { try await desk.get(s.principal, id: $0) }
            return try await form(
                call, recipient: recipient, fields: fields, error: Self.message(e),
                status: e.isConflict ? .conflict : .badRequest)
        }
    }

    func importPage(
        _ call: PortalCall, report: RecipientImportReport?, csv: String?, fields: [String: String],
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let sites = try await sites(s.principal)
        var values: [String: Any] = [
            "siteOptions": sites.map {
                ["value": $0.id, "label": $0.name, "selected": $0.id == fields["site"]] as [String: Any]
            },
            "deactivateMissing": fields["deactivateMissing"] == "on",
        ]
        if let report {
            values["report"] = true
            values["committed"] = report.committed
            values["counts"] = [
                "rows": report.rows, "created": report.created, "updated": report.updated,
                "unchanged": report.unchanged, "rejected": report.rejected, "deactivated": report.deactivated,
            ]
            values["rejectedRows"] = report.results.filter { $0.outcome == .rejected }.map {
                ["row": String($0.row), "column": $0.column ?? "—", "reason": $0.reason ?? "—"]
            }
            values["hasRejected"] = report.rejected > 0
            values["ignoredColumns"] = report.ignoredColumns.joined(separator: ", ")
            values["hasIgnored"] = !report.ignoredColumns.isEmpty
            // A clean dry run asks to confirm; the confirmation sends the same file again.
            if report.dryRun && report.rejected == 0, let csv {
                values["confirm"] = true
                values["csv"] = csv
                values["site"] = report.siteId
            }
        }
        if let error { values["error"] = error }
        return pages.page(
            "recipients-import", title: report?.committed == true ? "Import done" : "Import recipients", session: s,
            formToken: call.formToken, values, status: status)
    }

    /// The upload (`file`) is always a dry run first; `csv` with `confirm` set writes what the dry run showed.
    func runImport(_ call: PortalCall) async throws -> Response {
        let s = try session(call)
        let fields = ["site": call.form.first("site"), "deactivateMissing": call.form.first("deactivateMissing")]
        let confirm = call.form.first("confirm") == "yes"
        let bytes = call.form.file("file")?.bytes ?? Array(call.form.first("csv").utf8)
        guard !bytes.isEmpty else {
            return try await importPage(
                call, report: nil, csv: nil, fields: fields, error: "Choose a CSV file to import.", status: .badRequest)
        }
        do {
            let report = try await desk.importCSV(
                s.principal, csv: bytes,
                options: RecipientImportOptions(
                    siteId: fields["site"] ?? "", dryRun: !confirm,
                    deactivateMissing: fields["deactivateMissing"] == "on"),
                actor: StaffDesk.actor(s.account))
            return try await importPage(
                call, report: report, csv: String(decoding: bytes, as: UTF8.self), fields: fields,
                status: report.rejected > 0 ? .unprocessableContent : .ok)
        } catch let e as RecipientError {
            return try await importPage(
                call, report: nil, csv: nil, fields: fields, error: Self.message(e), status: .badRequest)
        }
    }
}

extension RecipientError {
    /// Whether the refusal is a conflict with another recipient (409) rather than bad input (400).
    var isConflict: Bool {
        switch self {
        case .exists, .deactivated, .preferenceRefused: true
        default: false
        }
    }
}
