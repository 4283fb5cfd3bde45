import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// Pickups at a unit's kiosk, checked by the server: the shared code rules, the unit's PIN-entry limits, and the one
/// pickup transition.
extension ParcelDesk {
    /// The outcome of a pickup attempt once its transaction has committed.
    enum PickupOutcome: Sendable {
        case opened(ParcelRecord, CompartmentRecord, DoorCommand)
        case rejected
        case lockedOut(Duration, LockoutReason)
        case unitLockedDown
    }

    /// A recipient presents a PIN or a QR token at a unit's kiosk.
    public func pickup(_ p: Principal, unitId: String, code rawCode: String) async throws -> (
        ParcelRecord, CompartmentRecord
    ) {
        let code = PresentedCode(rawCode)
        // The PIN's keyed hash needs no database: it is computed before the transaction, off the writer.
        var pinHash: [UInt8] = []
        if case .pin(let digits) = code { pinHash = keys.unitPinKey(unitId).hash(pin: digits) }
        let outcome = try await ledger.write { [pinHash] s -> PickupOutcome in
            let unit = try await ledger.unitInScope(s, unitId, p, lock: true)
            guard p.role == .device, p.unitId?.idString == unit.id else {
                throw DomainError.notFound("unit \(unitId) not found")
            }
            // A locked-down unit opens no door: the code is neither checked nor spent, and the refusal is recorded.
            if unit.lockedDownAt != nil {
                try await ledger.audit(
                    s, .pickupRefused, .denied, actor: p.actor, unit: unit,
                    detail: ["method": code.method, "reason": "lockdown"])
                return .unitLockedDown
            }
            switch code {
            case .qr(let token): return try await pickupByQR(s, unit: unit, token: token, actor: p.actor)
            case .pin(let digits):
                return try await pickupByPIN(s, unit: unit, digits: digits, hash: pinHash, actor: p.actor)
            }
        }
        switch outcome {
        case .opened(let parcel, let compartment, let door):
            await link.deliver(door)
            return (parcel, compartment)
        case .rejected:
            throw DomainError.invalidCode
        case .unitLockedDown:
            throw DomainError.unitLockedDown
        case .lockedOut(let retry, let reason):
            throw DomainError.lockedOut(retryAfterSeconds: max(1, Int(retry.seconds.rounded(.up))), reason: reason)
        }
    }

    /// `hash` is the keyed hash of `digits` under the unit's PIN key.
    func pickupByPIN(_ s: StoreSession, unit: UnitRecord, digits: String, hash: [UInt8], actor: Actor) async throws
        -> PickupOutcome
    {
        var unit = unit
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        let windowStart = nowMs - PickupCodeRules.failureWindow
        let failures =
            (unit.pinLastFailureAt ?? 0) > windowStart
            ? try await s.pinFailures(unit: unit.id, since: windowStart).map { Date(millisecondsSince1970: $0) } : []
        switch limiter.decide(state: unit.pinEntry, recentFailures: failures, now: now) {
        case .lockedOut(let retry, let reason):
            try await ledger.audit(
                s, .pickupRefused, .denied, actor: actor, unit: unit,
                detail: ["method": "pin", "reason": reason.rawValue])
            return .lockedOut(retry, reason)
        case .evaluate:
            break
        }
        // The lookup runs whatever the input, so a malformed code costs what a wrong one does.
        let candidate = try await s.pickupMatch(unit: unit.id, pinHash: Data(hash))
        let live = candidate.map { LivePickupCode($0.0) }.map { [$0] } ?? []
        if rules.matchPIN(digits, hash: hash, among: live, now: nowMs) != nil, let (_, parcel, compartment) = candidate,
            parcel.state == .deposited, parcel.compartmentId == compartment.id
        {
            var parcel = parcel
            let before = unit.pinEntry
            unit.pinEntry = limiter.afterSuccess(state: before)
            if unit.pinEntry != before { try await s.savePinEntry(unit) }
            return try await completePickup(
                s, &parcel, compartment: compartment, unit: unit, actor: actor, method: "pin")
        }
        try await s.recordPinFailure(unit: unit.id, at: nowMs)
        let before = unit.pinEntry
        unit.pinEntry = limiter.afterFailure(state: before, failuresInWindow: failures.count + 1, now: now)
        unit.pinLastFailureAt = nowMs
        try await s.savePinEntry(unit)
        try await ledger.audit(
            s, .pickupCodeRejected, .failure, actor: actor, unit: unit,
            detail: ["method": "pin", "consecutiveFailures": String(unit.pinEntry.consecutiveFailures)])
        if let until = unit.pinEntry.lockedUntil, until > now {
            try await ledger.audit(
                s, .unitPinLockedOut, .denied, actor: .system, unit: unit,
                detail: ["seconds": String(Int(until.timeIntervalSince(now).rounded()))])
        }
        if unit.pinEntry.suspended && !before.suspended {
            try await ledger.audit(
                s, .unitPinEntrySuspended, .denied, actor: .system, unit: unit,
                detail: ["failuresLast24h": String(failures.count + 1)])
        }
        return .rejected
    }

    func pickupByQR(_ s: StoreSession, unit: UnitRecord, token: String, actor: Actor) async throws -> PickupOutcome {
        let nowMs = clock.now().millisecondsSince1970
        if let claims = rules.verifyQR(
            token, keys: try await keys.signing.qrKeys(s, now: nowMs), unitId: unit.id, now: nowMs),
            var parcel = try await s.parcel(claims.p.idString, lock: true), parcel.state == .deposited,
            parcel.compartmentId == claims.c.idString,
            rules.matchQR(
                claims, among: try await s.livePickupCredentials(parcel: parcel.id).map(LivePickupCode.init), now: nowMs
            ) != nil,
            let compartment = try await s.compartment(claims.c.idString)
        {
            return try await completePickup(
                s, &parcel, compartment: compartment, unit: unit, actor: actor, method: "qr")
        }
        try await ledger.audit(s, .pickupCodeRejected, .failure, actor: actor, unit: unit, detail: ["method": "qr"])
        return .rejected
    }

    func completePickup(
        _ s: StoreSession, _ parcel: inout ParcelRecord, compartment: CompartmentRecord, unit: UnitRecord, actor: Actor,
        method: String
    ) async throws -> PickupOutcome {
        let succeeded = try await PickupTransition.apply(
            s, ledger: ledger, notices: doors.notices, parcel: &parcel, unit: unit, actor: actor,
            pickedUpAt: clock.now().millisecondsSince1970,
            detail: ["method": method])
        let door = try await ledger.openDoor(
            s, unit: unit, compartmentId: compartment.id, reason: .pickup, actor: actor, parcel: parcel,
            after: [succeeded])
        return .opened(parcel, compartment, door)
    }
}

extension LivePickupCode {
    /// A stored pickup credential as the code rules see it.
    init(_ record: PickupCredentialRecord) {
        self.init(
            parcelId: record.parcelId, compartmentId: record.compartmentId, pinHash: [UInt8](record.pinHash),
            qrNonce: record.qrNonce, expiresAt: record.expiresAt)
    }
}
