import CubbyAudit
import CubbyCore
import Foundation
import SQLKit

/// Reads and writes of the locker world. Every method runs on the caller's session, so a flow's
/// changes and its audit events share one transaction.
extension StoreSession {
    var forUpdate: SQLQueryString { kind == .postgres ? " FOR UPDATE" : "" }

    func insert(_ table: String, _ model: some Encodable & Sendable) async throws {
        try await sql.insert(into: table).model(model, keyEncodingStrategy: ColumnNames.encoding).run()
    }

    func one<T: Decodable>(_ query: SQLQueryString, as: T.Type) async throws -> T? {
        try await sql.raw(query).first(decoding: T.self, keyDecodingStrategy: ColumnNames.decoding)
    }

    func all<T: Decodable>(_ query: SQLQueryString, as: T.Type) async throws -> [T] {
        try await sql.raw(query).all(decoding: T.self, keyDecodingStrategy: ColumnNames.decoding)
    }

    // MARK: organizations, sites, units, compartments

    public func insertOrganization(id: String, name: String, at: Int64) async throws {
        try await sql.raw(
            "INSERT INTO organizations (id, name, created_at) VALUES (\(bind: id), \(bind: name), \(bind: at))"
        ).run()
    }

    public func organizationIds() async throws -> [String] {
        try await sql.raw("SELECT id FROM organizations ORDER BY created_at, id").all().map {
            try $0.decode(column: "id", as: String.self)
        }
    }

    /// Makes transactions that create organizations wait for each other until commit (PostgreSQL; SQLite runs one
    /// write transaction at a time anyway), so "only if there is none yet" holds across processes.
    public func serializeOrganizationCreation() async throws {
        if kind == .postgres { try await exec("SELECT pg_advisory_xact_lock(7423003)") }
    }

    /// Every organization's id and name, oldest first.
    public func organizations() async throws -> [(id: String, name: String)] {
        try await sql.raw("SELECT id, name FROM organizations ORDER BY created_at, id").all().map {
            (try $0.decode(column: "id", as: String.self), try $0.decode(column: "name", as: String.self))
        }
    }

    public func organizationCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM organizations").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    public func insertSite(_ r: SiteRecord) async throws { try await insert("sites", r) }
    public func site(_ id: String) async throws -> SiteRecord? {
        try await one("SELECT * FROM sites WHERE id = \(bind: id)", as: SiteRecord.self)
    }

    public func insertUnit(_ r: UnitRecord) async throws { try await insert("units", r) }
    public func unit(_ id: String) async throws -> UnitRecord? {
        try await one("SELECT * FROM units WHERE id = \(bind: id)", as: UnitRecord.self)
    }
    /// The unit, locked until the transaction ends (PostgreSQL); serializes drop-offs and PIN checks per unit.
    public func lockUnit(_ id: String) async throws -> UnitRecord? {
        try await one("SELECT * FROM units WHERE id = \(bind: id)\(forUpdate)", as: UnitRecord.self)
    }
    public func savePinEntry(_ u: UnitRecord) async throws {
        try await sql.raw(
            """
            UPDATE units SET pin_consecutive_failures = \(bind: u.pinConsecutiveFailures),
              pin_locked_until = \(bind: u.pinLockedUntil), pin_suspended = \(bind: u.pinSuspended),
              pin_last_failure_at = \(bind: u.pinLastFailureAt)
            WHERE id = \(bind: u.id)
            """
        ).run()
    }

    public func insertCompartment(_ r: CompartmentRecord) async throws { try await insert("compartments", r) }
    public func compartments(unit: String) async throws -> [CompartmentRecord] {
        try await all(
            "SELECT * FROM compartments WHERE unit_id = \(bind: unit) ORDER BY label", as: CompartmentRecord.self)
    }
    public func compartment(_ id: String) async throws -> CompartmentRecord? {
        try await one("SELECT * FROM compartments WHERE id = \(bind: id)\(forUpdate)", as: CompartmentRecord.self)
    }
    public func freeCompartments(unit: String) async throws -> [CompartmentRecord] {
        try await all(
            "SELECT * FROM compartments WHERE unit_id = \(bind: unit) AND state = 'available' AND door = 'closed' ORDER BY label",
            as: CompartmentRecord.self)
    }
    public func saveCompartment(_ c: CompartmentRecord) async throws {
        try await sql.raw(
            """
            UPDATE compartments SET state = \(bind: c.state.rawValue), door = \(bind: c.door.rawValue), parcel_id = \(bind: c.parcelId)
            WHERE id = \(bind: c.id)
            """
        ).run()
    }

    // MARK: carriers, couriers, recipients

