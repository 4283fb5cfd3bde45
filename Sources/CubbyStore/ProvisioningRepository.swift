import CubbyCore
import Foundation
import SQLKit

/// Sites, units, compartments and carriers as they are created, changed and retired.
extension StoreSession {
    // MARK: sites

    /// The site, locked until the transaction ends (PostgreSQL).
    public func lockSite(_ id: String) async throws -> SiteRecord? {
        try await one("SELECT * FROM sites WHERE id = \(bind: id)\(forUpdate)", as: SiteRecord.self)
    }

    public func saveSite(_ r: SiteRecord) async throws {
        try await sql.raw(
            """
            UPDATE sites SET name = \(bind: r.name), address = \(bind: r.address), time_zone = \(bind: r.timeZone),
              languages = \(bind: r.languages), reminder_hours = \(bind: r.reminderHours),
              quiet_hours = \(bind: r.quietHours),
              pickup_lifetime_seconds = \(bind: r.pickupLifetimeSeconds), reservation_seconds = \(bind: r.reservationSeconds),
              updated_at = \(bind: r.updatedAt)
            WHERE id = \(bind: r.id)
            """
        ).run()
    }

    public func siteCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM sites").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    // MARK: units and compartments

    public func units(site: String) async throws -> [UnitRecord] {
        try await all("SELECT * FROM units WHERE site_id = \(bind: site) ORDER BY name, id", as: UnitRecord.self)
    }

    public func renameUnit(_ id: String, name: String, at: Int64) async throws {
        try await sql.raw("UPDATE units SET name = \(bind: name), updated_at = \(bind: at) WHERE id = \(bind: id)")
            .run()
    }

    public func markUnitDecommissioned(_ id: String, at: Int64) async throws {
        try await sql.raw(
            "UPDATE units SET decommissioned_at = \(bind: at), updated_at = \(bind: at) WHERE id = \(bind: id)"
        ).run()
    }

    /// Parcels that still hold a compartment of the unit: reserved, deposited or expired.
    public func parcelsHeld(unit: String) async throws -> Int {
        try await sql.raw(
            "SELECT COUNT(*) AS n FROM parcels WHERE unit_id = \(bind: unit) AND state IN ('reserved','deposited','expired')"
        ).first()?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Revokes every live device credential of the unit; returns the ids revoked.
    public func revokeDeviceCredentials(unit: String, at: Int64) async throws -> [String] {
        try await sql.raw(
            """
            UPDATE credentials SET revoked_at = \(bind: at)
            WHERE unit_id = \(bind: unit) AND kind = 'device' AND revoked_at IS NULL RETURNING id
            """
        ).all().map { try $0.decode(column: "id", as: String.self) }
    }

    /// Ends the unit's enrollment codes not yet used; returns how many.
    public func endUnitEnrollmentCodes(unit: String, at: Int64) async throws -> Int {
        try await sql.raw(
            """
            UPDATE unit_enrollment_codes SET used_at = \(bind: at)
            WHERE unit_id = \(bind: unit) AND used_at IS NULL RETURNING code_hash
            """
        ).all().count
    }

    /// Saves a compartment's size, inner dimensions and accessible flag.
    public func saveCompartmentSpec(_ c: CompartmentRecord) async throws {
        try await sql.raw(
            """
            UPDATE compartments SET size = \(bind: c.size.rawValue), width_mm = \(bind: c.widthMm),
              height_mm = \(bind: c.heightMm), depth_mm = \(bind: c.depthMm), accessible = \(bind: c.accessible)
            WHERE id = \(bind: c.id)
            """
        ).run()
    }

    public func compartmentCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM compartments").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func unitCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM units").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    // MARK: carriers

    public func carrier(_ id: String, lock: Bool = false) async throws -> CarrierRecord? {
        try await one("SELECT * FROM carriers WHERE id = \(bind: id)\(lock ? forUpdate : "")", as: CarrierRecord.self)
    }

    public func saveCarrier(_ r: CarrierRecord) async throws {
        try await sql.raw(
            """
            UPDATE carriers SET name = \(bind: r.name), deactivated_at = \(bind: r.deactivatedAt),
              updated_at = \(bind: r.updatedAt)
            WHERE id = \(bind: r.id)
            """
        ).run()
    }

    /// Replaces the sites a carrier serves.
    public func setCarrierSites(_ carrier: String, sites: [String]) async throws {
        try await sql.raw("DELETE FROM carrier_sites WHERE carrier_id = \(bind: carrier)").run()
        for site in sites { try await linkCarrier(carrier, site: site) }
    }

    /// Revokes every live courier and carrier credential of the carrier; returns the ids revoked.
    public func revokeCarrierCredentials(carrier: String, at: Int64) async throws -> [String] {
        try await sql.raw(
            """
            UPDATE credentials SET revoked_at = \(bind: at)
            WHERE carrier_id = \(bind: carrier) AND kind IN ('courier','carrier') AND revoked_at IS NULL RETURNING id
            """
        ).all().map { try $0.decode(column: "id", as: String.self) }
    }

    public func carrierCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM carriers").first()?.decode(column: "n", as: Int.self) ?? 0
    }
}
