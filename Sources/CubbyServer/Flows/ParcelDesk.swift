import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// The parcel flows: drop-off, deposit, pickup, cancellation, expiry and removal.
///
/// Each flow is one database transaction that writes the state change and its audit events together;
/// door commands go to the unit only after the commit.
public struct ParcelDesk: UnitEventSink {
    public let store: any SQLStore
    public let keys: LockerKeys
    public let policy: PinEntryPolicy
    public let link: any UnitLink
    public let clock: ServerClock
    let logger: Logger

    public init(store: any SQLStore, keys: LockerKeys, policy: PinEntryPolicy = .standard, link: any UnitLink, clock: ServerClock = .system, logger: Logger) {
        self.store = store
        self.keys = keys
        self.policy = policy
        self.link = link
        self.clock = clock
        self.logger = logger
    }

    var limiter: PinEntryLimiter { PinEntryLimiter(policy: policy) }

    /// Moves a parcel along its lifecycle, or fails with `invalidState`.
    static func advance(_ parcel: inout ParcelRecord, on event: ParcelEvent) throws {
        do { parcel.state = try ParcelLifecycle.next(from: parcel.parcelState, on: event).rawValue } catch {
            throw DomainError(error)
        }
    }

    /// Runs a write transaction again when it lost a race (a lock conflict or a unique key taken by a concurrent writer).
    func write<T: Sendable>(_ body: @Sendable @escaping (StoreSession) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do { return try await store.write(body) } catch {
                attempt += 1
                guard attempt < 8, isTransientConflict(error), !(error is DomainError) else { throw error }
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << min(attempt, 5)))))
            }
        }
    }

    // MARK: scope

    /// The unit, if the principal may act on it; otherwise `notFound` as if it did not exist.
    func unitInScope(_ s: StoreSession, _ unitId: String, _ p: Principal, lock: Bool) async throws -> UnitRecord {
        guard let unit = try await (lock ? s.lockUnit(unitId) : s.unit(unitId)), Scope.covers(p, unit: unit) else {
            throw DomainError.notFound("unit \(unitId) not found")
        }
        return unit
    }

    func parcelInScope(_ s: StoreSession, _ parcelId: String, _ p: Principal, lock: Bool) async throws -> ParcelRecord {
        guard let parcel = try await s.parcel(parcelId, lock: lock), Scope.covers(p, parcel: parcel) else {
            throw DomainError.notFound("parcel \(parcelId) not found")
        }
        return parcel
    }

    func audit(_ s: StoreSession, _ type: String, _ outcome: AuditOutcome = .success, actor: Actor, unit: UnitRecord? = nil, parcel: ParcelRecord? = nil, compartmentId: String? = nil, detail: [String: String] = [:]) async throws {
        try await s.appendAudit(auditRecord(type, outcome, actor: actor, unit: unit, parcel: parcel, compartmentId: compartmentId, detail: detail))
    }

    /// An audit event about a unit and/or parcel, stamped now.
    func auditRecord(_ type: String, _ outcome: AuditOutcome = .success, actor: Actor, unit: UnitRecord? = nil, parcel: ParcelRecord? = nil, compartmentId: String? = nil, detail: [String: String] = [:]) -> AuditRecord {
        AuditRecord(
            occurredAt: clock.now(), type: type, outcome: outcome, actor: actor,
            organizationId: UUID(uuidString: unit?.organizationId ?? parcel?.organizationId ?? ""),
            siteId: UUID(uuidString: unit?.siteId ?? parcel?.siteId ?? ""),
            unitId: UUID(uuidString: unit?.id ?? parcel?.unitId ?? ""),
            compartmentId: UUID(uuidString: compartmentId ?? parcel?.compartmentId ?? ""),
            parcelId: UUID(uuidString: parcel?.id ?? ""),
            trackingNumber: parcel?.trackingNumber, detail: detail)
    }

    // MARK: announce and drop-off

    /// A carrier tells the locker a parcel is coming.
    public func announce(_ p: Principal, unitId: String, trackingNumber: String, recipientId: String, size: SizeClass) async throws -> ParcelRecord {
        guard let carrier = p.carrierId?.uuidString.lowercased() else { throw DomainError.forbidden("only carriers and couriers announce parcels") }
        return try await write { s in
            let unit = try await unitInScope(s, unitId, p, lock: false)
            _ = try await recipientInScope(s, recipientId, unit: unit)
            if try await s.liveParcel(carrier: carrier, trackingNumber: trackingNumber) != nil { throw DomainError.duplicateParcel }
            let now = StoredTime.millis(clock.now())
            let parcel = ParcelRecord(
                id: UUID().uuidString.lowercased(), organizationId: unit.organizationId, siteId: unit.siteId, unitId: unit.id,
                carrierId: carrier, recipientId: recipientId, trackingNumber: trackingNumber, size: size, state: .announced, createdAt: now)
            try await s.insertParcel(parcel)
            try await audit(s, "parcel.announced", actor: p.actor, unit: unit, parcel: parcel, detail: ["size": size.rawValue])
            return parcel
        }
    }

    func recipientInScope(_ s: StoreSession, _ recipientId: String, unit: UnitRecord) async throws -> RecipientRecord {
        guard let r = try await s.recipient(recipientId), r.organizationId == unit.organizationId, r.erasedAt == nil else {
            throw DomainError.notFound("recipient \(recipientId) not found")
        }
        return r
    }

    /// The result of a drop-off: the parcel and the compartment whose door is opening.
    public struct Dropoff: Sendable {
        public var parcel: ParcelRecord
        public var compartment: CompartmentRecord
    }

    /// A courier starts a drop-off: best-fit compartment reserved and its door opened.
    public func dropoff(_ p: Principal, unitId: String, trackingNumber: String, recipientId: String, size: SizeClass) async throws -> Dropoff {
        guard let carrier = p.carrierId?.uuidString.lowercased(), p.role == .courier else {
            throw DomainError.forbidden("only couriers drop off parcels")
        }
        let result = try await write { s in
            // Locking the unit serializes drop-offs per unit, so two never get the same compartment.
            let unit = try await unitInScope(s, unitId, p, lock: true)
            let recipient = try await recipientInScope(s, recipientId, unit: unit)
            let now = clock.now()
            let nowMs = StoredTime.millis(now)
            var parcel: ParcelRecord
            if let existing = try await s.liveParcel(carrier: carrier, trackingNumber: trackingNumber) {
                guard existing.parcelState == .announced, existing.recipientId == recipientId, existing.unitId == unit.id else {
                    throw DomainError.duplicateParcel
                }
                parcel = existing
            } else {
                parcel = ParcelRecord(
                    id: UUID().uuidString.lowercased(), organizationId: unit.organizationId, siteId: unit.siteId, unitId: unit.id,
                    carrierId: carrier, recipientId: recipientId, trackingNumber: trackingNumber, size: size, state: .announced, createdAt: nowMs)
                try await s.insertParcel(parcel)
            }
            let free = try await s.freeCompartments(unit: unit.id)
            let candidates = free.map { CompartmentAssignment.Candidate(label: $0.label, size: $0.sizeClass, accessible: $0.accessible) }
            guard let index = CompartmentAssignment.choose(parcel: size, recipientNeedsAccessible: recipient.needsAccessible, free: candidates) else {
                throw DomainError.unitFull
            }
            var compartment = free[index]
            let site = try await s.site(unit.siteId)
            try Self.advance(&parcel, on: .reserve)
            parcel.size = size.rawValue
            parcel.compartmentId = compartment.id
            parcel.reservedUntil = nowMs + (site?.reservationSeconds ?? 600) * 1000
            parcel.updatedAt = nowMs
            try await s.saveParcel(parcel)
            compartment.state = CompartmentState.reserved.rawValue
            compartment.parcelId = parcel.id
            try await s.saveCompartment(compartment)
            try await audit(s, "parcel.reserved", actor: p.actor, unit: unit, parcel: parcel,
                            detail: ["size": size.rawValue, "compartmentSize": compartment.size, "accessible": String(compartment.accessible)])
            try await audit(s, "door.open_commanded", actor: p.actor, unit: unit, parcel: parcel, detail: ["reason": "dropoff"])
            return Dropoff(parcel: parcel, compartment: compartment)
        }
        await link.openDoor(unitId: unitId, compartmentId: result.compartment.id, reason: .dropoff)
        return result
    }

    // MARK: door events and deposit

    public func unitReported(_ event: UnitDoorEvent) async {
        do {
            _ = try await handle(event, actor: Actor(kind: .device, id: event.unitId, role: "device"))
        } catch {
            logger.error("unit event failed", metadata: ["unit": "\(event.unitId)", "error": "\(error)"])
        }
    }

    /// Applies a door event from a unit. A door closed on a parcel completes its deposit.
    @discardableResult
    public func handle(_ event: UnitDoorEvent, actor: Actor) async throws -> ParcelRecord? {
        try await write { s in try await handle(s, event, actor: actor) }
    }

    /// Applies a door event inside the caller's transaction.
    func handle(_ s: StoreSession, _ event: UnitDoorEvent, actor: Actor, detail extra: [String: String] = [:]) async throws -> ParcelRecord? {
        do {
            guard let unit = try await s.unit(event.unitId), var compartment = try await s.compartment(event.compartmentId),
                compartment.unitId == unit.id
            else { throw DomainError.notFound("compartment \(event.compartmentId) not found at unit \(event.unitId)") }
            let now = clock.now()
            var parcel: ParcelRecord? = nil
            if let pid = compartment.parcelId { parcel = try await s.parcel(pid, lock: true) }
            switch event.kind {
            case .doorOpened:
                compartment.door = DoorState.open.rawValue
                try await s.saveCompartment(compartment)
                try await audit(s, "door.opened", actor: actor, unit: unit, parcel: parcel, compartmentId: compartment.id, detail: extra)
                return parcel
            case .doorClosed:
                compartment.door = DoorState.closed.rawValue
                let item = event.itemPresent ?? false
                try await audit(s, "door.closed", actor: actor, unit: unit, parcel: parcel, compartmentId: compartment.id, detail: extra.merging(["itemPresent": String(item)]) { a, _ in a })
                if var parcel, compartment.compartmentState == .reserved, parcel.parcelState == .reserved, item {
                    try await deposit(s, &parcel, &compartment, unit: unit, now: now, actor: actor)
                    try await s.saveCompartment(compartment)
                    return parcel
                }
                if compartment.compartmentState == .occupied, let p = parcel, [.pickedUp, .removed].contains(p.parcelState) {
                    if item {
                        try await audit(s, "compartment.item_left", .failure, actor: actor, unit: unit, parcel: p, compartmentId: compartment.id)
                    } else {
                        compartment.state = CompartmentState.available.rawValue
                        compartment.parcelId = nil
                        try await audit(s, "compartment.freed", actor: actor, unit: unit, parcel: p, compartmentId: compartment.id)
                    }
                }
                try await s.saveCompartment(compartment)
                return parcel
            }
        }
    }

    func deposit(_ s: StoreSession, _ parcel: inout ParcelRecord, _ compartment: inout CompartmentRecord, unit: UnitRecord, now: Date, actor: Actor) async throws {
        let nowMs = StoredTime.millis(now)
        let lifetime = try await s.site(unit.siteId)?.pickupLifetimeSeconds ?? 604_800
        let expires = now.addingTimeInterval(TimeInterval(lifetime))
        try Self.advance(&parcel, on: .deposit)
        parcel.depositedAt = nowMs
        parcel.expiresAt = StoredTime.millis(expires)
        parcel.reservedUntil = nil
        parcel.updatedAt = nowMs
        try await s.saveParcel(parcel)
        compartment.state = CompartmentState.occupied.rawValue

        // A PIN unique among the unit's live PINs (the unique index backs this up against races).
        var pin = ""
        var hash = Data()
        let pinKey = keys.unitPinKey(unit.id)
        for _ in 0..<16 {
            pin = SecretGenerator.digits(policy.pinLength)
            hash = Data(pinKey.hash(pin: pin))
            if try await s.livePickupCredential(unit: unit.id, pinHash: hash) == nil { break }
            pin = ""
        }
        guard !pin.isEmpty else { throw DomainError.invalidState("could not draw a unique PIN") }
        let claims = QRTokenClaims(parcel: UUID(uuidString: parcel.id)!, unit: UUID(uuidString: unit.id)!, compartment: UUID(uuidString: compartment.id)!, expiresAt: expires)
        let qr = try keys.qr.issue(claims)
        try await s.insertPickupCredential(PickupCredentialRecord(
            id: UUID().uuidString.lowercased(), parcelId: parcel.id, unitId: unit.id, compartmentId: compartment.id,
            pinHash: hash, qrNonce: claims.n, createdAt: nowMs, expiresAt: parcel.expiresAt!))

        let notificationId = UUID().uuidString.lowercased()
        let note = ParcelReadyNotification(
            notificationId: notificationId, kind: "parcel.deposited", recipientId: parcel.recipientId, parcelId: parcel.id,
            trackingNumber: parcel.trackingNumber, unitId: unit.id, unitName: unit.name, compartmentLabel: compartment.label,
            pin: pin, qr: qr, expiresAt: AuditCanonicalEncoding.timestamp(expires))
        let sealed = try keys.outbox.seal(try JSONEncoder().encode(note), context: "outbox:" + notificationId)
        try await s.enqueueNotification(id: notificationId, kind: note.kind, recipient: parcel.recipientId, parcel: parcel.id, payload: sealed, at: nowMs)

        try await audit(s, "parcel.deposited", actor: actor, unit: unit, parcel: parcel, compartmentId: compartment.id)
        try await audit(s, "credential.issued", actor: .system, unit: unit, parcel: parcel, compartmentId: compartment.id,
                        detail: ["credentials": "pin,qr", "expiresAt": note.expiresAt])
    }

    // MARK: pickup

    /// The outcome of a pickup attempt once its transaction has committed.
    enum PickupOutcome: Sendable {
        case opened(ParcelRecord, CompartmentRecord)
        case rejected
        case lockedOut(Duration, LockoutReason)
    }

    /// A recipient presents a PIN or a QR token at a unit's kiosk.
    public func pickup(_ p: Principal, unitId: String, code rawCode: String) async throws -> (ParcelRecord, CompartmentRecord) {
        let code = rawCode.trimmingCharacters(in: .whitespacesAndNewlines)
        let isQR = code.hasPrefix(QRTokenSigner.prefix)
        // The PIN's keyed hash needs no database: it is computed before the transaction, off the writer.
        let digits = code.filter { $0 != " " && $0 != "-" }
        let pinHash = isQR ? Data() : keys.pinHash(unitId: unitId, pin: digits)
        let outcome = try await write { s -> PickupOutcome in
            let unit = try await unitInScope(s, unitId, p, lock: true)
            guard p.role == .device, p.unitId?.uuidString.lowercased() == unit.id else {
                throw DomainError.notFound("unit \(unitId) not found")
            }
            let now = clock.now()
            let nowMs = StoredTime.millis(now)
            if isQR { return try await pickupByQR(s, unit: unit, token: code, actor: p.actor, nowMs: nowMs) }
            return try await pickupByPIN(s, unit: unit, digits: digits, hash: pinHash, actor: p.actor, now: now)
        }
        switch outcome {
        case .opened(let parcel, let compartment):
            await link.openDoor(unitId: unitId, compartmentId: compartment.id, reason: .pickup)
            return (parcel, compartment)
        case .rejected:
            throw DomainError.invalidCode
        case .lockedOut(let retry, let reason):
            throw DomainError.lockedOut(retryAfterSeconds: max(1, Int(retry.seconds.rounded(.up))), reason: reason)
        }
    }

    /// `hash` is the keyed hash of `digits` under the unit's PIN key.
    func pickupByPIN(_ s: StoreSession, unit: UnitRecord, digits: String, hash: Data, actor: Actor, now: Date) async throws -> PickupOutcome {
        var unit = unit
        let nowMs = StoredTime.millis(now)
        let windowStart = nowMs - 86_400_000
        let failures = (unit.pinLastFailureAt ?? 0) > windowStart
            ? try await s.pinFailures(unit: unit.id, since: windowStart).map(StoredTime.date) : []
        switch limiter.decide(state: unit.pinEntry, recentFailures: failures, now: now) {
        case .lockedOut(let retry, let reason):
            try await audit(s, "pickup.refused", .denied, actor: actor, unit: unit, detail: ["method": "pin", "reason": reason.rawValue])
            return .lockedOut(retry, reason)
        case .evaluate:
            break
        }
        // The hash and the lookup run whatever the input, so a malformed code costs what a wrong one does.
        let match = try await s.pickupMatch(unit: unit.id, pinHash: hash)
        let wellFormed = digits.count == policy.pinLength && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
        if wellFormed, let (credential, parcel, compartment) = match,
            KeyedHasher.constantTimeEquals([UInt8](credential.pinHash), [UInt8](hash)), credential.expiresAt > nowMs,
            parcel.parcelState == .deposited, parcel.compartmentId == compartment.id
        {
            var parcel = parcel
            let before = unit.pinEntry
            unit.pinEntry = limiter.afterSuccess(state: before)
            if unit.pinEntry != before { try await s.savePinEntry(unit) }
            return try await completePickup(s, &parcel, compartment: compartment, unit: unit, actor: actor, method: "pin", nowMs: nowMs)
        }
        try await s.recordPinFailure(unit: unit.id, at: nowMs)
        let before = unit.pinEntry
        unit.pinEntry = limiter.afterFailure(state: before, failuresInWindow: failures.count + 1, now: now)
        unit.pinLastFailureAt = nowMs
        try await s.savePinEntry(unit)
        try await audit(s, "pickup.code_rejected", .failure, actor: actor, unit: unit,
                        detail: ["method": "pin", "consecutiveFailures": String(unit.pinEntry.consecutiveFailures)])
        if let until = unit.pinEntry.lockedUntil, until > now {
            try await audit(s, "unit.pin_locked_out", .denied, actor: .system, unit: unit,
                            detail: ["seconds": String(Int(until.timeIntervalSince(now).rounded()))])
        }
        if unit.pinEntry.suspended && !before.suspended {
            try await audit(s, "unit.pin_entry_suspended", .denied, actor: .system, unit: unit,
                            detail: ["failuresLast24h": String(failures.count + 1)])
        }
        return .rejected
    }

    func pickupByQR(_ s: StoreSession, unit: UnitRecord, token: String, actor: Actor, nowMs: Int64) async throws -> PickupOutcome {
        if let claims = keys.qr.verify(token), claims.u.uuidString.lowercased() == unit.id, StoredTime.millis(claims.expiresAt) > nowMs,
            var parcel = try await s.parcel(claims.p.uuidString.lowercased(), lock: true), parcel.parcelState == .deposited,
            parcel.compartmentId == claims.c.uuidString.lowercased(),
            try await s.livePickupCredentials(parcel: parcel.id).contains(where: { $0.qrNonce == claims.n }),
            let compartment = try await s.compartment(claims.c.uuidString.lowercased())
        {
            return try await completePickup(s, &parcel, compartment: compartment, unit: unit, actor: actor, method: "qr", nowMs: nowMs)
        }
        try await audit(s, "pickup.code_rejected", .failure, actor: actor, unit: unit, detail: ["method": "qr"])
        return .rejected
    }

    func completePickup(_ s: StoreSession, _ parcel: inout ParcelRecord, compartment: CompartmentRecord, unit: UnitRecord, actor: Actor, method: String, nowMs: Int64) async throws -> PickupOutcome {
        try Self.advance(&parcel, on: .pickUp)
        parcel.pickedUpAt = nowMs
        parcel.updatedAt = nowMs
        try await s.saveParcel(parcel)
        try await s.endPickupCredentials(parcel: parcel.id, state: "used", at: nowMs)
        try await s.appendAudit([
            auditRecord("pickup.succeeded", actor: actor, unit: unit, parcel: parcel, detail: ["method": method]),
            auditRecord("door.open_commanded", actor: actor, unit: unit, parcel: parcel, detail: ["reason": "pickup"]),
        ])
        return .opened(parcel, compartment)
    }

    // MARK: staff and carrier actions

    /// Calls off an announced or reserved parcel; a reserved compartment is freed.
    public func cancel(_ p: Principal, parcelId: String, reason: String = "requested") async throws -> ParcelRecord {
        try await write { s in
            var parcel = try await parcelInScope(s, parcelId, p, lock: true)
            return try await cancel(s, &parcel, actor: p.actor, reason: reason)
        }
    }

    func cancel(_ s: StoreSession, _ parcel: inout ParcelRecord, actor: Actor, reason: String) async throws -> ParcelRecord {
        let nowMs = StoredTime.millis(clock.now())
        let held = parcel.parcelState == .reserved
        try Self.advance(&parcel, on: .cancel)
        parcel.cancelledAt = nowMs
        parcel.updatedAt = nowMs
        parcel.reservedUntil = nil
        if held, let cid = parcel.compartmentId, var c = try await s.compartment(cid), c.parcelId == parcel.id {
            c.state = CompartmentState.available.rawValue
            c.parcelId = nil
            try await s.saveCompartment(c)
        }
        try await s.saveParcel(parcel)
        try await s.endPickupCredentials(parcel: parcel.id, state: "revoked", at: nowMs)
        try await audit(s, "parcel.cancelled", actor: actor, parcel: parcel, detail: ["reason": reason])
        return parcel
    }

    /// Staff take an expired parcel out: the door opens and the compartment is freed when it closes empty.
    public func remove(_ p: Principal, parcelId: String) async throws -> ParcelRecord {
        try AccessPolicy.require(p, .removeParcel)
        let parcel = try await write { s in
            var parcel = try await parcelInScope(s, parcelId, p, lock: true)
            let nowMs = StoredTime.millis(clock.now())
            try Self.advance(&parcel, on: .remove)
            parcel.removedAt = nowMs
            parcel.updatedAt = nowMs
            try await s.saveParcel(parcel)
            try await audit(s, "parcel.removed", actor: p.actor, parcel: parcel)
            try await audit(s, "door.open_commanded", actor: p.actor, parcel: parcel, detail: ["reason": "removal"])
            return parcel
        }
        if let cid = parcel.compartmentId { await link.openDoor(unitId: parcel.unitId, compartmentId: cid, reason: .removal) }
        return parcel
    }

    /// Lifts a suspension or lockout of PIN entry at a unit; the 24-hour failure budget still holds.
    public func resumePinEntry(_ p: Principal, unitId: String) async throws -> UnitRecord {
        try AccessPolicy.require(p, .resumePinEntry)
        return try await write { s in
            var unit = try await unitInScope(s, unitId, p, lock: true)
            let before = unit.pinEntry
            unit.pinEntry = limiter.afterResume(state: before)
            try await s.savePinEntry(unit)
            try await audit(s, "unit.pin_entry_resumed", actor: p.actor, unit: unit, detail: ["wasSuspended": String(before.suspended)])
            return unit
        }
    }

    // MARK: expiry

    /// Moves overdue parcels to `expired` and cancels drop-offs that were never completed. Returns how many changed.
    @discardableResult
    public func expireDue(batch: Int = 200) async throws -> Int {
        let nowMs = StoredTime.millis(clock.now())
        var changed = 0
        let overdue = try await store.read { s in try await s.overdueParcels(now: nowMs, limit: batch) }
        for id in overdue {
            changed += try await write { s -> Int in
                guard var parcel = try await s.parcel(id, lock: true), parcel.parcelState == .deposited,
                    let exp = parcel.expiresAt, exp <= nowMs
                else { return 0 }
                try Self.advance(&parcel, on: .expire)
                parcel.expiredAt = nowMs
                parcel.updatedAt = nowMs
                try await s.saveParcel(parcel)
                try await s.endPickupCredentials(parcel: parcel.id, state: "revoked", at: nowMs)
                try await audit(s, "parcel.expired", actor: .system, parcel: parcel)
                return 1
            }
        }
        let stale = try await store.read { s in try await s.staleReservations(now: nowMs, limit: batch) }
        for id in stale {
            changed += try await write { s -> Int in
                guard var parcel = try await s.parcel(id, lock: true), parcel.parcelState == .reserved,
                    let until = parcel.reservedUntil, until <= nowMs
                else { return 0 }
                _ = try await cancel(s, &parcel, actor: .system, reason: "reservation_timeout")
                return 1
            }
        }
        try await write { s in try await s.prunePinFailures(before: nowMs - 86_400_000) }
        return changed
    }

    // MARK: reads

    public func parcel(_ p: Principal, id: String) async throws -> ParcelRecord {
        try await store.read { s in try await parcelInScope(s, id, p, lock: false) }
    }

    /// A unit with its compartments and PIN-entry status.
    public struct UnitView: Sendable {
        public var unit: UnitRecord
        public var compartments: [CompartmentRecord]
        public var failuresLast24h: Int
    }

    public func unit(_ p: Principal, id: String) async throws -> UnitView {
        try AccessPolicy.require(p, .readUnit)
        let nowMs = StoredTime.millis(clock.now())
        return try await store.read { s in
            let unit = try await unitInScope(s, id, p, lock: false)
            return UnitView(
                unit: unit, compartments: try await s.compartments(unit: unit.id),
                failuresLast24h: try await s.pinFailures(unit: unit.id, since: nowMs - 86_400_000).count)
        }
    }
}
