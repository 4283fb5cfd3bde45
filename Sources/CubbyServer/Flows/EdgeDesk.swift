import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Crypto
import Foundation
import Logging

/// The server's side of the units' edge controllers: enrollment, the unit's state, applying journaled
/// events exactly once, command acknowledgements, couriers at the kiosk, and lockdown release.
public struct EdgeDesk: Sendable {
    public let desk: ParcelDesk
    let authenticator: Authenticator
    let logger: Logger
    /// Failed enrollment attempts per address.
    let limiter = AddressLimiter(capacity: 10, refill: 60)
    /// Where commands go to connected units.
    let hub: EdgeHub

    /// How long an enrollment code stays valid.
    public static let enrollmentCodeLifetime: TimeInterval = 24 * 3600
    /// How long an open command may wait for its unit: a door opening later than this would surprise whoever stands there.
    public static let openCommandLifetime: TimeInterval = 60

    init(desk: ParcelDesk, authenticator: Authenticator, hub: EdgeHub, logger: Logger) {
        self.desk = desk
        self.hub = hub
        self.authenticator = authenticator
        self.logger = logger
    }

    var store: any SQLStore { desk.store }
    var keys: LockerKeys { desk.keys }
    var clock: ServerClock { desk.clock }

    // MARK: enrollment

    /// A one-time code with which the unit's edge controller enrolls (shown once).
    public func issueEnrollmentCode(_ p: Principal, unitId: String) async throws -> (code: String, expiresAt: Date) {
        try AccessPolicy.require(p, .enrollUnit)
        return try await issueEnrollmentCode(actor: p.actor) { s in try await desk.unitInScope(s, unitId, p, lock: false) }
    }

    /// The same from the server's console (`cubby unit enroll-code`, the demo), which runs with the operator's rights.
    public func issueEnrollmentCodeFromConsole(unitId: String) async throws -> (code: String, expiresAt: Date) {
        try await issueEnrollmentCode(actor: .console) { s in
            guard let unit = try await s.unit(unitId) else { throw DomainError.notFound("unit \(unitId) not found") }
            return unit
        }
    }

    func issueEnrollmentCode(actor: Actor, unit find: @Sendable @escaping (StoreSession) async throws -> UnitRecord) async throws -> (code: String, expiresAt: Date) {
        let code = EnrollmentCode.make()
        let now = clock.now()
        let expires = now.addingTimeInterval(Self.enrollmentCodeLifetime)
        try await desk.write { s in
            let unit = try await find(s)
            try await s.insertUnitEnrollmentCode(
                hash: keys.unitEnrollmentHash(EnrollmentCode.normalize(code)), unit: unit.id, at: StoredTime.millis(now),
                expiresAt: StoredTime.millis(expires))
            try await desk.audit(s, "unit.enrollment_code_issued", actor: actor, unit: unit,
                                 detail: ["expiresAt": AuditCanonicalEncoding.timestamp(expires)])
        }
        return (code, expires)
    }

    /// What an enrolled edge controller receives once.
    public struct Enrollment: Codable, Sendable {
        public var unitId: String
        public var unitName: String
        public var deviceToken: String
    }

    /// Exchanges a one-time code for the unit's own device credential. Unknown, used and expired codes get one answer.
    public func enroll(code: String, label: String?, address: String = "local") async throws -> Enrollment {
        if let wait = await limiter.retryAfter(address, now: clock.now()) {
            throw DomainError.lockedOut(retryAfterSeconds: wait, reason: .lockout)
        }
        do { return try await enroll(code: code, label: label) } catch DomainError.invalidCode {
            await limiter.recordFailure(address, now: clock.now())
            throw DomainError.invalidCode
        }
    }

