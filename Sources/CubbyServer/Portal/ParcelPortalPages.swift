import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// Times as a site's people read them: in the site's time zone, with the zone's abbreviation.
struct SiteClock {
    let zone: TimeZone
    let formatter: DateFormatter

    init(timeZone identifier: String?) {
        zone = identifier.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
        formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss zzz"
    }

    func text(_ ms: Int64) -> String { formatter.string(from: Date(millisecondsSince1970: ms)) }

    /// The start of a day given as `YYYY-MM-DD` in this zone (Unix milliseconds), or nil when it is not a date.
    func startOfDay(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1970...9999).contains(y),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let components = DateComponents(year: y, month: m, day: d)
        guard components.isValidDate(in: calendar), let date = calendar.date(from: components) else { return nil }
        return date.millisecondsSince1970
    }
}

extension ParcelPortalRoutes {
    /// The search form's fields as given (kept in the form when the page comes back).
    struct SearchForm {
        var tracking = "", email = "", apartment = "", externalId = "", unit = "", state = "", from = "", to = ""

        init(_ query: (String) -> String?) {
            func get(_ name: String) -> String { (query(name) ?? "").trimmingWhitespace() }
            (tracking, email, apartment, externalId) = (
                get("tracking"), get("email"), get("apartment"), get("externalId")
            )
            (unit, state, from, to) = (get("unit"), get("state"), get("from"), get("to"))
        }

        var items: [URLQueryItem] {
            [
                ("tracking", tracking), ("email", email), ("apartment", apartment), ("externalId", externalId),
                ("unit", unit), ("state", state), ("from", from), ("to", to),
            ].filter { !$0.1.isEmpty }.map { URLQueryItem(name: $0.0, value: $0.1) }
        }

