import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The portal's Sites pages: the list with a form for a new site, and a site's page with its settings, its units,
/// the carriers serving it, and a unit created from a layout (typed in the form or uploaded as the layout file
/// `cubby units create --layout` reads). Every change goes through `ProvisioningDesk`, as the API's do.
struct SitePortalRoutes {
    let desk: ProvisioningDesk
    let gate: PortalGate

    var pages: PortalPages { gate.pages }
    /// The largest layout file taken.
    static let maxLayoutBytes = 256 * 1024

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/sites", .readSite) { req, _, call in
            try await list(call, fields: Self.defaults, notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/sites", .createSite) { _, _, call in
            let s = try session(call)
            let fields = Self.siteFields(call.form)
            do {
                let site = try await desk.createSite(
                    s.principal, actor: StaffDesk.actor(s.account), try Self.siteInput(fields))
                return gate.redirect("/admin/sites/\(site.id)?done=created")
            } catch DomainError.invalidRequest(let m) {
                return try await list(call, fields: fields, error: UnitPortalRoutes.sentence(m), status: .badRequest)
            }
        }
        routes.portal(.get, "/admin/sites/:siteId", .readSite) { req, ctx, call in
            let s = try session(call)
            let site = try await desk.site(s.principal, id: ctx.parameters.get("siteId") ?? "")
            return try await page(
                call, site: site, fields: Self.fields(site), unit: [:],
                notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/sites/:siteId", .updateSite) { _, ctx, call in
            let s = try session(call)
            let site = try await desk.site(s.principal, id: ctx.parameters.get("siteId") ?? "")
            let fields = Self.siteFields(call.form)
            do {
                let input = try Self.siteInput(fields)
                _ = try await desk.updateSite(
                    s.principal, actor: StaffDesk.actor(s.account), id: site.id,
                    .init(
                        name: input.name, address: input.address, timeZone: input.timeZone,
                        languages: input.languages, pickupLifetimeSeconds: input.pickupLifetimeSeconds,
                        reservationSeconds: input.reservationSeconds, reminderHours: input.reminderHours,
                        quietHours: input.quietHours))
                return gate.redirect("/admin/sites/\(site.id)?done=saved")
            } catch DomainError.invalidRequest(let m) {
                return try await page(
                    call, site: site, fields: fields, unit: [:], error: UnitPortalRoutes.sentence(m),
                    status: .badRequest)
            }
        }
        routes.portal(.post, "/admin/sites/:siteId/units", .createUnit, upload: Self.maxLayoutBytes) { _, ctx, call in
            let s = try session(call)
            let site = try await desk.site(s.principal, id: ctx.parameters.get("siteId") ?? "")
            let unit = ["unitName": call.form.first("name"), "columns": call.form.first("columns")]
            do {
                let layout = try Self.layout(call.form)
                let name = call.form.first("name").trimmingCharacters(in: .whitespaces)
                let built = try await desk.createUnit(
                    s.principal, actor: StaffDesk.actor(s.account), siteId: site.id, layout: layout,
                    name: name.isEmpty ? nil : name)
                return gate.redirect("/admin/units/\(built.unit.id)?done=created")
            } catch DomainError.invalidRequest(let m) {
                return try await page(
                    call, site: site, fields: Self.fields(site), unit: unit,
                    error: "The unit was not created. " + UnitPortalRoutes.sentence(m), status: .badRequest)
            }
        }
    }

    static let notices: [String: String] = [
        "created": "The site was created. Add its locker units below.", "saved": "The changes were saved.",
    ]

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    // MARK: the site's settings as form fields

    /// A new site's form, filled with the defaults a site gets.
    static let defaults: [String: String] = [
        "timeZone": "UTC", "languages": SiteSettings.defaultLanguages.joined(separator: ","),
        "pickupLifetimeHours": String(SiteSettings.defaultPickupLifetimeSeconds / 3_600),
        "reservationMinutes": String(SiteSettings.defaultReservationSeconds / 60),
        "reminderHours": SiteSettings.defaultReminderHours.map(String.init).joined(separator: ", "),
        "quietHours": QuietHours.standard.text,
    ]

