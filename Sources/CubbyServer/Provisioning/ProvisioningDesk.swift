import CubbyCore
import CubbyStore
import Foundation
import Logging

/// Sites, locker units, compartments and carriers: created, changed and retired by the API and the command line
/// through this one desk. Each change and its audit event share one transaction; every check is in
/// `ProvisioningRules`; ids outside the caller's reach answer "not found".
public struct ProvisioningDesk: Sendable {
    let ledger: Ledger
    let hub: EdgeHub
    let logger: Logger

    public init(ledger: Ledger, hub: EdgeHub, logger: Logger) {
        self.ledger = ledger
        self.hub = hub
        self.logger = logger
    }

    var store: any SQLStore { ledger.store }
    var clock: ServerClock { ledger.clock }

    func require(_ p: Principal, _ action: Action) throws {
        guard AccessPolicy.allows(p.role, action) else {
            throw DomainError.forbidden("\(p.role.rawValue) may not \(action.rawValue)")
        }
    }

    func audit(
        _ s: StoreSession, _ type: AuditEventType, actor: Actor, organization: String, site: String? = nil,
        unit: String? = nil, compartment: String? = nil, detail: [String: String] = [:]
    ) async throws {
        try await s.appendAudit(
            AuditRecord(
                occurredAt: clock.now(), event: type, actor: actor, organizationId: EntityID.uuid(organization),
                siteId: EntityID.uuid(site), unitId: EntityID.uuid(unit), compartmentId: EntityID.uuid(compartment),
                detail: detail))
    }

    func siteInScope(_ s: StoreSession, _ id: String, _ p: Principal, lock: Bool = false) async throws -> SiteRecord {
        try await ledger.siteInScope(s, id, p, lock: lock)
    }

    // MARK: sites

    /// What a new site is; nil fields take their defaults.
    public struct SiteInput: Sendable {
        public var name: String
        public var address: String
        public var timeZone: String
        public var languages: [String]?
        public var pickupLifetimeSeconds: Int?
        public var reservationSeconds: Int?
        public var reminderHours: [Int]?
        /// `HH:MM-HH:MM`; `.some(nil)` for none, nil for the default.
        public var quietHours: String??

        public init(
            name: String, address: String, timeZone: String, languages: [String]? = nil,
            pickupLifetimeSeconds: Int? = nil, reservationSeconds: Int? = nil, reminderHours: [Int]? = nil,
            quietHours: String?? = nil
        ) {
            self.name = name
            self.address = address
            self.timeZone = timeZone
            self.languages = languages
            self.pickupLifetimeSeconds = pickupLifetimeSeconds
            self.reservationSeconds = reservationSeconds
            self.reminderHours = reminderHours
            self.quietHours = quietHours
        }
    }

    /// A change to a site: nil fields stay as they are.
    public struct SiteChange: Sendable {
        public var name: String?
        public var address: String?
        public var timeZone: String?
        public var languages: [String]?
        public var pickupLifetimeSeconds: Int?
        public var reservationSeconds: Int?
        public var reminderHours: [Int]?
        /// `HH:MM-HH:MM`; `.some(nil)` for none, nil to keep.
        public var quietHours: String??

        public init(
            name: String? = nil, address: String? = nil, timeZone: String? = nil, languages: [String]? = nil,
            pickupLifetimeSeconds: Int? = nil, reservationSeconds: Int? = nil, reminderHours: [Int]? = nil,
            quietHours: String?? = nil
        ) {
            self.name = name
            self.address = address
            self.timeZone = timeZone
            self.languages = languages
            self.pickupLifetimeSeconds = pickupLifetimeSeconds
            self.reservationSeconds = reservationSeconds
            self.reminderHours = reminderHours
            self.quietHours = quietHours
        }

        var isEmpty: Bool {
            name == nil && address == nil && timeZone == nil && languages == nil && pickupLifetimeSeconds == nil
                && reservationSeconds == nil && reminderHours == nil && quietHours == nil
        }
    }

