import CubbyCore
import CubbyStore
import Foundation

/// The narrow facility every flow writes through: a write transaction that is run again when it lost a race,
/// audit events stamped by the flows' clock, the scope checks that make foreign ids not exist, and door
/// commands stored in the flow's own transaction.
public struct Ledger: Sendable {
    public let store: any SQLStore
    public let clock: ServerClock

    public init(store: any SQLStore, clock: ServerClock = .system) {
        self.store = store
        self.clock = clock
    }

    /// How long an open command may wait for its unit: a door opening later than this would surprise whoever stands there.
    public static let openCommandLifetime: Int64 = Milliseconds.minute

    /// Runs a write transaction, again when it lost a race (a lock conflict or a unique key taken by a concurrent writer).
    public func write<T: Sendable>(_ body: @Sendable @escaping (StoreSession) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do { return try await store.write(body) } catch {
                attempt += 1
                guard attempt < 8, isTransientConflict(error), !(error is DomainError) else { throw error }
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << min(attempt, 5)))))
            }
        }
    }

    /// Appends an audit event about a unit and/or parcel to the caller's transaction.
    public func audit(
        _ s: StoreSession, _ type: AuditEventType, _ outcome: AuditOutcome = .success, actor: Actor,
        unit: UnitRecord? = nil,
        parcel: ParcelRecord? = nil, compartmentId: String? = nil, detail: [String: String] = [:]
    ) async throws {
        try await s.appendAudit(
            record(
                type, outcome, actor: actor, unit: unit, parcel: parcel, compartmentId: compartmentId, detail: detail))
    }

    /// An audit event about a unit and/or parcel, stamped now.
    public func record(
        _ type: AuditEventType, _ outcome: AuditOutcome = .success, actor: Actor, unit: UnitRecord? = nil,
        parcel: ParcelRecord? = nil, compartmentId: String? = nil, detail: [String: String] = [:]
    ) -> AuditRecord {
        AuditRecord(
            occurredAt: clock.now(), event: type, outcome: outcome, actor: actor,
            organizationId: EntityID.uuid(unit?.organizationId ?? parcel?.organizationId),
            siteId: EntityID.uuid(unit?.siteId ?? parcel?.siteId),
            unitId: EntityID.uuid(unit?.id ?? parcel?.unitId),
            compartmentId: EntityID.uuid(compartmentId ?? parcel?.compartmentId),
            parcelId: EntityID.uuid(parcel?.id),
            trackingNumber: parcel?.trackingNumber, detail: detail)
    }

    // MARK: scope

    /// The unit, if the principal may act on it; otherwise `notFound` as if it did not exist.
    public func unitInScope(_ s: StoreSession, _ unitId: String, _ p: Principal, lock: Bool) async throws -> UnitRecord
    {
        guard let unit = try await (lock ? s.lockUnit(unitId) : s.unit(unitId)), Scope.covers(p, unit: unit) else {
            throw DomainError.notFound("unit \(unitId) not found")
        }
        return unit
    }

    /// A site of the principal's organization within its reach, or `notFound`.
    public func siteInScope(_ s: StoreSession, _ id: String, _ p: Principal, lock: Bool = false) async throws
        -> SiteRecord
    {
        guard let uuid = EntityID.parse(id),
            let site = try await (lock ? s.lockSite(uuid) : s.site(uuid)),
            site.organizationId == p.organizationId.idString,
            p.organizationWide || Scope.covers(p, siteId: site.id)
        else { throw DomainError.notFound("site \(id) not found") }
        return site
    }

    /// The parcel, if the principal may see it; otherwise `notFound`.
    public func parcelInScope(_ s: StoreSession, _ parcelId: String, _ p: Principal, lock: Bool) async throws
        -> ParcelRecord
    {
        guard let parcel = try await s.parcel(parcelId, lock: lock), Scope.covers(p, parcel: parcel) else {
            throw DomainError.notFound("parcel \(parcelId) not found")
        }
        return parcel
    }

    // MARK: commands

    /// Stores a command for a unit with its own edge controller, in the caller's transaction; the unit link sends it
    /// once the transaction has committed, and on every reconnect until it is acknowledged or expires.
    public func storeCommand(
        _ s: StoreSession, unitId: String, kind: EdgeCommand.Kind, compartmentId: String? = nil, reason: String? = nil,
        lifetime: Int64
    ) async throws -> EdgeCommand {
        let now = clock.now().millisecondsSince1970
        let command = EdgeCommand(
            id: EntityID.make(), kind: kind, compartmentId: compartmentId, reason: reason, expiresAt: now + lifetime)
        try await s.insertUnitCommand(
            UnitCommandRecord(
                id: command.id, unitId: unitId, kind: kind.rawValue, compartmentId: compartmentId, reason: reason,
                createdAt: now, expiresAt: command.expiresAt))
        return command
    }

    /// Decides to open a compartment's door, in the caller's transaction: the `door.open_commanded` event, and for a
    /// unit with its own controller the stored command. Hand the result to the unit link after the commit.
    public func openDoor(
        _ s: StoreSession, unit: UnitRecord, compartmentId: String, reason: DoorOpenReason, actor: Actor,
        parcel: ParcelRecord? = nil, after earlier: [AuditRecord] = []
    ) async throws -> DoorCommand {
        // The events the flow wrote just before go in with this one, in one statement.
        try await s.appendAudit(
            earlier + [
                record(
                    .doorOpenCommanded, actor: actor, unit: unit, parcel: parcel, detail: ["reason": reason.rawValue])
            ])
        var stored: EdgeCommand? = nil
        if unit.edgeEnrolledAt != nil {
            stored = try await storeCommand(
                s, unitId: unit.id, kind: .open, compartmentId: compartmentId, reason: reason.rawValue,
                lifetime: Self.openCommandLifetime)
        }
        return DoorCommand(unitId: unit.id, compartmentId: compartmentId, reason: reason, stored: stored)
    }
}