    static func fields(_ site: SiteRecord) -> [String: String] {
        [
            "name": site.name, "address": site.address, "timeZone": site.timeZone, "languages": site.languages,
            "pickupLifetimeHours": hours(Int(site.pickupLifetimeSeconds)),
            "reservationMinutes": minutes(Int(site.reservationSeconds)),
            "reminderHours": ProvisioningRules.hours(site.reminderHours).map(String.init).joined(separator: ", "),
            "quietHours": site.quietHours,
        ]
    }

    /// Seconds as whole hours when they are, else as a decimal number of hours.
    static func hours(_ seconds: Int) -> String {
        seconds % 3_600 == 0 ? String(seconds / 3_600) : String(Double(seconds) / 3_600)
    }

    static func minutes(_ seconds: Int) -> String {
        seconds % 60 == 0 ? String(seconds / 60) : String(Double(seconds) / 60)
    }

    /// What the site form sent, as text (the languages comma-separated, from the checkboxes).
    static func siteFields(_ form: PortalForm) -> [String: String] {
        var out: [String: String] = [:]
        for name in ["name", "address", "timeZone", "pickupLifetimeHours", "reservationMinutes", "reminderHours"] {
            out[name] = form.first(name).trimmingCharacters(in: .whitespaces)
        }
        out["quietHours"] = form.first("quietHours").replacingOccurrences(of: " ", with: "")
        out["languages"] = form.all("language").joined(separator: ",")
        return out
    }

