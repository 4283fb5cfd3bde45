import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// The parcel flows: announcement, drop-off, pickup, cancellation, removal and expiry.
///
/// Each flow is one transaction through the ledger that writes the state change, its audit events and any door
/// command together; the unit link hands the door command to the unit once the transaction has committed.
public struct ParcelDesk: Sendable {
    public let ledger: Ledger
    public let keys: LockerKeys
    public let policy: PinEntryPolicy
    public let link: any UnitLink
    /// Door reports from units (and the deposits they complete).
    public let doors: DoorReports
    let logger: Logger

    public init(
        ledger: Ledger, keys: LockerKeys, policy: PinEntryPolicy = .standard, link: any UnitLink, doors: DoorReports,
        logger: Logger
    ) {
        self.ledger = ledger
        self.keys = keys
        self.policy = policy
        self.link = link
        self.doors = doors
        self.logger = logger
    }

    public var store: any SQLStore { ledger.store }
    public var clock: ServerClock { ledger.clock }
    var limiter: PinEntryLimiter { PinEntryLimiter(policy: policy) }
    var rules: PickupCodeRules { PickupCodeRules(pinLength: policy.pinLength) }

    /// Moves a parcel along its lifecycle, or fails with `invalidState`.
    static func advance(_ parcel: inout ParcelRecord, on event: ParcelEvent) throws {
        do { parcel.state = try ParcelLifecycle.next(from: parcel.state, on: event) } catch {
            throw DomainError(error)
        }
    }

    /// A recipient who lives at the unit's site (a courier addresses only the site where the unit stands).
    func recipientInScope(_ s: StoreSession, _ recipientId: String, unit: UnitRecord) async throws -> RecipientRecord {
        guard let r = try await s.recipient(recipientId), r.organizationId == unit.organizationId,
            r.siteId == unit.siteId, r.erasedAt == nil
        else {
            throw DomainError.notFound("recipient \(recipientId) not found")
        }
        // Live pickups of a deactivated recipient stay valid; nothing new is announced or dropped off for them.
        guard r.deactivatedAt == nil else {
            throw RecipientError.deactivated("recipient \(recipientId) is deactivated")
        }
        return r
    }

    // MARK: announce and drop-off

    /// A carrier tells the locker a parcel is coming.
    public func announce(_ p: Principal, unitId: String, trackingNumber: String, recipientId: String, size: SizeClass)
        async throws -> ParcelRecord
    {
        guard let carrier = p.carrierId?.idString else {
            throw DomainError.forbidden("only carriers and couriers announce parcels")
        }
        return try await ledger.write { s in
            let unit = try await ledger.unitInScope(s, unitId, p, lock: false)
            _ = try await recipientInScope(s, recipientId, unit: unit)
            if try await s.liveParcel(carrier: carrier, trackingNumber: trackingNumber) != nil {
                throw DomainError.duplicateParcel
            }
            let now = clock.now().millisecondsSince1970
            let parcel = ParcelRecord(
                id: EntityID.make(), organizationId: unit.organizationId, siteId: unit.siteId, unitId: unit.id,
                carrierId: carrier, recipientId: recipientId, trackingNumber: trackingNumber, size: size,
                state: .announced, createdAt: now)
            try await s.insertParcel(parcel)
            try await ledger.audit(
                s, .parcelAnnounced, actor: p.actor, unit: unit, parcel: parcel, detail: ["size": size.rawValue])
            return parcel
        }
    }

    /// The result of a drop-off: the parcel and the compartment whose door is opening.
    public struct Dropoff: Sendable {
        public var parcel: ParcelRecord
        public var compartment: CompartmentRecord
    }