    func enroll(code: String, label: String?) async throws -> Enrollment {
        let normalized = EnrollmentCode.normalize(code)
        guard EnrollmentCode.isWellFormed(normalized) else { throw DomainError.invalidCode }
        let token = SecretGenerator.credential(prefix: "cby_device_")
        let nowMs = StoredTime.millis(clock.now())
        return try await desk.write { s in
            guard let unitId = try await s.claimUnitEnrollmentCode(hash: keys.unitEnrollmentHash(normalized), now: nowMs),
                let unit = try await s.unit(unitId)
            else { throw DomainError.invalidCode }
            let name = String((label ?? "").prefix(80)).trimmingCharacters(in: .whitespacesAndNewlines)
            let credential = CredentialRecord(
                id: UUID().uuidString.lowercased(), kind: "device", tokenHash: keys.credentialHash(token), organizationId: unit.organizationId,
                unitId: unit.id, label: name.isEmpty ? "edge controller of \(unit.name)" : name, createdAt: nowMs)
            try await s.insertCredential(credential)
            try await s.markEdgeEnrolled(unit: unit.id, at: nowMs)
            try await desk.audit(s, "unit.edge_enrolled", actor: .system, unit: unit, detail: ["credentialId": credential.id])
            return Enrollment(unitId: unit.id, unitName: unit.name, deviceToken: token)
        }
    }

    // MARK: state

    /// Everything the unit needs to serve pickups by itself.
    public func state(unitId: String) async throws -> EdgeUnitState {
        let nowMs = StoredTime.millis(clock.now())
        return try await store.read { s in
            guard let unit = try await s.unit(unitId) else { throw DomainError.notFound("unit \(unitId) not found") }
            let compartments = try await s.compartments(unit: unit.id).sorted { $0.label.localizedStandardCompare($1.label) == .orderedAscending }
            let codes = try await s.livePickupCredentials(unit: unit.id, now: nowMs)
            return EdgeUnitState(
                unitId: unit.id, unitName: unit.name,
                compartments: compartments.enumerated().map { i, c in
                    let wire = EdgeCompartment.wiring(index: i)
                    return EdgeCompartment(id: c.id, label: c.label, size: c.size, board: wire.board, channel: wire.channel,
                                           outOfService: c.compartmentState == .outOfService)
                },
                pinPolicy: desk.policy, pinKey: keys.unitPinKey(unit.id).base64,
                qrPublicKey: keys.qr.publicKey.rawRepresentation.base64EncodedString(),
                codes: codes.map {
                    EdgePickupCode(parcelId: $0.parcelId, compartmentId: $0.compartmentId, pinHash: $0.pinHash.base64EncodedString(),
                                   qrNonce: $0.qrNonce, expiresAt: $0.expiresAt)
                },
                lockedDown: unit.lockedDownAt != nil)
        }
    }

    /// The sequence number of the newest event stored for the unit (0 when none).
    public func lastSeq(unitId: String) async throws -> Int64 {
        try await store.read { s in try await s.lastDeviceEvent(unit: unitId)?.seq ?? 0 }
    }

    // MARK: events

    /// What applying one event did.
    public struct Applied: Sendable, Equatable {
        /// False when the event had been applied before (a replay after a lost acknowledgement).
        public var isNew: Bool
        /// The unit's pickup codes or lockdown changed: send it its state.
        public var stateChanged: Bool
    }

    /// Applies one journaled event, exactly once: the event row and every change it causes share one transaction.
    public func apply(unitId: String, event: EdgeEvent, photo: Data?) async throws -> Applied {
        guard event.seq > 0 else { throw DomainError.invalidState("event sequence numbers start at 1") }
        if let photo {
            guard let claimed = event.photoSHA256, claimed == Hex.sha256(photo) else {
                throw DomainError.invalidState("the photo does not match the event's SHA-256")
            }
        }
        let body = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        let actor = Actor(kind: .device, id: unitId, role: "device")
        let now = clock.now()
        let nowMs = StoredTime.millis(now)
        return try await desk.write { s -> Applied in
            guard let unit = try await s.unit(unitId) else { throw DomainError.notFound("unit \(unitId) not found") }
            let last = try await s.lastDeviceEvent(unit: unit.id)
            let record = DeviceEventRecord(
                unitId: unit.id, seq: event.seq, kind: event.kind.rawValue, hash: event.hash, previousHash: event.previousHash,
                occurredAt: event.occurredAt, receivedAt: nowMs, body: body)
            guard try await s.insertDeviceEvent(record) else { return Applied(isNew: false, stateChanged: false) }

            var detail: [String: String] = ["deviceSeq": String(event.seq), "unitTime": String(event.occurredAt)]
            if let sha = event.photoSHA256 {
                detail[EvidenceBundle.evidenceKey] = sha
                if let photo { try await s.insertEvidence(sha256: sha, unit: unit.id, contentType: "image/jpeg", bytes: photo, at: nowMs) }
            }
            try await checkSequence(s, unit: unit, event: event, last: last, actor: actor, nowMs: nowMs)
            return Applied(isNew: true, stateChanged: try await effects(s, unit: unit, event: event, actor: actor, detail: detail, now: now))
        }
    }

