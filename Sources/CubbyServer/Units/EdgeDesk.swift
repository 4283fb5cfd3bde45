import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// The server's side of the units' edge controllers: enrollment, the unit's state, applying journaled
/// events exactly once, command acknowledgements, couriers at the kiosk, and lockdown release.
public struct EdgeDesk: Sendable {
    let ledger: Ledger
    /// The parcel flows, for drop-offs started at a unit's kiosk and the door reports a unit journals.
    public let parcels: ParcelDesk
    /// The unit states sent to units, and the connections of this process's units.
    public let states: UnitStates
    let authenticator: Authenticator
    let logger: Logger
    /// Failed enrollment attempts per address.
    let limiter = AddressLimiter(capacity: 10, refill: 60)

    /// How long an enrollment code stays valid.
    public static let enrollmentCodeLifetime: Int64 = Milliseconds.day
    /// How long a release command waits for a unit that is offline.
    public static let releaseCommandLifetime: Int64 = Milliseconds.day

    init(ledger: Ledger, parcels: ParcelDesk, states: UnitStates, authenticator: Authenticator, logger: Logger) {
        self.ledger = ledger
        self.parcels = parcels
        self.states = states
        self.authenticator = authenticator
        self.logger = logger
    }

    var store: any SQLStore { ledger.store }
    var keys: LockerKeys { parcels.keys }
    var clock: ServerClock { ledger.clock }
    var hub: EdgeHub { states.hub }

    // MARK: enrollment

    /// A one-time code with which the unit's edge controller enrolls (shown once).
    public func issueEnrollmentCode(_ p: Principal, unitId: String) async throws -> (code: String, expiresAt: Date) {
        try AccessPolicy.require(p, .enrollUnit)
        return try await issueEnrollmentCode(actor: p.actor) { s in
            try await ledger.unitInScope(s, unitId, p, lock: false)
        }
    }

    /// The same from the server's console (`cubby unit enroll-code`, the demo), which runs with the operator's rights.
    public func issueEnrollmentCodeFromConsole(unitId: String) async throws -> (code: String, expiresAt: Date) {
        try await issueEnrollmentCode(actor: .console) { s in
            guard let unit = try await s.unit(unitId) else { throw DomainError.notFound("unit \(unitId) not found") }
            return unit
        }
    }