    /// A whole number within `range` from a form field, else a message naming the field in the form's words.
    static func number(_ text: String?, _ what: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let n = Int(text ?? ""), range.contains(n) else {
            throw DomainError.invalidRequest(
                "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    /// The site form as the desk's input; the desk checks every rule.
    static func siteInput(_ f: [String: String]) throws -> ProvisioningDesk.SiteInput {
        let lifetime = SiteSettings.pickupLifetimeSeconds
        let hours = try number(
            f["pickupLifetimeHours"], "The pickup lifetime in hours",
            (lifetime.lowerBound / 3_600)...(lifetime.upperBound / 3_600))
        let reservation = SiteSettings.reservationSeconds
        let minutes = try number(
            f["reservationMinutes"], "The reservation in minutes",
            (reservation.lowerBound / 60)...(reservation.upperBound / 60))
        let reminderText = f["reminderHours"] ?? ""
        let reminders = try reminderText.split(whereSeparator: { $0 == "," || $0 == " " }).map { token -> Int in
            guard let h = Int(token), (0...100_000).contains(h) else {
                throw DomainError.invalidRequest(
                    "reminders must be whole hours after the drop-off separated by commas, such as 24, 72")
            }
            return h
        }
        let quiet = f["quietHours"] ?? ""
        return .init(
            name: f["name"] ?? "", address: f["address"] ?? "", timeZone: f["timeZone"] ?? "",
            languages: ProvisioningRules.list(f["languages"] ?? ""), pickupLifetimeSeconds: hours * 3_600,
            reservationSeconds: minutes * 60, reminderHours: reminders, quietHours: .some(quiet.isEmpty ? nil : quiet))
    }

    // MARK: layouts from the form

    /// The layout sent: the uploaded file (`layout`) when there is one, else the columns typed in `columns`.
    static func layout(_ form: PortalForm) throws -> UnitLayout {
        if let file = form.file("layout") { return try UnitLayout.decode(Data(file.bytes)) }
        let text = form.first("columns")
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw DomainError.invalidRequest("describe the columns of compartments, or choose a layout file")
        }
        return try typedLayout(text)
    }

    /// Columns typed one per line, left to right; on each line the compartments from the top, as sizes (S, M, L,
    /// XL) separated by spaces or commas, `*` after a size marking an accessible compartment. Each compartment gets
    /// its size's typical inner dimensions.
    static func typedLayout(_ text: String) throws -> UnitLayout {
        var columns: [UnitLayout.Column] = []
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (n, line) in lines.enumerated() {
            let tokens = line.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
            guard !tokens.isEmpty else { continue }
            var slots: [UnitLayout.Slot] = []
            for (i, token) in tokens.enumerated() {
                let accessible = token.hasSuffix("*")
                let sizeText = String(accessible ? token.dropLast() : token).uppercased()
                guard let size = SizeClass(rawValue: sizeText) else {
                    throw DomainError.invalidRequest(
                        "line \(n + 1), compartment \(i + 1): “\(token.prefix(12))” is not a size; write S, M, L or XL, with * after it for an accessible compartment"
                    )
                }
                let d = size.typicalInnerDimensions
                slots.append(
                    .init(
                        size: size.rawValue, widthMm: d.width, heightMm: d.height, depthMm: d.depth,
                        accessible: accessible))
            }
            columns.append(.init(compartments: slots))
        }
        return UnitLayout(name: nil, columns: columns)
    }

    // MARK: pages

    func list(
        _ call: PortalCall, fields: [String: String], notice: String? = nil, error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let sites = try await desk.sites(s.principal)
        let counts = try await desk.store.read { db in
            var out: [String: Int] = [:]
            for site in sites {
                out[site.id] = try await db.units(site: site.id).filter { $0.decommissionedAt == nil }.count
            }
            return out
        }
        var values = Self.formValues(fields)
        values["sites"] = sites.map { site -> [String: Any] in
            [
                "id": site.id, "name": site.name, "address": site.address, "timeZone": site.timeZone,
                "units": counts[site.id] ?? 0,
            ]
        }
        values["hasSites"] = !sites.isEmpty
        values["canCreate"] = AccessPolicy.allows(s.principal.role, .createSite)
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return pages.page("sites", title: "Sites", session: s, formToken: call.formToken, values, status: status)
    }

    /// The site form's values: the fields, and the languages as checkboxes.
    static func formValues(_ fields: [String: String]) -> [String: Any] {
        var values: [String: Any] = fields
        let chosen = Set(ProvisioningRules.list(fields["languages"] ?? ""))
        values["languageOptions"] = SiteSettings.kioskLanguages.map {
            ["value": $0, "checked": chosen.contains($0)] as [String: Any]
        }
        return values
    }

    func page(
        _ call: PortalCall, site: SiteRecord, fields: [String: String], unit: [String: String],
        notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let role = s.principal.role
        let units = try await desk.store.read { db in try await db.units(site: site.id) }
        var values = Self.formValues(fields)
        for (k, v) in unit { values[k] = v }
        values["id"] = site.id
        values["siteName"] = site.name
        values["units"] = units.map { u -> [String: Any] in
            [
                "id": u.id, "name": u.name, "retired": u.decommissionedAt != nil, "lockedDown": u.lockedDownAt != nil,
                "hasEdge": u.edgeEnrolledAt != nil,
            ]
        }
        values["hasUnits"] = !units.isEmpty
        values["canUpdate"] = AccessPolicy.allows(role, .updateSite)
        values["canCreateUnit"] = AccessPolicy.allows(role, .createUnit)
        values["canReadOnCall"] = AccessPolicy.allows(role, .readOnCall)
        if AccessPolicy.allows(role, .readCarrier) {
            let carriers = try await desk.carriers(s.principal).filter { $0.siteIds.contains(site.id) }
            values["showCarriers"] = true
            values["carriers"] = carriers.map {
                ["id": $0.carrier.id, "name": $0.carrier.name, "active": $0.carrier.deactivatedAt == nil]
                    as [String: Any]
            }
            values["hasCarriers"] = !carriers.isEmpty
        }
        values["sizes"] = SizeClass.allCases.map { size -> [String: Any] in
            let d = size.typicalInnerDimensions
            return ["size": size.rawValue, "dimensions": "\(d.width) × \(d.height) × \(d.depth) mm"]
        }
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return pages.page(
            "site", title: "Site: \(site.name)", session: s, formToken: call.formToken, values, status: status)
    }
}