    /// Creates a site in the principal's organization (organization-wide power).
    public func createSite(_ p: Principal, actor: Actor? = nil, _ input: SiteInput) async throws -> SiteRecord {
        try require(p, .createSite)
        let lifetime = try ProvisioningRules.pickupLifetime(
            input.pickupLifetimeSeconds ?? SiteSettings.defaultPickupLifetimeSeconds)
        let reminders =
            try input.reminderHours.map { try ProvisioningRules.reminders($0, lifetimeSeconds: lifetime) }
            ?? SiteSettings.defaultReminderHours.filter { $0 * 3_600 < lifetime }
        let at = clock.now().millisecondsSince1970
        let site = SiteRecord(
            id: EntityID.make(), organizationId: p.organizationId.idString,
            name: try ProvisioningRules.name(input.name),
            pickupLifetimeSeconds: Int64(lifetime),
            reservationSeconds: Int64(
                try ProvisioningRules.reservation(input.reservationSeconds ?? SiteSettings.defaultReservationSeconds)),
            createdAt: at, address: try ProvisioningRules.address(input.address),
            timeZone: try ProvisioningRules.timeZone(input.timeZone),
            languages: try ProvisioningRules.languages(input.languages ?? SiteSettings.defaultLanguages).joined(
                separator: ","),
            reminderHours: reminders.map(String.init).joined(separator: ","),
            quietHours: try input.quietHours.map(ProvisioningRules.quietHours) ?? QuietHours.standard.text)
        try await ledger.write { s in
            try await s.insertSite(site)
            try await audit(
                s, .siteCreated, actor: actor ?? p.actor, organization: site.organizationId, site: site.id,
                detail: ["timeZone": site.timeZone, "languages": site.languages])
        }
        return site
    }

    /// The sites the principal reaches, by name.
    public func sites(_ p: Principal) async throws -> [SiteRecord] {
        try require(p, .readSite)
        return try await store.read { s in
            try await s.sitesRecords(organization: p.organizationId.idString).filter {
                p.organizationWide || Scope.covers(p, siteId: $0.id)
            }
        }
    }

    public func site(_ p: Principal, id: String) async throws -> SiteRecord {
        try require(p, .readSite)
        return try await store.read { s in try await siteInScope(s, id, p) }
    }

    /// Changes a site's settings; the result is checked as a whole (reminders against the new lifetime).
    public func updateSite(_ p: Principal, actor: Actor? = nil, id: String, _ change: SiteChange) async throws
        -> SiteRecord
    {
        try require(p, .updateSite)
        guard !change.isEmpty else { throw ProvisioningRules.bad("send at least one field to change") }
        let name = try change.name.map(ProvisioningRules.name)
        let address = try change.address.map(ProvisioningRules.address)
        let zone = try change.timeZone.map(ProvisioningRules.timeZone)
        let languages = try change.languages.map(ProvisioningRules.languages)
        let lifetime = try change.pickupLifetimeSeconds.map(ProvisioningRules.pickupLifetime)
        let reservation = try change.reservationSeconds.map(ProvisioningRules.reservation)
        let quiet = try change.quietHours.map(ProvisioningRules.quietHours)
        let at = clock.now().millisecondsSince1970
        return try await ledger.write { s in
            var site = try await siteInScope(s, id, p, lock: true)
            var changed = ChangedFields()
            changed.set(&site.name, to: name, "name")
            changed.set(&site.address, to: address, "address")
            changed.set(&site.timeZone, to: zone, "timeZone")
            changed.set(&site.languages, to: languages?.joined(separator: ","), "languages")
            changed.set(&site.pickupLifetimeSeconds, to: lifetime.map(Int64.init), "pickupLifetimeSeconds")
            changed.set(&site.reservationSeconds, to: reservation.map(Int64.init), "reservationSeconds")
            changed.set(&site.quietHours, to: quiet, "quietHours")
            let hours = try ProvisioningRules.reminders(
                change.reminderHours ?? ProvisioningRules.hours(site.reminderHours),
                lifetimeSeconds: Int(site.pickupLifetimeSeconds))
            changed.set(&site.reminderHours, to: hours.map(String.init).joined(separator: ","), "reminderHours")
            guard !changed.isEmpty else { return site }
            site.updatedAt = at
            try await s.saveSite(site)
            try await audit(
                s, .siteUpdated, actor: actor ?? p.actor, organization: site.organizationId, site: site.id,
                detail: ["fields": changed.names.joined(separator: ",")])
            return site
        }
    }

    // MARK: units