    /// Raises an alert when the unit's journal skipped numbers or its hash chain broke.
    func checkSequence(_ s: StoreSession, unit: UnitRecord, event: EdgeEvent, last: DeviceEventRecord?, actor: Actor, nowMs: Int64) async throws {
        let expected = (last?.seq ?? 0) + 1
        if event.seq > expected {
            try await alert(s, unit: unit, kind: "edge.sequence_gap", detail: "events \(expected)–\(event.seq - 1) never arrived", nowMs: nowMs)
            try await desk.audit(s, "unit.journal_gap", .failure, actor: actor, unit: unit,
                                 detail: ["missingFrom": String(expected), "missingTo": String(event.seq - 1)])
        } else if event.seq < expected {
            // An older event arriving late fills a gap reported before; the chain is checked against its neighbour if present.
            if let prev = try await s.deviceEvent(unit: unit.id, seq: event.seq - 1), prev.hash != event.previousHash {
                try await chainBroken(s, unit: unit, event: event, actor: actor, nowMs: nowMs)
            }
            return
        }
        let breaksChain = event.seq == expected && last.map { $0.hash != event.previousHash } == true
        if EdgeJournalHash.hash(previous: event.previousHash, event: event) != event.hash || breaksChain {
            try await chainBroken(s, unit: unit, event: event, actor: actor, nowMs: nowMs)
        }
    }

    func chainBroken(_ s: StoreSession, unit: UnitRecord, event: EdgeEvent, actor: Actor, nowMs: Int64) async throws {
        try await alert(s, unit: unit, kind: "edge.chain_broken", detail: "event \(event.seq) does not continue the unit's hash chain", nowMs: nowMs)
        try await desk.audit(s, "unit.journal_chain_broken", .failure, actor: actor, unit: unit, detail: ["deviceSeq": String(event.seq)])
    }

    func alert(_ s: StoreSession, unit: UnitRecord, compartmentId: String? = nil, kind: String, detail: String, nowMs: Int64) async throws {
        try await s.insertAlert(AlertRecord(
            id: UUID().uuidString.lowercased(), organizationId: unit.organizationId, siteId: unit.siteId, unitId: unit.id,
            compartmentId: compartmentId, kind: kind, detail: detail, createdAt: nowMs))
    }