    /// A courier starts a drop-off: best-fit compartment reserved and its door opened.
    public func dropoff(_ p: Principal, unitId: String, trackingNumber: String, recipientId: String, size: SizeClass)
        async throws -> Dropoff
    {
        guard let carrier = p.carrierId?.idString, p.role == .courier else {
            throw DomainError.forbidden("only couriers drop off parcels")
        }
        let (result, door) = try await ledger.write { s -> (Dropoff, DoorCommand) in
            // Locking the unit serializes drop-offs per unit, so two never get the same compartment.
            let unit = try await ledger.unitInScope(s, unitId, p, lock: true)
            guard unit.lockedDownAt == nil else { throw DomainError.unitLockedDown }
            let recipient = try await recipientInScope(s, recipientId, unit: unit)
            let nowMs = clock.now().millisecondsSince1970
            var parcel: ParcelRecord
            if let existing = try await s.liveParcel(carrier: carrier, trackingNumber: trackingNumber) {
                guard existing.state == .announced, existing.recipientId == recipientId, existing.unitId == unit.id
                else {
                    throw DomainError.duplicateParcel
                }
                parcel = existing
            } else {
                parcel = ParcelRecord(
                    id: EntityID.make(), organizationId: unit.organizationId, siteId: unit.siteId, unitId: unit.id,
                    carrierId: carrier, recipientId: recipientId, trackingNumber: trackingNumber, size: size,
                    state: .announced, createdAt: nowMs)
                try await s.insertParcel(parcel)
            }
            let free = try await s.freeCompartments(unit: unit.id)
            let candidates = free.map {
                CompartmentAssignment.Candidate(label: $0.label, size: $0.size, accessible: $0.accessible)
            }
            guard
                let index = CompartmentAssignment.choose(
                    parcel: size, recipientNeedsAccessible: recipient.needsAccessible, free: candidates)
            else {
                throw DomainError.unitFull
            }
            var compartment = free[index]
            let site = try await s.site(unit.siteId)
            try Self.advance(&parcel, on: .reserve)
            parcel.size = size
            parcel.compartmentId = compartment.id
            parcel.reservedUntil = nowMs + Milliseconds.of(seconds: site?.reservationSeconds ?? 600)
            parcel.updatedAt = nowMs
            try await s.saveParcel(parcel)
            compartment.state = .reserved
            compartment.parcelId = parcel.id
            try await s.saveCompartment(compartment)
            let reserved = ledger.record(
                .parcelReserved, actor: p.actor, unit: unit, parcel: parcel,
                detail: [
                    "size": size.rawValue, "compartmentSize": compartment.size.rawValue,
                    "accessible": String(compartment.accessible),
                ])
            let door = try await ledger.openDoor(
                s, unit: unit, compartmentId: compartment.id, reason: .dropoff, actor: p.actor, parcel: parcel,
                after: [reserved])
            return (Dropoff(parcel: parcel, compartment: compartment), door)
        }
        await link.deliver(door)
        return result
    }

    // MARK: door events

    /// Applies a door event from a unit. A door closed on a parcel completes its deposit.
    @discardableResult
    public func handle(_ event: UnitDoorEvent, actor: Actor) async throws -> ParcelRecord? {
        try await doors.handle(event, actor: actor)
    }

    // MARK: reads

    public func parcel(_ p: Principal, id: String) async throws -> ParcelRecord {
        try await store.read { s in try await ledger.parcelInScope(s, id, p, lock: false) }
    }

    /// A unit with its compartments and PIN-entry status.
    public struct UnitView: Sendable {
        public var unit: UnitRecord
        public var compartments: [CompartmentRecord]
        public var failuresLast24h: Int
    }

    public func unit(_ p: Principal, id: String) async throws -> UnitView {
        try AccessPolicy.require(p, .readUnit)
        let nowMs = clock.now().millisecondsSince1970
        return try await store.read { s in
            let unit = try await ledger.unitInScope(s, id, p, lock: false)
            return UnitView(
                unit: unit, compartments: try await s.compartments(unit: unit.id),
                failuresLast24h: try await s.pinFailures(unit: unit.id, since: nowMs - PickupCodeRules.failureWindow)
                    .count)
        }
    }

    /// The compartment a parcel is in, if any.
    public func compartment(of parcel: ParcelRecord) async throws -> CompartmentRecord? {
        guard let id = parcel.compartmentId else { return nil }
        return try await store.read { s in try await s.compartment(id) }
    }

    /// Whether the database answers.
    public func isHealthy() async -> Bool {
        (try? await store.read { s in _ = try await s.organizationCount() }) != nil
    }
}
