import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The portal's unit page: the unit's compartments drawn where they are in the cabinet (size, state, door,
/// accessible, the parcel held), their service actions, the controller's link and lockdown, and the unit's name.
struct UnitPortalRoutes {
    let parcels: ParcelDesk
    let provisioning: ProvisioningDesk
    let staff: StaffDesk
    let hub: EdgeHub
    /// How long a unit's controller may go unseen before it counts as offline (milliseconds).
    let offlineAfter: Int64
    let gate: PortalGate

    var pages: PortalPages { gate.pages }

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/units/:unitId", .readUnit) { req, ctx, call in
            try await page(
                call, unitId: ctx.parameters.get("unitId") ?? "",
                notice: PortalRoutes.notices[req.uri.queryParameters.get("done") ?? ""]
                    ?? Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/units/:unitId/name", .renameUnit) { _, ctx, call in
            let s = try session(call)
            let id = ctx.parameters.get("unitId") ?? ""
            do {
                _ = try await provisioning.renameUnit(
                    s.principal, actor: StaffDesk.actor(s.account), unitId: id, name: call.form.first("name"))
            } catch DomainError.invalidRequest(let m) {
                return try await page(call, unitId: id, error: Self.sentence(m), status: .badRequest)
            }
            return gate.redirect("/admin/units/\(EntityID.parse(id) ?? "")?done=renamed")
        }
        routes.portal(.post, "/admin/units/:unitId/compartments", .changeCompartment) { _, ctx, call in
            try await changeCompartment(call, unitId: ctx.parameters.get("unitId") ?? "")
        }
        routes.portal(.post, "/admin/units/:unitId/decommission", .decommissionUnit) { _, ctx, call in
            let s = try session(call)
            let id = ctx.parameters.get("unitId") ?? ""
            do {
                _ = try await provisioning.decommissionUnit(s.principal, actor: StaffDesk.actor(s.account), unitId: id)
            } catch let e as ProvisioningError where e == .unitNotEmpty {
                return try await page(call, unitId: id, error: Self.sentence(e.message), status: .conflict)
            }
            return gate.redirect("/admin/units/\(EntityID.parse(id) ?? "")?done=decommissioned")
        }
    }

    /// Changes an empty compartment's size, accessible mark or inner dimensions from the form; fields left empty
    /// stay as they are. A refusal shows the page again with the reason.
    func changeCompartment(_ call: PortalCall, unitId: String) async throws -> Response {
        let s = try session(call)
        let form = call.form
        var fields: [String: String] = [:]
        for name in ["compartment", "size", "accessible", "widthMm", "heightMm", "depthMm"] {
            fields[name] = form.first(name).trimmingCharacters(in: .whitespaces)
        }
        do {
            func millimetres(_ name: String, _ what: String) throws -> Int? {
                guard let text = fields[name], !text.isEmpty else { return nil }
                guard let n = Int(text), (0...100_000).contains(n) else {
                    throw DomainError.invalidRequest("the \(what) must be a whole number of millimetres")
                }
                return n
            }
            let accessible: Bool? =
                switch fields["accessible"] {
                case "yes": true
                case "no": false
                default: nil
                }
            let change = ProvisioningDesk.CompartmentChange(
                size: fields["size"]!.isEmpty ? nil : fields["size"], widthMm: try millimetres("widthMm", "width"),
                heightMm: try millimetres("heightMm", "height"), depthMm: try millimetres("depthMm", "depth"),
                accessible: accessible)
            guard
                change.size != nil || change.accessible != nil || change.widthMm != nil || change.heightMm != nil
                    || change.depthMm != nil
            else {
                throw DomainError.invalidRequest("choose what to change: the size, the accessible mark or a dimension")
            }
            guard !fields["compartment"]!.isEmpty else { throw DomainError.invalidRequest("choose a compartment") }
            _ = try await provisioning.changeCompartment(
                s.principal, actor: StaffDesk.actor(s.account), unitId: unitId, compartmentId: fields["compartment"]!,
                change)
        } catch DomainError.invalidRequest(let m) {
            // The desk names the API's fields; the form's labels say it in words.
            let words = [
                ("widthMm", "the inner width"), ("heightMm", "the inner height"), ("depthMm", "the inner depth"),
            ]
            .reduce(m) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
            return try await page(
                call, unitId: unitId, error: Self.sentence(words), change: fields, status: .badRequest)
        } catch let e as ProvisioningError where e == .compartmentNotEmpty {
            return try await page(
                call, unitId: unitId, error: Self.sentence(e.message), change: fields, status: .conflict)
        }
        return gate.redirect("/admin/units/\(EntityID.parse(unitId) ?? "")?done=compartment-changed")
    }

    static let notices: [String: String] = [
        "created":
            "The unit was created from its layout. Issue an enrollment code on the dashboard to link its controller.",
        "renamed": "The unit's name was changed.",
        "compartment-changed": "The compartment was changed.",
        "decommissioned":
            "The unit is decommissioned: it takes no more parcels and its controller's credentials are revoked.",
    ]

    /// A message from a desk as a sentence on the page.
    static func sentence(_ m: String) -> String {
        let s = m.prefix(1).uppercased() + m.dropFirst()
        return s.hasSuffix(".") ? s : s + "."
    }

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    static func stateText(_ state: CompartmentState) -> String {
        switch state {
        case .available: "Available"
        case .reserved: "Reserved"
        case .occupied: "Occupied"
        case .outOfService: "Out of service"
        }
    }

    func page(
        _ call: PortalCall, unitId: String, notice: String? = nil, error: String? = nil,
        change: [String: String] = [:], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let role = s.principal.role
        let view = try await parcels.unit(s.principal, id: unitId)
        let unit = view.unit
        let (site, lastSeen, held) = try await parcels.store.read { db in
            var held: [String: ParcelRecord] = [:]
            for c in view.compartments {
                if let id = c.parcelId, let p = try await db.parcel(id) { held[id] = p }
            }
            return (try await db.site(unit.siteId), try await db.unitLastSeen(unit.id), held)
        }
        let clock = SiteClock(timeZone: site?.timeZone)
        let now = parcels.clock.now().millisecondsSince1970
        let retired = unit.decommissionedAt != nil
        let canService = AccessPolicy.allows(role, .serviceCompartment) && !retired
        let canViewParcels = AccessPolicy.allows(role, .viewParcels)
        let grid = UnitGrid.arrange(view.compartments)
        let rows = grid.rows.enumerated().map { (i, line) -> [String: Any] in
            [
                "number": i + 1,
                "cells": line.map { cell -> [String: Any] in
                    guard let c = cell.compartment else {
                        return ["empty": true, "column": UnitGrid.columnName(cell.column)]
                    }
                    let parcel = c.parcelId.flatMap { held[$0] }
                    return [
                        "id": c.id, "label": c.label, "size": c.size.rawValue, "rows": cell.rows,
                        "tall": cell.rows > 1, "state": c.state.rawValue, "stateText": Self.stateText(c.state),
                        "doorOpen": c.door == .open, "accessible": c.accessible,
                        "dimensions": "\(c.widthMm) × \(c.heightMm) × \(c.depthMm) mm",
                        "parcel": parcel.map {
                            ["id": $0.id, "tracking": $0.trackingNumber, "link": canViewParcels] as [String: Any]
                        } ?? false,
                        "canTakeOut": canService && c.state == .available,
                        "canReturn": canService && c.state == .outOfService,
                    ]
                },
            ]
        }
        let online = hub.isConnected(unit.id) || lastSeen.map { now - $0 < offlineAfter } == true
        let counts = Dictionary(grouping: view.compartments, by: \.state).mapValues(\.count)
        var values: [String: Any] = [
            "id": unit.id, "name": unit.name, "siteId": unit.siteId, "siteName": site?.name ?? "",
            "canReadSite": AccessPolicy.allows(role, .readSite),
            "columnHeads": (0..<grid.columns).map { ["name": UnitGrid.columnName($0)] },
            "gridRows": rows, "hasCompartments": !view.compartments.isEmpty,
            "total": view.compartments.count,
            "summary": CompartmentState.allCases.compactMap { state -> [String: Any]? in
                guard let n = counts[state], n > 0 else { return nil }
                return ["text": Self.stateText(state), "count": n]
            },
            "retired": retired,
            "retiredAt": unit.decommissionedAt.map(clock.text) ?? "",
            "hasEdge": unit.edgeEnrolledAt != nil, "online": online,
            "lastSeen": lastSeen.map(clock.text) ?? "never",
            "enrolledAt": unit.edgeEnrolledAt.map(clock.text) ?? "",
            "lockedDown": unit.lockedDownAt != nil, "lockdownReason": unit.lockdownReason ?? "",
            "lockedAt": unit.lockedDownAt.map(clock.text) ?? "",
            "canLockDown": AccessPolicy.allows(role, .lockDown) && unit.lockedDownAt == nil && !retired,
            "canRelease": AccessPolicy.allows(role, .releaseLockdown) && unit.lockedDownAt != nil,
            "needsCode": !staff.isSteppedUp(s),
            "canRename": AccessPolicy.allows(role, .renameUnit) && !retired,
            "canDecommission": AccessPolicy.allows(role, .decommissionUnit) && !retired,
            "failures": view.failuresLast24h,
            "zone": clock.zone.identifier,
        ]
        // The empty compartments, whose size, mark and dimensions may change.
        let changeable = view.compartments.filter {
            $0.parcelId == nil && ($0.state == .available || $0.state == .outOfService)
        }.sorted { $0.label < $1.label }
        values["canChange"] = AccessPolicy.allows(role, .changeCompartment) && !retired && !changeable.isEmpty
        values["changeable"] = changeable.map {
            ["id": $0.id, "label": $0.label, "selected": $0.id == change["compartment"]] as [String: Any]
        }
        values["sizeOptions"] = SizeClass.allCases.map {
            ["value": $0.rawValue, "selected": $0.rawValue == change["size"]] as [String: Any]
        }
        values["accessibleYes"] = change["accessible"] == "yes"
        values["accessibleNo"] = change["accessible"] == "no"
        for key in ["widthMm", "heightMm", "depthMm"] { values["change" + key] = change[key] ?? "" }
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return pages.page(
            "unit", title: "Unit \(unit.name)", session: s, formToken: call.formToken, values, status: status)
    }
}