    /// What one event changes on the server; true when the unit's state (codes, lockdown) changed.
    func effects(_ s: StoreSession, unit: UnitRecord, event: EdgeEvent, actor: Actor, detail: [String: String], now: Date) async throws -> Bool {
        let nowMs = StoredTime.millis(now)
        var d = detail
        for (k, v) in event.detail where d[k] == nil { d[k] = v }
        switch event.kind {
        case .doorOpened, .doorClosed:
            guard let cid = event.compartmentId else { throw DomainError.invalidState("a door event names its compartment") }
            let item = event.detail["itemPresent"].map { $0 == "true" }
            let door = UnitDoorEvent(kind: event.kind == .doorOpened ? .doorOpened : .doorClosed, unitId: unit.id, compartmentId: cid,
                                     itemPresent: item, occurredAt: Date(timeIntervalSince1970: TimeInterval(event.occurredAt) / 1000))
            let parcel = try await desk.handle(s, door, actor: actor, detail: detail)
            return event.kind == .doorClosed && parcel?.parcelState == .deposited
        case .pickup:
            guard let pid = event.parcelId, var parcel = try await s.parcel(pid, lock: true), parcel.unitId == unit.id else {
                try await alert(s, unit: unit, kind: "edge.unknown_pickup", detail: "the unit reported a pickup of an unknown parcel", nowMs: nowMs)
                return true
            }
            guard parcel.parcelState == .deposited else {
                try await desk.audit(s, "pickup.conflict", .failure, actor: actor, unit: unit, parcel: parcel, detail: d.merging(["state": parcel.state]) { a, _ in a })
                try await alert(s, unit: unit, compartmentId: parcel.compartmentId, kind: "edge.pickup_conflict",
                                detail: "the unit opened a compartment for a parcel that is \(parcel.state)", nowMs: nowMs)
                return true
            }
            try ParcelDesk.advance(&parcel, on: .pickUp)
            parcel.pickedUpAt = min(event.occurredAt, nowMs)
            parcel.updatedAt = nowMs
            try await s.saveParcel(parcel)
            try await s.endPickupCredentials(parcel: parcel.id, state: "used", at: nowMs)
            try await desk.audit(s, "pickup.succeeded", actor: actor, unit: unit, parcel: parcel, detail: d)
            return true
        case .codeRejected:
            try await s.recordPinFailure(unit: unit.id, at: min(event.occurredAt, nowMs))
            try await desk.audit(s, "pickup.code_rejected", .failure, actor: actor, unit: unit, detail: d)
        case .codeLockedOut:
            try await desk.audit(s, "pickup.refused", .denied, actor: actor, unit: unit, detail: d)
        case .tamper:
            let kind = event.detail["kind"] ?? "unknown"
            try await alert(s, unit: unit, compartmentId: event.compartmentId, kind: "tamper",
                            detail: "tamper signal (\(kind)) at \(unit.name); the unit locked itself down", nowMs: nowMs)
            try await desk.audit(s, "unit.tamper", .failure, actor: actor, unit: unit, compartmentId: event.compartmentId, detail: d)
            if unit.lockedDownAt == nil {
                try await s.setLockdown(unit: unit.id, at: nowMs, reason: "tamper:\(kind)")
                try await desk.audit(s, "unit.locked_down", actor: actor, unit: unit, detail: ["reason": "tamper:\(kind)"])
                return true
            }
        case .openRefused:
            try await desk.audit(s, "door.open_refused", .denied, actor: actor, unit: unit, compartmentId: event.compartmentId, detail: d)
        case .lockdownReleased:
            try await desk.audit(s, "unit.lockdown_lifted_at_unit", actor: actor, unit: unit, detail: d)
        case .compartmentFault:
            guard let cid = event.compartmentId, var c = try await s.compartment(cid), c.unitId == unit.id else { break }
            if c.compartmentState == .available {
                c.state = CompartmentState.outOfService.rawValue
                try await s.saveCompartment(c)
            }
            try await alert(s, unit: unit, compartmentId: cid, kind: "compartment_fault",
                            detail: "the lock of compartment \(c.label) did not answer: \(event.detail["problem"] ?? "no reply")", nowMs: nowMs)
            try await desk.audit(s, "compartment.out_of_service", .failure, actor: actor, unit: unit, compartmentId: cid, detail: d)
            return true
        case .serviceDoor:
            try await desk.audit(s, event.detail["open"] == "true" ? "unit.service_door_opened" : "unit.service_door_closed", actor: actor, unit: unit, detail: d)
        case .mainsPower:
            let on = event.detail["on"] == "true"
            if !on { try await alert(s, unit: unit, kind: "mains_power", detail: "\(unit.name) lost mains power and runs on its battery", nowMs: nowMs) }
            try await desk.audit(s, on ? "unit.mains_restored" : "unit.mains_lost", on ? .success : .failure, actor: actor, unit: unit, detail: d)
        case .network:
            try await desk.audit(s, event.detail["up"] == "true" ? "unit.network_up" : "unit.network_down", actor: actor, unit: unit, detail: d)
        case .commandDone:
            if let id = event.detail["commandId"] {
                _ = try await s.ackUnitCommand(id: id, unit: unit.id, outcome: event.detail["outcome"] ?? "done", at: nowMs)
            }
        case .started:
            try await desk.audit(s, "unit.controller_started", actor: actor, unit: unit, detail: d)
        }
        return false
    }

    /// Records a command's acknowledgement that came outside the journal.
    public func acknowledge(unitId: String, commandId: String, outcome: String) async throws {
        let nowMs = StoredTime.millis(clock.now())
        _ = try await desk.write { s in try await s.ackUnitCommand(id: commandId, unit: unitId, outcome: String(outcome.prefix(40)), at: nowMs) }
    }

    // MARK: commands