    public func insertCarrier(_ r: CarrierRecord) async throws { try await insert("carriers", r) }
    public func linkCarrier(_ carrier: String, site: String) async throws {
        try await sql.raw("INSERT INTO carrier_sites (carrier_id, site_id) VALUES (\(bind: carrier), \(bind: site))")
            .run()
    }
    public func carrierSites(_ carrier: String) async throws -> [String] {
        try await sql.raw("SELECT site_id FROM carrier_sites WHERE carrier_id = \(bind: carrier)").all().map {
            try $0.decode(column: "site_id", as: String.self)
        }
    }
    public func sites(organization: String) async throws -> [String] {
        try await sql.raw("SELECT id FROM sites WHERE organization_id = \(bind: organization)").all().map {
            try $0.decode(column: "id", as: String.self)
        }
    }
    public func insertCourier(id: String, carrier: String, name: String, at: Int64) async throws {
        try await sql.raw(
            "INSERT INTO couriers (id, carrier_id, name, created_at) VALUES (\(bind: id), \(bind: carrier), \(bind: name), \(bind: at))"
        ).run()
    }
    public func insertRecipient(_ r: RecipientRecord) async throws { try await insert("recipients", r) }
    public func recipient(_ id: String) async throws -> RecipientRecord? {
        try await one("SELECT * FROM recipients WHERE id = \(bind: id)", as: RecipientRecord.self)
    }

    // MARK: credentials

    public func insertCredential(_ r: CredentialRecord) async throws { try await insert("credentials", r) }
    /// A credential and, for a device credential, its unit's site, in one query.
    public func credentialWithUnitSite(hash: Data) async throws -> (CredentialRecord, String?)? {
        guard
            let row = try await sql.raw(
                """
                SELECT c.*, u.site_id AS unit_site_id FROM credentials c LEFT JOIN units u ON u.id = c.unit_id
                WHERE c.token_hash = \(bind: hash)
                """
            ).first()
        else { return nil }
        return (
            try row.decode(model: CredentialRecord.self, keyDecodingStrategy: ColumnNames.decoding),
            try row.decode(column: "unit_site_id", as: String?.self)
        )
    }

    // MARK: parcels

    public func insertParcel(_ r: ParcelRecord) async throws { try await insert("parcels", r) }
    public func parcel(_ id: String, lock: Bool = false) async throws -> ParcelRecord? {
        try await one("SELECT * FROM parcels WHERE id = \(bind: id)\(lock ? forUpdate : "")", as: ParcelRecord.self)
    }
    public func liveParcel(carrier: String, trackingNumber: String) async throws -> ParcelRecord? {
        try await one(
            """
            SELECT * FROM parcels WHERE carrier_id = \(bind: carrier) AND tracking_number = \(bind: trackingNumber)
              AND state IN ('announced','reserved','deposited','expired')\(forUpdate)
            """, as: ParcelRecord.self)
    }
    public func saveParcel(_ p: ParcelRecord) async throws {
        try await sql.raw(
            """
            UPDATE parcels SET state = \(bind: p.state.rawValue), size = \(bind: p.size.rawValue),
              compartment_id = \(bind: p.compartmentId),
              reserved_until = \(bind: p.reservedUntil), deposited_at = \(bind: p.depositedAt),
              expires_at = \(bind: p.expiresAt), picked_up_at = \(bind: p.pickedUpAt), expired_at = \(bind: p.expiredAt),
              removed_at = \(bind: p.removedAt), cancelled_at = \(bind: p.cancelledAt), updated_at = \(bind: p.updatedAt)
            WHERE id = \(bind: p.id)
            """
        ).run()
    }
    /// Ids of deposited parcels whose pickup window has closed.
    public func overdueParcels(now: Int64, limit: Int) async throws -> [String] {
        try await sql.raw(
            "SELECT id FROM parcels WHERE state = 'deposited' AND expires_at <= \(bind: now) ORDER BY expires_at LIMIT \(bind: limit)"
        )
        .all().map { try $0.decode(column: "id", as: String.self) }
    }
    /// Ids of reserved parcels whose drop-off never completed.
    public func staleReservations(now: Int64, limit: Int) async throws -> [String] {
        try await sql.raw(
            "SELECT id FROM parcels WHERE state = 'reserved' AND reserved_until <= \(bind: now) ORDER BY reserved_until LIMIT \(bind: limit)"
        )
        .all().map { try $0.decode(column: "id", as: String.self) }
    }
    public func parcelCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM parcels").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    // MARK: pickup credentials