    /// A unit with its compartments.
    public struct BuiltUnit: Sendable {
        public var unit: UnitRecord
        public var compartments: [CompartmentRecord]
    }

    /// Creates a locker unit at a site from a layout; `name` (the CLI's `--name`) replaces the layout's own.
    public func createUnit(
        _ p: Principal, actor: Actor? = nil, siteId: String, layout: UnitLayout, name: String? = nil
    ) async throws -> BuiltUnit {
        try require(p, .createUnit)
        guard let given = name ?? layout.name else { throw ProvisioningRules.bad("missing field: name") }
        let unitName = try ProvisioningRules.name(given)
        let planned = try ProvisioningRules.plan(layout)
        let at = clock.now().millisecondsSince1970
        return try await ledger.write { s in
            let site = try await siteInScope(s, siteId, p)
            let unit = UnitRecord(
                id: EntityID.make(), organizationId: site.organizationId, siteId: site.id, name: unitName, createdAt: at
            )
            let compartments = planned.map {
                CompartmentRecord(
                    id: EntityID.make(), unitId: unit.id, label: $0.label, size: $0.size, inner: $0.inner,
                    accessible: $0.accessible, position: ($0.column, $0.row, $0.rows))
            }
            try await s.insertUnit(unit)
            try await s.insertCompartments(compartments)
            var bySize: [String: String] = [:]
            for size in SizeClass.allCases {
                bySize["size" + size.rawValue] = String(compartments.filter { $0.size == size }.count)
            }
            try await audit(
                s, .unitCreated, actor: actor ?? p.actor, organization: unit.organizationId, site: site.id,
                unit: unit.id,
                detail: bySize.merging(
                    [
                        "columns": String(layout.columns.count), "compartments": String(compartments.count),
                        "accessible": String(compartments.filter(\.accessible).count),
                    ], uniquingKeysWith: { a, _ in a }))
            return BuiltUnit(unit: unit, compartments: try await s.compartments(unit: unit.id))
        }
    }

    func unitInScope(_ s: StoreSession, _ id: String, _ p: Principal) async throws -> UnitRecord {
        guard let uuid = EntityID.parse(id) else { throw DomainError.notFound("unit \(id) not found") }
        let unit = try await ledger.unitInScope(s, uuid, p, lock: true)
        guard unit.decommissionedAt == nil else { throw ProvisioningError.unitDecommissioned }
        return unit
    }

    public func renameUnit(_ p: Principal, actor: Actor? = nil, unitId: String, name raw: String) async throws
        -> UnitRecord
    {
        try require(p, .renameUnit)
        let name = try ProvisioningRules.name(raw)
        let at = clock.now().millisecondsSince1970
        return try await ledger.write { s in
            var unit = try await unitInScope(s, unitId, p)
            guard unit.name != name else { return unit }
            try await s.renameUnit(unit.id, name: name, at: at)
            unit.name = name
            unit.updatedAt = at
            try await ledger.audit(s, .unitRenamed, actor: actor ?? p.actor, unit: unit)
            return unit
        }
    }

    /// Retires an empty unit: it takes no more parcels, its device credentials and pending enrollment codes stop
    /// working, and a controller connected to this process is cut off.
    public func decommissionUnit(_ p: Principal, actor: Actor? = nil, unitId: String) async throws -> UnitRecord {
        try require(p, .decommissionUnit)
        let at = clock.now().millisecondsSince1970
        let unit = try await ledger.write { s -> UnitRecord in
            var unit = try await unitInScope(s, unitId, p)
            let held = try await s.parcelsHeld(unit: unit.id)
            let busy = try await s.compartments(unit: unit.id).contains {
                $0.parcelId != nil || $0.state == .reserved || $0.state == .occupied
            }
            guard held == 0, !busy else { throw ProvisioningError.unitNotEmpty }
            try await s.markUnitDecommissioned(unit.id, at: at)
            let revoked = try await s.revokeDeviceCredentials(unit: unit.id, at: at)
            let codes = try await s.endUnitEnrollmentCodes(unit: unit.id, at: at)
            unit.decommissionedAt = at
            unit.updatedAt = at
            try await ledger.audit(
                s, .unitDecommissioned, actor: actor ?? p.actor, unit: unit,
                detail: [
                    "credentialsRevoked": revoked.sorted().joined(separator: ","),
                    "enrollmentCodesEnded": String(codes),
                ])
            return unit
        }
        hub.end(unitId: unit.id)
        return unit
    }

