import CubbyCore
import Foundation
import SQLKit

/// An event of a unit's journal as the server stored it.
public struct DeviceEventRecord: Codable, Sendable, Hashable {
    public var unitId: String
    public var seq: Int64
    public var kind: String
    public var hash: String
    public var previousHash: String
    public var occurredAt: Int64
    public var receivedAt: Int64
    /// The event as JSON.
    public var body: String

    public init(
        unitId: String, seq: Int64, kind: String, hash: String, previousHash: String, occurredAt: Int64,
        receivedAt: Int64, body: String
    ) {
        self.unitId = unitId
        self.seq = seq
        self.kind = kind
        self.hash = hash
        self.previousHash = previousHash
        self.occurredAt = occurredAt
        self.receivedAt = receivedAt
        self.body = body
    }
}

/// A command for a unit, kept until the unit acknowledges it or it expires.
public struct UnitCommandRecord: Codable, Sendable, Hashable {
    public var id: String
    public var unitId: String
    public var kind: String
    public var compartmentId: String?
    public var reason: String?
    public var createdAt: Int64
    public var expiresAt: Int64
    public var ackedAt: Int64?
    public var outcome: String?

    public init(
        id: String, unitId: String, kind: String, compartmentId: String?, reason: String?, createdAt: Int64,
        expiresAt: Int64
    ) {
        self.id = id
        self.unitId = unitId
        self.kind = kind
        self.compartmentId = compartmentId
        self.reason = reason
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// Something staff must look at: a tamper signal, a lock that stopped answering, a gap in a unit's journal.
public struct AlertRecord: Codable, Sendable, Hashable {
    public var id: String
    public var organizationId: String
    public var siteId: String?
    public var unitId: String?
    public var compartmentId: String?
    public var kind: String
    public var detail: String
    public var createdAt: Int64
    public var resolvedAt: Int64?
    public var resolvedBy: String?
    /// How many signals this alert stands for: a burst from one unit is one alert with a count.
    public var signals: Int64 = 1
    /// When the latest of them came (nil while there was one).
    public var lastSignalAt: Int64?
    /// When someone said they are on it, and who (an account or credential id).
    public var acknowledgedAt: Int64?
    public var acknowledgedBy: String?
    /// The next step of the on-call list to page (0: the first contact), and when; nil: never paged.
    public var pageStep: Int64 = 0
    public var nextPageAt: Int64?
    /// What the staff member who acknowledged or resolved it wrote.
    public var acknowledgeNote: String?
    public var resolveNote: String?

    public init(
        id: String, organizationId: String, siteId: String?, unitId: String?, compartmentId: String?, kind: String,
        detail: String, createdAt: Int64
    ) {
        self.id = id
        self.organizationId = organizationId
        self.siteId = siteId
        self.unitId = unitId
        self.compartmentId = compartmentId
        self.kind = kind
        self.detail = detail
        self.createdAt = createdAt
    }
}

/// Edge controllers: enrollment codes, journaled events, commands, lockdown, alerts and evidence.
extension StoreSession {
    // MARK: enrollment

    /// Stores a new enrollment code for a unit; the unit's earlier codes not yet used stop working. Returns how many
    /// earlier codes it superseded.
    @discardableResult
    public func insertUnitEnrollmentCode(hash: Data, unit: String, at: Int64, expiresAt: Int64) async throws -> Int {
        let superseded = try await sql.raw(
            """
            UPDATE unit_enrollment_codes SET used_at = \(bind: at)
            WHERE unit_id = \(bind: unit) AND used_at IS NULL AND expires_at > \(bind: at) RETURNING code_hash
            """
        ).all().count
        try await sql.raw(
            """
            INSERT INTO unit_enrollment_codes (code_hash, unit_id, created_at, expires_at)
            VALUES (\(bind: hash), \(bind: unit), \(bind: at), \(bind: expiresAt))
            """
        ).run()
        return superseded
    }

    /// Revokes the unit's enrolled device credentials other than `keeping`; returns the ids revoked.
    public func revokeEnrolledCredentials(unit: String, keeping: String, at: Int64) async throws -> [String] {
        try await sql.raw(
            """
            UPDATE credentials SET revoked_at = \(bind: at)
            WHERE unit_id = \(bind: unit) AND kind = 'device' AND enrolled = \(bind: true) AND id <> \(bind: keeping)
              AND revoked_at IS NULL
            RETURNING id
            """
        ).all().map { try $0.decode(column: "id", as: String.self) }
    }

    /// Uses up an enrollment code; returns its unit, or nil when the code is unknown, used or expired.
    public func claimUnitEnrollmentCode(hash: Data, now: Int64) async throws -> String? {
        let rows = try await sql.raw(
            """
            UPDATE unit_enrollment_codes SET used_at = \(bind: now)
            WHERE code_hash = \(bind: hash) AND used_at IS NULL AND expires_at > \(bind: now) RETURNING unit_id
            """
        ).all()
        return try rows.first?.decode(column: "unit_id", as: String.self)
    }

    public func markEdgeEnrolled(unit: String, at: Int64) async throws {
        try await sql.raw("UPDATE units SET edge_enrolled_at = \(bind: at) WHERE id = \(bind: unit)").run()
    }

    // MARK: journaled events

    /// The newest event stored for a unit.
    public func lastDeviceEvent(unit: String) async throws -> DeviceEventRecord? {
        try await one(
            "SELECT * FROM device_events WHERE unit_id = \(bind: unit) ORDER BY seq DESC LIMIT 1",
            as: DeviceEventRecord.self)
    }

    public func deviceEvent(unit: String, seq: Int64) async throws -> DeviceEventRecord? {
        try await one(
            "SELECT * FROM device_events WHERE unit_id = \(bind: unit) AND seq = \(bind: seq)",
            as: DeviceEventRecord.self)
    }

    public func deviceEvents(unit: String) async throws -> [DeviceEventRecord] {
        try await all(
            "SELECT * FROM device_events WHERE unit_id = \(bind: unit) ORDER BY seq", as: DeviceEventRecord.self)
    }

    /// Stores an event; false when the unit's event with that sequence number is already stored.
    public func insertDeviceEvent(_ r: DeviceEventRecord) async throws -> Bool {
        try await !sql.raw(
            """
            INSERT INTO device_events (unit_id, seq, kind, hash, previous_hash, occurred_at, received_at, body)
            VALUES (\(bind: r.unitId), \(bind: r.seq), \(bind: r.kind), \(bind: r.hash), \(bind: r.previousHash),
                    \(bind: r.occurredAt), \(bind: r.receivedAt), \(bind: r.body))
            ON CONFLICT (unit_id, seq) DO NOTHING RETURNING seq
            """
        ).all().isEmpty
    }

    // MARK: commands

    /// Stores a command for a unit. On PostgreSQL the insert also notifies `UnitCommandChannel.name` with the unit's id;
    /// PostgreSQL delivers the notification when the transaction commits, and not at all when it rolls back.
    public func insertUnitCommand(_ r: UnitCommandRecord) async throws {
        try await insert("unit_commands", r)
        if kind == .postgres {
            try await sql.raw("SELECT pg_notify(\(bind: UnitCommandChannel.name), \(bind: r.unitId))").run()
        }
    }

    /// Commands a unit has not acknowledged and that may still be carried out.
    public func pendingUnitCommands(unit: String, now: Int64) async throws -> [UnitCommandRecord] {
        try await all(
            """
            SELECT * FROM unit_commands WHERE unit_id = \(bind: unit) AND acked_at IS NULL AND expires_at > \(bind: now)
            ORDER BY created_at
            """, as: UnitCommandRecord.self)
    }

    /// Records the unit's acknowledgement; false when the command was already acknowledged or is not the unit's.
    public func ackUnitCommand(id: String, unit: String, outcome: String, at: Int64) async throws -> Bool {
        try await !sql.raw(
            """
            UPDATE unit_commands SET acked_at = \(bind: at), outcome = \(bind: outcome)
            WHERE id = \(bind: id) AND unit_id = \(bind: unit) AND acked_at IS NULL RETURNING id
            """
        ).all().isEmpty
    }

    // MARK: lockdown

    public func setLockdown(unit: String, at: Int64?, reason: String?) async throws {
        try await sql.raw(
            """
            UPDATE units SET locked_down_at = \(bind: at), lockdown_reason = \(bind: reason) WHERE id = \(bind: unit)
            """
        ).run()
    }

    // MARK: alerts

    /// Stores a new alert, and its `alert.raised` webhook event in the same transaction.
    public func insertAlert(_ r: AlertRecord) async throws {
        var r = r
        // A new alert pages its site's first on-call contact at once (see `AlertPager`).
        if r.nextPageAt == nil && r.siteId != nil { r.nextPageAt = r.createdAt }
        try await insert("alerts", r)
        // Its page goes into the outbox from the pager, which this wakes at commit like the outbox itself.
        if r.nextPageAt != nil { try await markOutboxWritten() }
        markAlertRaised()
        try await enqueueAlertRaised(r)
    }

    /// Raises an alert, or, while one of the same kind is open for the same unit and compartment, counts the signal
    /// on that one (a storm of signals is one incident). Returns the alert and whether it is new.
    public func raiseAlert(_ r: AlertRecord) async throws -> (alert: AlertRecord, isNew: Bool) {
        let same: SQLQueryString =
            r.compartmentId.map { "compartment_id = \(bind: $0)" } ?? "compartment_id IS NULL"
        let unitMatch: SQLQueryString = r.unitId.map { "unit_id = \(bind: $0)" } ?? "unit_id IS NULL"
        let lock: SQLQueryString = kind == .postgres ? " FOR UPDATE" : ""
        if var open = try await all(
            """
            SELECT * FROM alerts WHERE organization_id = \(bind: r.organizationId) AND kind = \(bind: r.kind)
              AND \(unitMatch) AND \(same) AND resolved_at IS NULL ORDER BY created_at LIMIT 1\(lock)
            """, as: AlertRecord.self
        ).first {
            try await sql.raw(
                """
                UPDATE alerts SET signals = signals + 1, last_signal_at = \(bind: r.createdAt) WHERE id = \(bind: open.id)
                """
            ).run()
            open.signals += 1
            open.lastSignalAt = r.createdAt
            return (open, false)
        }
        try await insertAlert(r)
        return (r, true)
    }

    /// Open alerts of an organization, newest first.
    public func openAlerts(organization: String, limit: Int = 200) async throws -> [AlertRecord] {
        try await all(
            """
            SELECT * FROM alerts WHERE organization_id = \(bind: organization) AND resolved_at IS NULL
            ORDER BY created_at DESC LIMIT \(bind: limit)
            """, as: AlertRecord.self)
    }

    /// One alert, locked for update on PostgreSQL.
    public func alert(_ id: String) async throws -> AlertRecord? {
        try await one("SELECT * FROM alerts WHERE id = \(bind: id)\(forUpdate)", as: AlertRecord.self)
    }

    /// Marks an open alert resolved; false when it was already resolved.
    public func resolveAlert(_ id: String, by: String, at: Int64, note: String? = nil) async throws -> Bool {
        let rows = try await sql.raw(
            """
            UPDATE alerts SET resolved_at = \(bind: at), resolved_by = \(bind: by), resolve_note = \(bind: note),
              next_page_at = NULL
            WHERE id = \(bind: id) AND resolved_at IS NULL RETURNING id
            """
        ).all()
        return !rows.isEmpty
    }

    /// Marks an open, unacknowledged alert as acknowledged; false when it is resolved or acknowledged already.
    public func acknowledgeAlert(_ id: String, by: String, at: Int64, note: String? = nil) async throws -> Bool {
        !(try await sql.raw(
            """
            UPDATE alerts SET acknowledged_at = \(bind: at), acknowledged_by = \(bind: by),
              acknowledge_note = \(bind: note), next_page_at = NULL
            WHERE id = \(bind: id) AND resolved_at IS NULL AND acknowledged_at IS NULL RETURNING id
            """
        ).all()).isEmpty
    }

    public func alerts(unit: String) async throws -> [AlertRecord] {
        try await all("SELECT * FROM alerts WHERE unit_id = \(bind: unit) ORDER BY created_at", as: AlertRecord.self)
    }

    // MARK: evidence

    /// Stores a photo under its SHA-256; storing the same bytes again changes nothing.
    public func insertEvidence(sha256: String, unit: String, contentType: String, bytes: Data, at: Int64) async throws {
        try await sql.raw(
            """
            INSERT INTO evidence (sha256, unit_id, content_type, bytes, created_at)
            VALUES (\(bind: sha256), \(bind: unit), \(bind: contentType), \(bind: bytes), \(bind: at))
            ON CONFLICT (sha256) DO NOTHING
            """
        ).run()
    }

    public func evidence(sha256: String) async throws -> (unitId: String, contentType: String, bytes: Data)? {
        guard
            let row = try await sql.raw(
                "SELECT unit_id, content_type, bytes FROM evidence WHERE sha256 = \(bind: sha256)"
            ).first()
        else {
            return nil
        }
        return (
            try row.decode(column: "unit_id", as: String.self), try row.decode(column: "content_type", as: String.self),
            try row.decode(column: "bytes", as: Data.self)
        )
    }

    // MARK: pickup codes

    /// Every live pickup credential at a unit.
    public func livePickupCredentials(unit: String, now: Int64) async throws -> [PickupCredentialRecord] {
        try await all(
            """
            SELECT * FROM pickup_credentials WHERE unit_id = \(bind: unit) AND state = 'live' AND expires_at > \(bind: now)
            """, as: PickupCredentialRecord.self)
    }
}
