import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The portal's Carriers pages: the list with a form for a new carrier, and a carrier's page to rename it, choose
/// the sites it serves, deactivate it and issue a courier credential for it (the secret shown once). Changes go
/// through `ProvisioningDesk` and credentials through `StaffDesk`, as the API's and the Credentials page's do.
struct CarrierPortalRoutes {
    let desk: ProvisioningDesk
    let staff: StaffDesk
    let gate: PortalGate

    var pages: PortalPages { gate.pages }

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/carriers", .readCarrier) { req, _, call in
            try await list(call, fields: [:], notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/carriers", .createCarrier) { _, _, call in
            let s = try session(call)
            let name = call.form.first("name").trimmingCharacters(in: .whitespaces)
            let sites = call.form.all("site")
            do {
                let view = try await desk.createCarrier(
                    s.principal, actor: StaffDesk.actor(s.account), name: name, siteIds: sites)
                return gate.redirect("/admin/carriers/\(view.carrier.id)?done=created")
            } catch DomainError.invalidRequest(let m) {
                return try await list(
                    call, fields: ["name": name], sites: sites, error: UnitPortalRoutes.sentence(m),
                    status: .badRequest)
            }
        }
        routes.portal(.get, "/admin/carriers/:carrierId", .readCarrier) { req, ctx, call in
            let s = try session(call)
            let view = try await desk.carrier(s.principal, id: ctx.parameters.get("carrierId") ?? "")
            return try await page(
                call, view, name: view.carrier.name, sites: view.siteIds,
                notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/carriers/:carrierId", .updateCarrier) { _, ctx, call in
            let s = try session(call)
            let view = try await desk.carrier(s.principal, id: ctx.parameters.get("carrierId") ?? "")
            let name = call.form.first("name").trimmingCharacters(in: .whitespaces)
            let sites = call.form.all("site")
            do {
                _ = try await desk.updateCarrier(
                    s.principal, actor: StaffDesk.actor(s.account), id: view.carrier.id, name: name, siteIds: sites)
                return gate.redirect("/admin/carriers/\(view.carrier.id)?done=saved")
            } catch DomainError.invalidRequest(let m) {
                return try await page(
                    call, view, name: name, sites: sites, error: UnitPortalRoutes.sentence(m), status: .badRequest)
            }
        }
        routes.portal(.post, "/admin/carriers/:carrierId/deactivate", .deactivateCarrier) { _, ctx, call in
            let s = try session(call)
            let view = try await desk.deactivateCarrier(
                s.principal, actor: StaffDesk.actor(s.account), id: ctx.parameters.get("carrierId") ?? "")
            return gate.redirect("/admin/carriers/\(view.carrier.id)?done=deactivated")
        }
        routes.portal(.post, "/admin/carriers/:carrierId/credentials", .issueCredential) { _, ctx, call in
            let s = try session(call)
            let view = try await desk.carrier(s.principal, id: ctx.parameters.get("carrierId") ?? "")
            let label = call.form.first("label").trimmingCharacters(in: .whitespaces)
            let days = call.form.first("days").trimmingCharacters(in: .whitespaces)
            do {
                guard let n = Int(days) else { throw StaffError.invalidInput("Valid for must be a number of days.") }
                let issued = try await staff.issueCredential(
                    s.principal, actor: StaffDesk.actor(s.account),
                    .init(
                        kind: .courier, label: label, days: n, carrierId: view.carrier.id))
                return try await page(call, view, name: view.carrier.name, sites: view.siteIds, issued: issued)
            } catch let e as StaffError {
                return try await page(
                    call, view, name: view.carrier.name, sites: view.siteIds,
                    credential: ["label": label, "days": days],
                    error: e.message, status: .badRequest)
            }
        }
    }

    static let notices: [String: String] = [
        "created": "The carrier was created. Issue a courier credential for it below.",
        "saved": "The changes were saved.",
        "deactivated": "The carrier is deactivated: its credentials are revoked and it no longer drops parcels off.",
    ]

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    func siteOptions(_ p: Principal, chosen: [String]) async throws -> [[String: Any]] {
        let picked = Set(chosen)
        return try await desk.sites(p).map {
            ["id": $0.id, "name": $0.name, "checked": picked.contains($0.id)] as [String: Any]
        }
    }

    func list(
        _ call: PortalCall, fields: [String: String], sites: [String] = [], notice: String? = nil,
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let carriers = try await desk.carriers(s.principal)
        let options = try await siteOptions(s.principal, chosen: sites)
        let names = Dictionary(
            options.map { ($0["id"] as! String, $0["name"] as! String) }, uniquingKeysWith: { a, _ in a })
        var values: [String: Any] = fields
        values["carriers"] = carriers.map { v -> [String: Any] in
            [
                "id": v.carrier.id, "name": v.carrier.name, "active": v.carrier.deactivatedAt == nil,
                "sites": v.siteIds.isEmpty ? "none" : v.siteIds.map { names[$0] ?? $0 }.joined(separator: ", "),
            ]
        }
        values["hasCarriers"] = !carriers.isEmpty
        values["siteOptions"] = options
        values["canCreate"] = AccessPolicy.allows(s.principal.role, .createCarrier)
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return pages.page("carriers", title: "Carriers", session: s, formToken: call.formToken, values, status: status)
    }

    func page(
        _ call: PortalCall, _ view: ProvisioningDesk.CarrierView, name: String, sites: [String],
        credential: [String: String] = [:], issued: (CredentialRecord, String)? = nil, notice: String? = nil,
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let role = s.principal.role
        let active = view.carrier.deactivatedAt == nil
        let options = try await siteOptions(s.principal, chosen: sites)
        let names = Dictionary(
            options.map { ($0["id"] as! String, $0["name"] as! String) }, uniquingKeysWith: { a, _ in a })
        var values: [String: Any] = [
            "id": view.carrier.id, "name": name, "carrierName": view.carrier.name, "active": active,
            "deactivatedAt": view.carrier.deactivatedAt.map {
                AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: $0))
            } ?? "",
            "served": view.siteIds.map { ["id": $0, "name": names[$0] ?? $0] },
            "servesNone": view.siteIds.isEmpty,
            "siteOptions": options,
            "canUpdate": AccessPolicy.allows(role, .updateCarrier) && active,
            "canDeactivate": AccessPolicy.allows(role, .deactivateCarrier) && active,
            "canIssue": AccessPolicy.allows(role, .issueCredential) && active,
            "canReadSite": AccessPolicy.allows(role, .readSite),
            "once": PortalRoutes.once(),
            "stepCode": ["needsCode": !staff.isSteppedUp(s), "id": "issue"] as [String: Any],
            "label": credential["label"] ?? "", "days": credential["days"] ?? "365",
        ]
        if AccessPolicy.allows(role, .viewCredentials) {
            let now = staff.clock.now().millisecondsSince1970
            let mine = try await staff.credentials(s).filter { $0.carrierId == view.carrier.id }
            values["showCredentials"] = true
            values["hasCredentials"] = !mine.isEmpty
            values["credentials"] = mine.map { c -> [String: Any] in
                let expired = (c.expiresAt ?? .max) <= now
                return [
                    "label": c.label, "kind": c.kind,
                    "expires": c.expiresAt.map { AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: $0)) }
                        ?? "never",
                    "status": c.revokedAt != nil ? "revoked" : expired ? "expired" : "active",
                ]
            }
        }
        if let (record, token) = issued {
            values["issuedToken"] = token
            values["issuedLabel"] = record.label
        }
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return pages.page(
            "carrier", title: "Carrier: \(view.carrier.name)", session: s, formToken: call.formToken, values,
            status: status)
    }
}