    /// A change to an empty compartment: nil fields stay as they are.
    public struct CompartmentChange: Sendable {
        public var size: String?
        public var widthMm: Int?
        public var heightMm: Int?
        public var depthMm: Int?
        public var accessible: Bool?

        public init(
            size: String? = nil, widthMm: Int? = nil, heightMm: Int? = nil, depthMm: Int? = nil,
            accessible: Bool? = nil
        ) {
            self.size = size
            self.widthMm = widthMm
            self.heightMm = heightMm
            self.depthMm = depthMm
            self.accessible = accessible
        }
    }

    public func changeCompartment(
        _ p: Principal, actor: Actor? = nil, unitId: String, compartmentId: String, _ change: CompartmentChange
    ) async throws -> CompartmentRecord {
        try require(p, .changeCompartment)
        guard
            change.size != nil || change.widthMm != nil || change.heightMm != nil || change.depthMm != nil
                || change.accessible != nil
        else { throw ProvisioningRules.bad("send at least one field to change") }
        let size = try change.size.map { try ProvisioningRules.size($0, "compartment") }
        let b = UnitLayoutBounds.self
        let width = try change.widthMm.map { try ProvisioningRules.dimension($0, "widthMm", b.widthMm) }
        let height = try change.heightMm.map { try ProvisioningRules.dimension($0, "heightMm", b.heightMm) }
        let depth = try change.depthMm.map { try ProvisioningRules.dimension($0, "depthMm", b.depthMm) }
        return try await ledger.write { s in
            let unit = try await unitInScope(s, unitId, p)
            guard let cid = EntityID.parse(compartmentId), var c = try await s.compartment(cid), c.unitId == unit.id
            else { throw DomainError.notFound("compartment \(compartmentId) not found") }
            guard c.parcelId == nil, c.state == .available || c.state == .outOfService else {
                throw ProvisioningError.compartmentNotEmpty
            }
            var detail: [String: String] = [:]
            if let size, size != c.size {
                detail["size"] = "\(c.size.rawValue)>\(size.rawValue)"
                c.size = size
            }
            for (key, new, old) in [
                ("widthMm", width, c.widthMm), ("heightMm", height, c.heightMm), ("depthMm", depth, c.depthMm),
            ] {
                if let new, Int64(new) != old { detail[key] = "\(old)>\(new)" }
            }
            c.widthMm = width.map(Int64.init) ?? c.widthMm
            c.heightMm = height.map(Int64.init) ?? c.heightMm
            c.depthMm = depth.map(Int64.init) ?? c.depthMm
            if let accessible = change.accessible, accessible != c.accessible {
                detail["accessible"] = "\(c.accessible)>\(accessible)"
                c.accessible = accessible
            }
            guard !detail.isEmpty else { return c }
            try await s.saveCompartmentSpec(c)
            try await ledger.audit(
                s, .compartmentChanged, actor: actor ?? p.actor, unit: unit, compartmentId: c.id, detail: detail)
            return c
        }
    }

    // MARK: carriers

    /// A carrier with the sites it serves that the caller reaches.
    public struct CarrierView: Sendable {
        public var carrier: CarrierRecord
        public var siteIds: [String]
    }

    func visibleSites(_ p: Principal) -> (String) -> Bool {
        let mine = Set(p.siteIds.map(\.idString))
        let wide = p.organizationWide
        return { wide || mine.contains($0) }
    }

    func carrierInScope(_ s: StoreSession, _ id: String, _ p: Principal, lock: Bool) async throws -> CarrierView {
        guard let uuid = EntityID.parse(id), let c = try await s.carrier(uuid, lock: lock),
            c.organizationId == p.organizationId.idString
        else { throw DomainError.notFound("carrier \(id) not found") }
        let visible = visibleSites(p)
        let sites = try await s.carrierSites(c.id).sorted()
        guard p.organizationWide || sites.contains(where: visible) else {
            throw DomainError.notFound("carrier \(id) not found")
        }
        return CarrierView(carrier: c, siteIds: sites.filter(visible))
    }