    func issueEnrollmentCode(actor: Actor, unit find: @Sendable @escaping (StoreSession) async throws -> UnitRecord)
        async throws -> (code: String, expiresAt: Date)
    {
        let code = EnrollmentCode.make()
        let now = clock.now()
        let expires = Date(millisecondsSince1970: now.millisecondsSince1970 + Self.enrollmentCodeLifetime)
        try await ledger.write { s in
            let unit = try await find(s)
            guard unit.decommissionedAt == nil else { throw ProvisioningError.unitDecommissioned }
            let superseded = try await s.insertUnitEnrollmentCode(
                hash: keys.unitEnrollmentHash(EnrollmentCode.normalize(code)), unit: unit.id,
                at: now.millisecondsSince1970,
                expiresAt: expires.millisecondsSince1970)
            try await ledger.audit(
                s, .unitEnrollmentCodeIssued, actor: actor, unit: unit,
                detail: ["expiresAt": AuditCanonicalEncoding.timestamp(expires), "superseded": String(superseded)])
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
            throw APIError.tooManyAttempts(
                retryAfterSeconds: wait, "too many failed enrollment attempts from this address; try again in \(wait) s"
            )
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
        let nowMs = clock.now().millisecondsSince1970
        return try await ledger.write { s in
            guard
                let unitId = try await s.claimUnitEnrollmentCode(hash: keys.unitEnrollmentHash(normalized), now: nowMs),
                let unit = try await s.unit(unitId), unit.decommissionedAt == nil
            else { throw DomainError.invalidCode }
            let name = String((label ?? "").prefix(80)).trimmingCharacters(in: .whitespacesAndNewlines)
            let credential = CredentialRecord(
                id: EntityID.make(), kind: "device", tokenHash: keys.credentialHash(token),
                organizationId: unit.organizationId,
                unitId: unit.id, label: name.isEmpty ? "edge controller of \(unit.name)" : name, createdAt: nowMs,
                enrolled: true)
            try await s.insertCredential(credential)
            try await s.markEdgeEnrolled(unit: unit.id, at: nowMs)
            try await ledger.audit(
                s, .unitEdgeEnrolled, actor: .system, unit: unit, detail: ["credentialId": credential.id])
            return Enrollment(unitId: unit.id, unitName: unit.name, deviceToken: token)
        }
    }

    /// An edge controller connected over its link with `credentialId`. When that is an enrolled credential, the unit's
    /// earlier enrolled credentials are revoked now that the new one has proved it works; returns the ids revoked.
    @discardableResult
    public func linkConnected(unitId: String, credentialId: String) async throws -> [String] {
        let nowMs = clock.now().millisecondsSince1970
        return try await ledger.write { s -> [String] in
            guard let credential = try await s.credential(id: credentialId), credential.enrolled,
                credential.revokedAt == nil, credential.unitId == unitId, let unit = try await s.unit(unitId)
            else { return [] }
            let revoked = try await s.revokeEnrolledCredentials(unit: unitId, keeping: credentialId, at: nowMs)
            for id in revoked {
                try await ledger.audit(
                    s, .credentialRevoked, actor: .system, unit: unit,
                    detail: ["credential": id, "kind": "device", "reason": "enrolled_again", "by": credentialId])
            }
            return revoked
        }
    }

    // MARK: state

    /// Everything the unit needs to serve pickups by itself.
    public func state(unitId: String) async throws -> EdgeUnitState {
        try await states.state(unitId: unitId)
    }

    /// The sequence number of the newest event stored for the unit (0 when none).
    public func lastSeq(unitId: String) async throws -> Int64 {
        try await store.read { s in try await s.lastDeviceEvent(unit: unitId)?.seq ?? 0 }
    }

    // MARK: commands

    /// Opens a compartment's door on an operator's word at the server's console (audited as the console's).
    public func openDoorFromConsole(unitId: String, compartmentId: String, reason: DoorOpenReason) async throws {
        let door = try await ledger.write { s -> DoorCommand in
            guard let unit = try await s.unit(unitId), let c = try await s.compartment(compartmentId),
                c.unitId == unit.id
            else {
                throw DomainError.notFound("compartment \(compartmentId) not found at unit \(unitId)")
            }
            return try await ledger.openDoor(s, unit: unit, compartmentId: c.id, reason: reason, actor: .console)
        }
        await parcels.link.deliver(door)
    }

    /// Commands waiting for a unit.
    public func pendingCommands(unitId: String) async throws -> [EdgeCommand] {
        let nowMs = clock.now().millisecondsSince1970
        return try await store.read { s in
            try await s.pendingUnitCommands(unit: unitId, now: nowMs).compactMap { r in
                EdgeCommand.Kind(rawValue: r.kind).map {
                    EdgeCommand(
                        id: r.id, kind: $0, compartmentId: r.compartmentId, reason: r.reason, expiresAt: r.expiresAt)
                }
            }
        }
    }

    /// Open alerts the principal may see.
    public func openAlerts(_ p: Principal) async throws -> [AlertRecord] {
        try AccessPolicy.require(p, .readAlerts)
        let org = p.organizationId.idString
        return try await store.read { s in try await s.openAlerts(organization: org) }.filter {
            Scope.covers(p, alert: $0)
        }
    }

    /// A photo kept as evidence, if it was taken at a unit the principal may see.
    public func evidence(_ p: Principal, sha256: String) async throws -> (Data, String)? {
        try await store.read { s in
            guard let e = try await s.evidence(sha256: sha256), let unit = try await s.unit(e.unitId),
                Scope.covers(p, unit: unit) || (p.role == .auditor && p.siteIds.contains { $0.idString == unit.siteId })
            else { return nil }
            return (try keys.openEvidence(e.bytes, sha256: sha256), e.contentType)
        }
    }
}