    static let credentialColumns = [
        "id", "parcel_id", "unit_id", "compartment_id", "pin_hash", "qr_nonce", "state", "created_at", "expires_at",
        "ended_at",
    ]
    static let parcelColumns = [
        "id", "organization_id", "site_id", "unit_id", "carrier_id", "recipient_id", "tracking_number", "size", "state",
        "compartment_id", "created_at", "reserved_until", "deposited_at", "expires_at", "picked_up_at", "expired_at",
        "removed_at", "cancelled_at", "updated_at",
    ]
    static let compartmentColumns = [
        "id", "unit_id", "label", "size", "width_mm", "height_mm", "depth_mm", "accessible", "state", "door",
        "parcel_id", "grid_column", "grid_row", "grid_rows",
    ]

    static func aliased(_ table: String, _ prefix: String, _ columns: [String]) -> String {
        columns.map { "\(table).\($0) AS \(prefix)\($0)" }.joined(separator: ", ")
    }

    /// The live credential with this PIN hash at the unit, with its parcel and compartment, in one query
    /// (rows locked on PostgreSQL): the pickup path's only read besides the unit.
    public func pickupMatch(unit: String, pinHash: Data) async throws -> (
        PickupCredentialRecord, ParcelRecord, CompartmentRecord
    )? {
        let columns = [
            Self.aliased("c", "c_", Self.credentialColumns), Self.aliased("p", "p_", Self.parcelColumns),
            Self.aliased("k", "k_", Self.compartmentColumns),
        ].joined(separator: ", ")
        let lock: SQLQueryString = kind == .postgres ? " FOR UPDATE OF c, p" : ""
        guard
            let row = try await sql.raw(
                """
                SELECT \(unsafeRaw: columns) FROM pickup_credentials c
                JOIN parcels p ON p.id = c.parcel_id JOIN compartments k ON k.id = c.compartment_id
                WHERE c.unit_id = \(livePinKey(unit)) AND c.pin_hash = \(livePinKey(pinHash)) AND c.state = 'live'\(lock)
                """
            ).first()
        else { return nil }
        return (
            try row.decode(model: PickupCredentialRecord.self, prefix: "c_", keyDecodingStrategy: ColumnNames.decoding),
            try row.decode(model: ParcelRecord.self, prefix: "p_", keyDecodingStrategy: ColumnNames.decoding),
            try row.decode(model: CompartmentRecord.self, prefix: "k_", keyDecodingStrategy: ColumnNames.decoding)
        )
    }

    /// A bound value in a lookup of live PINs. On SQLite a bare parameter compared with a column that the
    /// partial index `pickup_live_pin` (`WHERE state = 'live'`) covers makes the prepared statement expire
    /// whenever a new value is bound, so it would be compiled again for every code entered; a cast is
    /// still a constant for the index but keeps the plan.
    func livePinKey(_ value: String) -> SQLQueryString {
        kind == .sqlite ? "CAST(\(bind: value) AS TEXT)" : "\(bind: value)"
    }
    func livePinKey(_ value: Data) -> SQLQueryString {
        kind == .sqlite ? "CAST(\(bind: value) AS BLOB)" : "\(bind: value)"
    }

    public func insertPickupCredential(_ r: PickupCredentialRecord) async throws {
        try await insert("pickup_credentials", r)
    }
    public func livePickupCredential(unit: String, pinHash: Data) async throws -> PickupCredentialRecord? {
        try await one(
            """
            SELECT * FROM pickup_credentials WHERE unit_id = \(livePinKey(unit)) AND pin_hash = \(livePinKey(pinHash)) AND state = 'live'\(forUpdate)
            """, as: PickupCredentialRecord.self)
    }
    public func livePickupCredentials(parcel: String) async throws -> [PickupCredentialRecord] {
        try await all(
            "SELECT * FROM pickup_credentials WHERE parcel_id = \(bind: parcel) AND state = 'live'\(forUpdate)",
            as: PickupCredentialRecord.self)
    }
    /// Ends every live credential of a parcel (`used` at pickup, `revoked` otherwise); returns how many.
    @discardableResult
    public func endPickupCredentials(parcel: String, state: PickupCredentialState, at: Int64) async throws -> Int {
        let rows = try await sql.raw(
            """
            UPDATE pickup_credentials SET state = \(bind: state.rawValue), ended_at = \(bind: at)
            WHERE parcel_id = \(bind: parcel) AND state = 'live' RETURNING id
            """
        ).all()
        return rows.count
    }

    // MARK: PIN failures

    public func recordPinFailure(unit: String, at: Int64) async throws {
        try await sql.raw("INSERT INTO pin_failures (unit_id, at) VALUES (\(bind: unit), \(bind: at))").run()
    }
    /// Failure times at the unit since `since`, oldest first.
    public func pinFailures(unit: String, since: Int64) async throws -> [Int64] {
        try await sql.raw(
            "SELECT at FROM pin_failures WHERE unit_id = \(bind: unit) AND at > \(bind: since) ORDER BY at"
        )
        .all().map { try $0.decode(column: "at", as: Int64.self) }
    }
    public func prunePinFailures(before: Int64) async throws {
        try await sql.raw("DELETE FROM pin_failures WHERE at <= \(bind: before)").run()
    }