        /// The filter, or the reason the form cannot be searched.
        func filter(clock: SiteClock, units: Set<String>) throws(ParcelActionRefusal) -> ParcelFilter {
            var f = ParcelFilter()
            func value(_ text: String) -> String? { text.isEmpty ? nil : text }
            if let t = value(tracking) {
                guard (1...64).contains(t.utf8.count), t.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
                    throw ParcelActionRefusal(
                        message: "A tracking number is 1 to 64 letters, digits and marks, without spaces.")
                }
                f.trackingNumber = t
            }
            if let e = value(email) {
                guard e.unicodeScalars.count <= 254, e.contains("@") else {
                    throw ParcelActionRefusal(
                        message: "Give the recipient's whole email address, such as name@example.org.")
                }
                f.email = e
            }
            if let a = value(apartment) {
                guard a.unicodeScalars.count <= RecipientRules.maxApartmentLength else {
                    throw ParcelActionRefusal(
                        message: "An apartment is at most \(RecipientRules.maxApartmentLength) characters.")
                }
                f.apartment = a
            }
            if let x = value(externalId) {
                guard x.unicodeScalars.count <= RecipientRules.maxExternalIdLength else {
                    throw ParcelActionRefusal(
                        message: "An external id is at most \(RecipientRules.maxExternalIdLength) characters.")
                }
                f.externalId = x
            }
            if let u = value(unit) {
                guard let id = EntityID.parse(u), units.contains(id) else {
                    throw ParcelActionRefusal(message: "Choose a unit from the list.")
                }
                f.unitId = id
            }
            if let s = value(state) {
                guard let state = ParcelState(rawValue: s) else {
                    throw ParcelActionRefusal(message: "Choose a state from the list.")
                }
                f.state = state
            }
            if let text = value(from) {
                guard let start = clock.startOfDay(text) else {
                    throw ParcelActionRefusal(message: "“From” must be a date written as YYYY-MM-DD.")
                }
                f.from = start
            }
            if let text = value(to) {
                guard let start = clock.startOfDay(text) else {
                    throw ParcelActionRefusal(message: "“To” must be a date written as YYYY-MM-DD.")
                }
                // The whole of the last day counts (a day of a change of clocks too).
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = clock.zone
                let next = calendar.date(byAdding: .day, value: 1, to: Date(millisecondsSince1970: start))
                f.before = next?.millisecondsSince1970 ?? start + Milliseconds.day
            }
            if let a = f.from, let b = f.before, a >= b {
                throw ParcelActionRefusal(message: "“From” must not be after “To”.")
            }
            return f
        }
    }

    func searchPage(_ req: Request, _ call: PortalCall) async throws -> Response {
        let s = try session(call)
        let p = s.principal
        let parameters = req.uri.queryParameters
        let form = SearchForm { parameters.get($0) }
        let org = p.organizationId.idString
        let (sites, units) = try await desk.store.read { s in
            (try await s.sitesRecords(organization: org), try await s.unitNames(organization: org))
        }
        let mySites = sites.filter { Scope.covers(p, siteId: $0.id) }
        let myUnits = units.filter { u in mySites.contains { $0.id == u.siteId } }
        // Dates are read in the sites' time zone when they share one, else in UTC.
        let zones = Set(mySites.map(\.timeZone))
        let clock = SiteClock(timeZone: zones.count == 1 ? zones.first : "UTC")
        let siteNames = Dictionary(uniqueKeysWithValues: mySites.map { ($0.id, $0.name) })
        let zoneOf = Dictionary(uniqueKeysWithValues: mySites.map { ($0.id, SiteClock(timeZone: $0.timeZone)) })
        var values: [String: Any] = [
            "form": [
                "tracking": form.tracking, "email": form.email, "apartment": form.apartment,
                "externalId": form.externalId, "from": form.from, "to": form.to,
            ],
            "unitOptions": myUnits.map { u -> [String: Any] in
                let name = mySites.count > 1 ? "\(u.name) (\(siteNames[u.siteId] ?? "site"))" : u.name
                return ["value": u.id, "name": name, "selected": u.id == form.unit]
            },
            "stateOptions": ParcelState.allCases.map {
                [
                    "value": $0.rawValue, "name": $0.rawValue.replacingOccurrences(of: "_", with: " "),
                    "selected": $0.rawValue == form.state,
                ] as [String: Any]
            },
            "zone": clock.zone.identifier,
        ]
        let filter: ParcelFilter
        do {
            filter = try form.filter(clock: clock, units: Set(myUnits.map(\.id)))
        } catch {
            values["error"] = error.message
            return pages.page(
                "parcels", title: "Parcels", session: s, formToken: call.formToken, values, status: .badRequest)
        }
        let cursor = parameters.get("cursor").flatMap { $0.isEmpty ? nil : $0 }
        let page: ParcelSearchPage
        do {
            page = try await finder.search(p, filter, cursor: cursor, limit: Self.pageSize)
        } catch DomainError.invalidRequest(let m) {
            values["error"] = m
            return pages.page(
                "parcels", title: "Parcels", session: s, formToken: call.formToken, values, status: .badRequest)
        }
        values["parcels"] = page.parcels.map { row -> [String: Any] in
            let c = zoneOf[row.parcel.siteId] ?? clock
            return [
                "id": row.parcel.id, "tracking": row.parcel.trackingNumber, "created": c.text(row.parcel.createdAt),
                "state": row.parcel.state.rawValue.replacingOccurrences(of: "_", with: " "),
                "stateClass": row.parcel.state.rawValue,
                "unit": row.unitName, "compartment": row.compartmentLabel ?? "—", "apartment": row.apartment ?? "—",
                "deadline": row.parcel.expiresAt.map(c.text) ?? "—",
            ]
        }
        values["hasParcels"] = !page.parcels.isEmpty
        values["searched"] = !form.items.isEmpty || cursor != nil
        if let next = page.nextCursor {
            var c = URLComponents()
            c.path = "/admin/parcels"
            c.queryItems = form.items + [URLQueryItem(name: "cursor", value: next)]
            values["older"] = c.string ?? "/admin/parcels"
        }
        return pages.page("parcels", title: "Parcels", session: s, formToken: call.formToken, values)
    }

    func parcelPage(
        _ call: PortalCall, parcelId: String, notice: String? = nil, error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let s = try session(call)
        let p = s.principal
        let d = try await finder.dossier(p, parcelId: parcelId)
        let parcel = d.parcel
        let clock = SiteClock(timeZone: d.site?.timeZone)
        let label = d.compartment?.label
        let role = p.role
        let state = parcel.state
        var facts: [[String: String]] = [
            ["name": "Tracking number", "value": parcel.trackingNumber],
            ["name": "State", "value": state.rawValue.replacingOccurrences(of: "_", with: " ")],
            ["name": "Site", "value": d.site?.name ?? "—"],
            ["name": "Unit", "value": d.unit?.name ?? "—"],
            ["name": "Compartment", "value": label.map { "\($0) (\(parcel.size.rawValue))" } ?? "—"],
            ["name": "Recipient", "value": d.recipient.map(Self.recipientText) ?? "erased"],
            ["name": "Announced or dropped off", "value": clock.text(parcel.createdAt)],
        ]
        for (name, at) in [
            ("Deposited", parcel.depositedAt), ("Pickup deadline", parcel.expiresAt), ("Picked up", parcel.pickedUpAt),
            ("Expired", parcel.expiredAt), ("Removed", parcel.removedAt), ("Cancelled", parcel.cancelledAt),
        ] {
            if let at { facts.append(["name": name, "value": clock.text(at)]) }
        }
        let needsCode = !gate.staff.isSteppedUp(s)
        var values: [String: Any] = [
            "id": parcel.id, "facts": facts, "zone": clock.zone.identifier,
            "timeline": d.timeline.map { entry -> [String: Any] in
                let e = entry.event
                var detail = e.detailMap
                detail[EvidenceBundle.evidenceKey] = nil
                let door =
                    e.compartmentId.map {
                        $0 == d.compartment?.id ? (label ?? String($0.prefix(8))) : String($0.prefix(8))
                    }
                    ?? "—"
                return [
                    "eventId": e.id, "at": clock.text(e.occurredAt), "type": e.type, "outcome": e.outcome,
                    "failed": e.outcome != AuditOutcome.success.rawValue,
                    "actor": Self.actorText(e, unit: d.unit), "door": door,
                    "detail": detail.sorted { $0.key < $1.key }.map { ["key": $0.key, "value": $0.value] },
                    "hasDetail": !detail.isEmpty,
                    "stills": entry.stills.map {
                        [
                            "url": "/admin/parcels/\(parcel.id)/stills/\($0)",
                            "alt": "Still taken at the unit: \(e.type) at \(clock.text(e.occurredAt))",
                        ]
                    },
                    "proof": "/admin/parcels/\(parcel.id)/events/\(e.id)/proof",
                ]
            },
            "hasTimeline": !d.timeline.isEmpty,
        ]
        let canReassign =
            AccessPolicy.allows(role, .reassignParcel) && [.announced, .reserved, .deposited].contains(state)
        let canExtend = AccessPolicy.allows(role, .extendParcel) && state == .deposited
        let canRemove = AccessPolicy.allows(role, .removeParcel) && state == .expired
        values["canReassign"] = canReassign
        values["canExtend"] = canExtend
        values["canRemove"] = canRemove
        values["hasActions"] = canReassign || canExtend || canRemove
        values["stepCode"] = ["needsCode": needsCode, "id": "reassign"] as [String: Any]
        values["extendDays"] = [
            "min": PickupDeadline.extensionDays.lowerBound, "max": PickupDeadline.extensionDays.upperBound,
        ]
        if canExtend, let latest = desk.latestDeadline(parcel, site: d.site) {
            values["latestDeadline"] = clock.text(latest)
        }
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return pages.page(
            "parcel", title: "Parcel \(parcel.trackingNumber)", session: s, formToken: call.formToken, values,
            status: status)
    }

    static func recipientText(_ r: Recipient) -> String {
        var parts = [r.name ?? "(no name)"]
        if let email = r.email { parts.append(email) }
        if let apartment = r.apartment { parts.append("apartment \(apartment)") }
        if !r.active { parts.append("deactivated") }
        return parts.joined(separator: " · ")
    }

    /// Who did it: the kind of actor, the unit's name for the parcel's own unit, or the first characters of its
    /// pseudonymous id.
    static func actorText(_ e: StoredAuditEvent, unit: UnitRecord?) -> String {
        let kind = e.actorKind
        guard let id = e.actorId, !id.isEmpty else { return kind }
        if kind == "device", id == unit?.id { return "unit \(unit?.name ?? "")" }
        let role = e.actorRole.map { $0 == kind ? "" : " (\($0))" } ?? ""
        return "\(kind)\(role) \(id.prefix(8))"
    }
}
