import CubbyCore
import CubbyStore
import Foundation

/// Lockdown from the server: an administrator locks one unit or a whole site down (the units are told over their
/// link and lock every board), and lifts it again with a fresh second factor in the portal, or at the console.
extension EdgeDesk {
    /// A unit locked down, or already locked down before this request.
    public struct LockdownOutcome: Sendable {
        public var unit: UnitRecord
        public var alreadyLockedDown: Bool
    }

    /// An administrator locks a unit down: the server refuses pickups and drop-offs there at once, and the unit is
    /// told to lock every board (now if connected, else when it reconnects, within a day).
    public func lockDown(_ p: Principal, unitId: String, reason: String?) async throws -> LockdownOutcome {
        try AccessPolicy.require(p, .lockDown)
        let why = try Self.lockdownReason(reason)
        let outcomes = try await lockDown(actor: p.actor, reason: why) { s in
            [try await ledger.unitInScope(s, unitId, p, lock: true)]
        }
        return outcomes[0]
    }

    /// An administrator locks every active unit of a site down.
    public func lockDownSite(_ p: Principal, siteId: String, reason: String?) async throws -> [LockdownOutcome] {
        try AccessPolicy.require(p, .lockDown)
        let why = try Self.lockdownReason(reason)
        return try await lockDown(actor: p.actor, reason: why) { s in
            let site = try await ledger.siteInScope(s, siteId, p)
            var units: [UnitRecord] = []
            for unit in try await s.units(site: site.id) where unit.decommissionedAt == nil {
                if let locked = try await s.lockUnit(unit.id) { units.append(locked) }
            }
            return units
        }
    }

    /// The same from the server's console.
    public func lockDownFromConsole(unitId: String, reason: String?) async throws -> LockdownOutcome {
        let why = try Self.lockdownReason(reason)
        let outcomes = try await lockDown(actor: .console, reason: why) { s in
            guard let unit = try await s.lockUnit(unitId) else {
                throw DomainError.notFound("unit \(unitId) not found")
            }
            return [unit]
        }
        return outcomes[0]
    }

    /// A lockdown's reason: `staff: <reason>`, or `staff` when none is given; the reason follows the rules of an
    /// alert's note (one line of at most 200 characters).
    static func lockdownReason(_ reason: String?) throws -> String {
        try note(reason).map { "staff: " + $0 } ?? "staff"
    }

    /// Locks the units down in one transaction (each audited, an alert raised for each), then tells them.
    func lockDown(
        actor: Actor, reason: String, units find: @Sendable @escaping (StoreSession) async throws -> [UnitRecord]
    ) async throws -> [LockdownOutcome] {
        let nowMs = clock.now().millisecondsSince1970
        let (outcomes, commands) = try await ledger.write { s -> ([LockdownOutcome], [(String, EdgeCommand)]) in
            var outcomes: [LockdownOutcome] = []
            var commands: [(String, EdgeCommand)] = []
            for var unit in try await find(s) {
                guard unit.lockedDownAt == nil else {
                    outcomes.append(LockdownOutcome(unit: unit, alreadyLockedDown: true))
                    continue
                }
                try await s.setLockdown(unit: unit.id, at: nowMs, reason: reason)
                try await ledger.audit(s, .unitLockedDown, actor: actor, unit: unit, detail: ["reason": reason])
                try await alert(
                    s, unit: unit, kind: "lockdown",
                    detail: "\(unit.name) was locked down by \(reason)",
                    nowMs: nowMs)
                let command = try await ledger.storeCommand(
                    s, unitId: unit.id, kind: .lockdown, reason: "staff", lifetime: Self.releaseCommandLifetime)
                commands.append((unit.id, command))
                unit.lockedDownAt = nowMs
                unit.lockdownReason = reason
                outcomes.append(LockdownOutcome(unit: unit, alreadyLockedDown: false))
            }
            return (outcomes, commands)
        }
        for (unitId, command) in commands {
            hub.send(.command(command), to: unitId)
            await states.push(unitId: unitId)
        }
        return outcomes
    }

    /// An administrator lifts a unit's lockdown; the unit is told to release.
    public func releaseLockdown(_ p: Principal, unitId: String) async throws -> UnitRecord {
        try AccessPolicy.require(p, .releaseLockdown)
        return try await releaseLockdown(actor: p.actor) { s in try await ledger.unitInScope(s, unitId, p, lock: true) }
    }

    /// The same from the server's console: break-glass, for when nobody can sign in with a second factor. It is
    /// audited as such and raises a critical alert of its own, so that staff see it when they can sign in again.
    public func releaseLockdownFromConsole(unitId: String) async throws -> UnitRecord {
        try await releaseLockdown(actor: .console, breakGlass: true) { s in
            guard let unit = try await s.lockUnit(unitId) else {
                throw DomainError.notFound("unit \(unitId) not found")
            }
            return unit
        }
    }

    /// Lifts the lockdown in the database, then tells the unit.
    func releaseLockdown(
        actor: Actor, breakGlass: Bool = false, unit find: @Sendable @escaping (StoreSession) async throws -> UnitRecord
    ) async throws -> UnitRecord {
        let nowMs = clock.now().millisecondsSince1970
        let (released, command) = try await ledger.write { s -> (UnitRecord, EdgeCommand) in
            var unit = try await find(s)
            guard let since = unit.lockedDownAt else {
                throw DomainError.invalidState("unit \(unit.name) is not locked down")
            }
            try await s.setLockdown(unit: unit.id, at: nil, reason: nil)
            var detail = ["lockedDownFor": String((nowMs - since) / 1000), "reason": unit.lockdownReason ?? ""]
            if breakGlass {
                detail["breakGlass"] = "true"
                try await alert(
                    s, unit: unit, kind: "lockdown_break_glass",
                    detail:
                        "the lockdown of \(unit.name) was released at the server's console, without a second factor",
                    nowMs: nowMs)
            }
            try await ledger.audit(s, .unitLockdownReleased, actor: actor, unit: unit, detail: detail)
            // The unit is told wherever the lockdown is lifted: now if connected, else when it reconnects, within a day.
            let command = try await ledger.storeCommand(
                s, unitId: unit.id, kind: .release, lifetime: Self.releaseCommandLifetime)
            unit.lockedDownAt = nil
            unit.lockdownReason = nil
            return (unit, command)
        }
        hub.send(.command(command), to: released.id)
        await states.push(unitId: released.id)
        return released
    }
}