    // MARK: audit

    /// Appends an audit event with its canonical bytes and leaf hash.
    public func appendAudit(_ record: AuditRecord) async throws {
        try await appendAudit([record])
    }

    /// Audit events from position `from` (0-based, in append order), at most `limit`.
    public func auditEvents(from: Int64, limit: Int, organization: String? = nil) async throws -> [StoredAuditEvent] {
        if let organization {
            return try await all(
                "SELECT * FROM audit_events WHERE seq > \(bind: from) AND organization_id = \(bind: organization) ORDER BY seq LIMIT \(bind: limit)",
                as: StoredAuditEvent.self)
        }
        return try await all(
            "SELECT * FROM audit_events WHERE seq > \(bind: from) ORDER BY seq LIMIT \(bind: limit)",
            as: StoredAuditEvent.self)
    }
    public func auditEvents(parcel: String) async throws -> [StoredAuditEvent] {
        try await all(
            "SELECT * FROM audit_events WHERE parcel_id = \(bind: parcel) ORDER BY seq", as: StoredAuditEvent.self)
    }
    public func auditCount() async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM audit_events").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    static func idString(_ id: UUID) -> String { id.idString }

    /// Runs raw SQL for tests and maintenance tools.
    public func execute(_ text: String) async throws { try await exec(text) }
}

/// Whether an error from the database means "run the transaction again" (a lost race, not a bug).
public func isTransientConflict(_ error: any Error) -> Bool {
    let text = String(reflecting: error)
    // PostgreSQL: serialization_failure, deadlock_detected, unique_violation (a lost race on a unique key).
    for code in ["40001", "40P01", "23505"] where text.contains(code) { return true }
    // SQLite: busy / locked, and a unique constraint lost to a concurrent writer in another process.
    return text.contains("SQLITE_BUSY") || text.contains("database is locked")
        || text.contains("UNIQUE constraint failed")
}

/// Bulk loading, for benchmarks and imports: many rows per statement.
extension StoreSession {
    public func insertParcels(_ rows: [ParcelRecord]) async throws {
        guard !rows.isEmpty else { return }
        try await sql.insert(into: "parcels").models(
            rows, keyEncodingStrategy: ColumnNames.encoding, nilEncodingStrategy: .asNil
        ).run()
    }

    public func insertPickupCredentials(_ rows: [PickupCredentialRecord]) async throws {
        guard !rows.isEmpty else { return }
        try await sql.insert(into: "pickup_credentials").models(
            rows, keyEncodingStrategy: ColumnNames.encoding, nilEncodingStrategy: .asNil
        ).run()
    }

    public func insertCompartments(_ rows: [CompartmentRecord]) async throws {
        guard !rows.isEmpty else { return }
        try await sql.insert(into: "compartments").models(
            rows, keyEncodingStrategy: ColumnNames.encoding, nilEncodingStrategy: .asNil
        ).run()
    }

    /// Appends many audit events in one statement, in the order given.
    /// Appends audit events in the order given, in one statement.
    public func appendAudit(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        var query: SQLQueryString = """
            INSERT INTO audit_events (id, occurred_at, type, outcome, actor_kind, actor_id, actor_role, organization_id,
              site_id, unit_id, compartment_id, parcel_id, tracking_number, detail, canonical, leaf_hash) VALUES\u{20}
            """
        for (i, r) in records.enumerated() {
            let canonical = AuditCanonicalEncoding.encode(r)
            let leaf = AuditCanonicalEncoding.leafHash(canonical)
            if i > 0 { query.appendLiteral(", ") }
            query += """
                (\(bind: Self.idString(r.id)), \(bind: r.occurredAt.millisecondsSince1970), \(bind: r.type), \(bind: r.outcome.rawValue),
                 \(bind: r.actor.kind.rawValue), \(bind: r.actor.id), \(bind: r.actor.role), \(bind: r.organizationId.map(Self.idString)),
                 \(bind: r.siteId.map(Self.idString)), \(bind: r.unitId.map(Self.idString)), \(bind: r.compartmentId.map(Self.idString)),
                 \(bind: r.parcelId.map(Self.idString)), \(bind: r.trackingNumber), \(bind: AuditCanonicalEncoding.json(r.detail)),
                 \(bind: Data(canonical)), \(bind: Data(leaf)))
                """
        }
        try await sql.raw(query).run()
        try await enqueueWebhookEvents(for: records)
    }
}