    /// Stores a command for a unit; it is sent now if the unit is connected and on every reconnect until acknowledged or expired.
    public func command(unitId: String, kind: EdgeCommand.Kind, compartmentId: String? = nil, reason: String? = nil, lifetime: TimeInterval) async throws -> EdgeCommand {
        let now = clock.now()
        let command = EdgeCommand(
            id: UUID().uuidString.lowercased(), kind: kind, compartmentId: compartmentId, reason: reason,
            expiresAt: StoredTime.millis(now.addingTimeInterval(lifetime)))
        try await desk.write { s in
            try await s.insertUnitCommand(UnitCommandRecord(
                id: command.id, unitId: unitId, kind: kind.rawValue, compartmentId: compartmentId, reason: reason,
                createdAt: StoredTime.millis(now), expiresAt: command.expiresAt))
        }
        return command
    }

    /// Commands waiting for a unit.
    public func pendingCommands(unitId: String) async throws -> [EdgeCommand] {
        let nowMs = StoredTime.millis(clock.now())
        return try await store.read { s in
            try await s.pendingUnitCommands(unit: unitId, now: nowMs).compactMap { r in
                EdgeCommand.Kind(rawValue: r.kind).map {
                    EdgeCommand(id: r.id, kind: $0, compartmentId: r.compartmentId, reason: r.reason, expiresAt: r.expiresAt)
                }
            }
        }
    }

    /// Whether a unit has its own edge controller (then its doors are commanded over the link).
    public func hasEdge(unitId: String) async throws -> Bool {
        try await store.read { s in try await s.unit(unitId)?.edgeEnrolledAt != nil }
    }

    // MARK: lockdown

    /// An administrator lifts a unit's lockdown; the unit is told to release.
    public func releaseLockdown(_ p: Principal, unitId: String) async throws -> UnitRecord {
        try AccessPolicy.require(p, .releaseLockdown)
        return try await releaseLockdown(actor: p.actor) { s in try await desk.unitInScope(s, unitId, p, lock: true) }
    }

    /// The same from the server's console.
    public func releaseLockdownFromConsole(unitId: String) async throws -> UnitRecord {
        try await releaseLockdown(actor: .console) { s in
            guard let unit = try await s.lockUnit(unitId) else { throw DomainError.notFound("unit \(unitId) not found") }
            return unit
        }
    }

    /// Lifts the lockdown in the database, then tells the unit.
    func releaseLockdown(actor: Actor, unit find: @Sendable @escaping (StoreSession) async throws -> UnitRecord) async throws -> UnitRecord {
        let nowMs = StoredTime.millis(clock.now())
        let released = try await desk.write { s -> UnitRecord in
            var unit = try await find(s)
            guard let since = unit.lockedDownAt else { throw DomainError.invalidState("unit \(unit.name) is not locked down") }
            try await s.setLockdown(unit: unit.id, at: nil, reason: nil)
            try await desk.audit(s, "unit.lockdown_released", actor: actor, unit: unit,
                                 detail: ["lockedDownFor": String((nowMs - since) / 1000), "reason": unit.lockdownReason ?? ""])
            unit.lockedDownAt = nil
            unit.lockdownReason = nil
            return unit
        }
        await sendRelease(unitId: released.id)
        return released
    }

    /// Tells the unit its lockdown is lifted (now if connected, else when it reconnects, within a day).
    func sendRelease(unitId: String) async {
        do {
            let command = try await command(unitId: unitId, kind: .release, lifetime: 86_400)
            hub.send(.command(command), to: unitId)
        } catch {
            logger.error("release command not stored", metadata: ["unit": "\(unitId)", "error": "\(error)"])
            return
        }
        await pushState(unitId: unitId)
    }

    /// Sends the unit its current state if its controller is connected to this process; otherwise it gets
    /// the state when it connects.
    func pushState(unitId: String) async {
        guard hub.isConnected(unitId) else { return }
        do {
            hub.send(.state(try await state(unitId: unitId)), to: unitId)
        } catch {
            logger.warning("unit state not sent", metadata: ["unit": "\(unitId)", "error": "\(error)"])
        }
    }

    /// Open alerts the principal may see.
    public func openAlerts(_ p: Principal) async throws -> [AlertRecord] {
        try AccessPolicy.require(p, .readAlerts)
        let org = p.organizationId.uuidString.lowercased()
        return try await store.read { s in try await s.openAlerts(organization: org) }.filter { Scope.covers(p, alert: $0) }
    }