    public func createCarrier(_ p: Principal, actor: Actor? = nil, name raw: String, siteIds: [String]) async throws
        -> CarrierView
    {
        try require(p, .createCarrier)
        let name = try ProvisioningRules.name(raw)
        let at = clock.now().millisecondsSince1970
        let org = p.organizationId.idString
        return try await ledger.write { s in
            let sites = try ProvisioningRules.siteIds(
                siteIds, organizationSites: Set(try await s.sites(organization: org)), visible: visibleSites(p))
            let carrier = CarrierRecord(id: EntityID.make(), organizationId: org, name: name, createdAt: at)
            try await s.insertCarrier(carrier)
            try await s.setCarrierSites(carrier.id, sites: sites)
            try await audit(
                s, .carrierCreated, actor: actor ?? p.actor, organization: org,
                detail: ["carrier": carrier.id, "sites": sites.sorted().joined(separator: ",")])
            return CarrierView(carrier: carrier, siteIds: sites.sorted())
        }
    }

    /// The carriers the principal reaches (an admin: those serving one of its sites), by name.
    public func carriers(_ p: Principal) async throws -> [CarrierView] {
        try require(p, .readCarrier)
        return try await store.read { s in
            var out: [CarrierView] = []
            for c in try await s.carriers(organization: p.organizationId.idString) {
                // Carriers serving none of the caller's sites are left out; any other error fails the read.
                do { out.append(try await carrierInScope(s, c.id, p, lock: false)) } catch DomainError.notFound {}
            }
            return out
        }
    }

    public func carrier(_ p: Principal, id: String) async throws -> CarrierView {
        try require(p, .readCarrier)
        return try await store.read { s in try await carrierInScope(s, id, p, lock: false) }
    }

    public func updateCarrier(
        _ p: Principal, actor: Actor? = nil, id: String, name raw: String?, siteIds: [String]?
    ) async throws -> CarrierView {
        try require(p, .updateCarrier)
        guard raw != nil || siteIds != nil else { throw ProvisioningRules.bad("send at least one field to change") }
        let name = try raw.map(ProvisioningRules.name)
        let at = clock.now().millisecondsSince1970
        return try await ledger.write { s in
            var view = try await carrierInScope(s, id, p, lock: true)
            guard view.carrier.deactivatedAt == nil else { throw ProvisioningError.carrierDeactivated }
            let org = view.carrier.organizationId
            var detail: [String: String] = ["carrier": view.carrier.id]
            if let name, name != view.carrier.name {
                view.carrier.name = name
                detail["name"] = "changed"
            }
            if let siteIds {
                let sites = try ProvisioningRules.siteIds(
                    siteIds, organizationSites: Set(try await s.sites(organization: org)), visible: visibleSites(p)
                ).sorted()
                if sites != view.siteIds {
                    try await s.setCarrierSites(view.carrier.id, sites: sites)
                    detail["fromSites"] = view.siteIds.joined(separator: ",")
                    detail["toSites"] = sites.joined(separator: ",")
                    view.siteIds = sites
                }
            }
            guard detail.count > 1 else { return view }
            view.carrier.updatedAt = at
            try await s.saveCarrier(view.carrier)
            try await audit(s, .carrierUpdated, actor: actor ?? p.actor, organization: org, detail: detail)
            return view
        }
    }

    /// Deactivates a carrier: its courier and carrier credentials are revoked, so it neither announces nor drops
    /// off; it stays in the parcels' history.
    public func deactivateCarrier(_ p: Principal, actor: Actor? = nil, id: String) async throws -> CarrierView {
        try require(p, .deactivateCarrier)
        let at = clock.now().millisecondsSince1970
        return try await ledger.write { s in
            var view = try await carrierInScope(s, id, p, lock: true)
            guard view.carrier.deactivatedAt == nil else { throw ProvisioningError.carrierDeactivated }
            view.carrier.deactivatedAt = at
            view.carrier.updatedAt = at
            try await s.saveCarrier(view.carrier)
            let revoked = try await s.revokeCarrierCredentials(carrier: view.carrier.id, at: at)
            try await audit(
                s, .carrierDeactivated, actor: actor ?? p.actor, organization: view.carrier.organizationId,
                detail: ["carrier": view.carrier.id, "credentialsRevoked": revoked.sorted().joined(separator: ",")])
            return view
        }
    }
}
