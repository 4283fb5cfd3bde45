import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// What carriers, staff and the server's timers do to parcels and units: cancel, remove, resume PIN entry, expire.
extension ParcelDesk {
    /// Calls off an announced or reserved parcel; a reserved compartment is freed.
    public func cancel(_ p: Principal, parcelId: String, reason: String = "requested") async throws -> ParcelRecord {
        try await ledger.write { s in
            var parcel = try await ledger.parcelInScope(s, parcelId, p, lock: true)
            return try await cancel(s, &parcel, actor: p.actor, reason: reason)
        }
    }

    func cancel(_ s: StoreSession, _ parcel: inout ParcelRecord, actor: Actor, reason: String) async throws
        -> ParcelRecord
    {
        let nowMs = clock.now().millisecondsSince1970
        let held = parcel.state == .reserved
        try Self.advance(&parcel, on: .cancel)
        parcel.cancelledAt = nowMs
        parcel.updatedAt = nowMs
        parcel.reservedUntil = nil
        if held, let cid = parcel.compartmentId, var c = try await s.compartment(cid), c.parcelId == parcel.id {
            c.state = .available
            c.parcelId = nil
            try await s.saveCompartment(c)
        }
        try await s.saveParcel(parcel)
        try await s.endPickupCredentials(parcel: parcel.id, state: .revoked, at: nowMs)
        try await ledger.audit(s, .parcelCancelled, actor: actor, parcel: parcel, detail: ["reason": reason])
        return parcel
    }

    /// Staff take an expired parcel out: the door opens and the compartment is freed when it closes empty.
    public func remove(_ p: Principal, parcelId: String) async throws -> ParcelRecord {
        try AccessPolicy.require(p, .removeParcel)
        let (parcel, door) = try await ledger.write { s -> (ParcelRecord, DoorCommand?) in
            var parcel = try await ledger.parcelInScope(s, parcelId, p, lock: true)
            // The unit whose door opens; none when the parcel is in no compartment.
            let unit = parcel.compartmentId == nil ? nil : try await s.unit(parcel.unitId)
            // The door would stay shut at a locked-down unit: the parcel stays as it is until the lockdown is released.
            if unit?.lockedDownAt != nil { throw DomainError.unitLockedDown }
            let nowMs = clock.now().millisecondsSince1970
            try Self.advance(&parcel, on: .remove)
            parcel.removedAt = nowMs
            parcel.updatedAt = nowMs
            try await s.saveParcel(parcel)
            try await doors.notices.dropReminders(s, parcel: parcel, because: "the parcel was removed", at: nowMs)
            let removed = ledger.record(.parcelRemoved, actor: p.actor, parcel: parcel)
            guard let cid = parcel.compartmentId, let unit else {
                try await s.appendAudit(removed)
                return (parcel, nil)
            }
            let door = try await ledger.openDoor(
                s, unit: unit, compartmentId: cid, reason: .removal, actor: p.actor, parcel: parcel, after: [removed])
            return (parcel, door)
        }
        if let door { await link.deliver(door) }
        return parcel
    }

    /// Lifts a suspension or lockout of PIN entry at a unit; the 24-hour failure budget still holds. A unit with a
    /// controller of its own keeps its own limiter, so it is told too: now if its link is up, else when it reconnects
    /// (within a day).
    public func resumePinEntry(_ p: Principal, unitId: String) async throws -> UnitRecord {
        try AccessPolicy.require(p, .resumePinEntry)
        let (unit, command) = try await ledger.write { s -> (UnitRecord, EdgeCommand?) in
            var unit = try await ledger.unitInScope(s, unitId, p, lock: true)
            let before = unit.pinEntry
            unit.pinEntry = limiter.afterResume(state: before)
            try await s.savePinEntry(unit)
            try await ledger.audit(
                s, .unitPinEntryResumed, actor: p.actor, unit: unit, detail: ["wasSuspended": String(before.suspended)])
            var command: EdgeCommand? = nil
            if unit.edgeEnrolledAt != nil {
                command = try await ledger.storeCommand(
                    s, unitId: unit.id, kind: .resumePinEntry, lifetime: Self.resumeCommandLifetime)
            }
            return (unit, command)
        }
        if let command { await link.deliver(command, to: unit.id) }
        return unit
    }

    /// How long a unit that is away may still take up a resume of PIN entry.
    static let resumeCommandLifetime = Milliseconds.day

    /// Moves overdue parcels to `expired` and cancels drop-offs that were never completed. Returns how many changed.
    @discardableResult
    public func expireDue(batch: Int = 200) async throws -> Int {
        let nowMs = clock.now().millisecondsSince1970
        var changed = 0
        let overdue = try await store.read { s in try await s.overdueParcels(now: nowMs, limit: batch) }
        for id in overdue {
            changed += try await ledger.write { s -> Int in
                guard var parcel = try await s.parcel(id, lock: true), parcel.state == .deposited,
                    let exp = parcel.expiresAt, exp <= nowMs
                else { return 0 }
                try Self.advance(&parcel, on: .expire)
                parcel.expiredAt = nowMs
                parcel.updatedAt = nowMs
                try await s.saveParcel(parcel)
                try await s.endPickupCredentials(parcel: parcel.id, state: .revoked, at: nowMs)
                try await ledger.audit(s, .parcelExpired, actor: .system, parcel: parcel)
                try await doors.notices.expired(s, parcel: parcel, at: nowMs)
                return 1
            }
        }
        let stale = try await store.read { s in try await s.staleReservations(now: nowMs, limit: batch) }
        for id in stale {
            changed += try await ledger.write { s -> Int in
                guard var parcel = try await s.parcel(id, lock: true), parcel.state == .reserved,
                    let until = parcel.reservedUntil, until <= nowMs
                else { return 0 }
                _ = try await cancel(s, &parcel, actor: .system, reason: "reservation_timeout")
                return 1
            }
        }
        try await ledger.write { s in try await s.prunePinFailures(before: nowMs - PickupCodeRules.failureWindow) }
        return changed
    }
}