    /// A photo kept as evidence, if it was taken at a unit the principal may see.
    public func evidence(_ p: Principal, sha256: String) async throws -> (Data, String)? {
        try await store.read { s in
            guard let e = try await s.evidence(sha256: sha256), let unit = try await s.unit(e.unitId),
                Scope.covers(p, unit: unit) || (p.role == .auditor && p.siteIds.contains { $0.uuidString.lowercased() == unit.siteId })
            else { return nil }
            return (e.bytes, e.contentType)
        }
    }

    // MARK: couriers at the kiosk

    /// The courier behind a credential typed at a unit's kiosk, if it may drop off there.
    func courier(token: String, unitId: String) async -> Principal? {
        guard let p = try? await authenticator.principal(forHeader: "Bearer " + token), p.role == .courier else { return nil }
        guard let unit = try? await store.read({ s in try await s.unit(unitId) }), Scope.covers(p, unit: unit) else { return nil }
        return p
    }

    /// The carrier's name for the kiosk screen, or nil when the credential may not drop off at this unit.
    public func courierName(token: String, unitId: String) async -> String? {
        guard let p = await courier(token: token, unitId: unitId), let carrier = p.carrierId?.uuidString.lowercased() else { return nil }
        let org = p.organizationId.uuidString.lowercased()
        let carriers = (try? await store.read { s in try await s.carriers(organization: org) }) ?? []
        return carriers.first { $0.id == carrier }?.name ?? "Courier"
    }

    /// A drop-off started at the kiosk; the door command follows over the link.
    public func kioskDropoff(requestId: String, token: String, unitId: String, trackingNumber: String, recipientId: String, size: String) async -> EdgeDownMessage {
        func fail(_ code: String, _ message: String) -> EdgeDownMessage {
            .dropoffResult(requestId: requestId, compartmentId: nil, label: nil, error: code, message: message)
        }
        guard let p = await courier(token: token, unitId: unitId) else { return fail("signed_out", "The courier credential is not valid here.") }
        do {
            let tracking = try APIRoutes.trackingNumber(trackingNumber)
            let recipient = try APIRoutes.uuid(recipientId, "recipientId")
            let sizeClass = try APIRoutes.size(size)
            let result = try await desk.dropoff(p, unitId: unitId, trackingNumber: tracking, recipientId: recipient, size: sizeClass)
            return .dropoffResult(requestId: requestId, compartmentId: result.compartment.id, label: result.compartment.label, error: nil, message: nil)
        } catch DomainError.unitFull {
            return fail("unit_full", "No free compartment fits this parcel.")
        } catch let e as APIError {
            let (_, code, message, _) = ErrorMapping<CubbyRequestContext>.describe(e)
            return fail(code == "invalid_request" ? "invalid" : code, message)
        } catch let e as DomainError {
            let (_, code, message, _) = ErrorMapping<CubbyRequestContext>.describe(e)
            return fail(code, message)
        } catch {
            logger.error("kiosk drop-off failed", metadata: ["unit": "\(unitId)", "error": "\(error)"])
            return fail("unavailable", "The drop-off could not be recorded. Try again.")
        }
    }

}

/// The one-time codes with which edge controllers enroll: 16 characters of an unambiguous alphabet,
/// grouped by dashes for reading aloud (80 bits).
public enum EnrollmentCode {
    static let alphabet = Array("ABCDEFGHJKMNPQRSTVWXYZ0123456789")

    /// A new code, e.g. `K7QM-2XTA-9PRD-H4WE`.
    public static func make() -> String {
        let chars = SecretGenerator.bytes(16).map { alphabet[Int($0) % alphabet.count] }
        return stride(from: 0, to: 16, by: 4).map { String(chars[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// Upper case without dashes or spaces; I, L and O read as 1, 1 and 0.
    public static func normalize(_ code: String) -> String {
        String(code.uppercased().compactMap { c -> Character? in
            switch c {
            case "-", " ": nil
            case "I", "L": "1"
            case "O": "0"
            default: c
            }
        }.prefix(64))
    }

    public static func isWellFormed(_ normalized: String) -> Bool {
        normalized.count == 16 && normalized.allSatisfy { alphabet.contains($0) }
    }
}
