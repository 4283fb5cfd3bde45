import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// What units report about their doors: a door opened, a door closed with or without an item inside. A door closed
/// on a reserved parcel completes its deposit (codes issued, the recipient notified); a door closed empty after a
/// pickup or removal frees the compartment.
///
/// It opens no doors, so it needs no unit link: the in-process simulator reports here.
public struct DoorReports: UnitEventSink {
    let ledger: Ledger
    let keys: LockerKeys
    let policy: PinEntryPolicy
    let logger: Logger
    /// The outbox channels a recipient's parcel-ready notification goes out on.
    let recipientChannels: [String]
    /// Reminders, expiry notices and pickup receipts, on the same channels.
    public let notices: ParcelNotices

    /// `linkBase` is where links in messages point (`public.url`).
    public init(
        ledger: Ledger, keys: LockerKeys, policy: PinEntryPolicy, recipientChannels: [String] = ["file"],
        linkBase: String = "http://localhost", logger: Logger
    ) {
        self.ledger = ledger
        self.keys = keys
        self.policy = policy
        self.recipientChannels = recipientChannels
        self.notices = ParcelNotices(keys: keys, recipientChannels: recipientChannels, linkBase: linkBase)
        self.logger = logger
    }

    public func unitReported(_ event: UnitDoorEvent) async {
        do {
            _ = try await handle(event, actor: Actor(kind: .device, id: event.unitId, role: "device"))
        } catch {
            logger.error("unit event failed", metadata: ["unit": "\(event.unitId)", "error": "\(error)"])
        }
    }

    /// Applies a door event from a unit in a transaction of its own.
    @discardableResult
    public func handle(_ event: UnitDoorEvent, actor: Actor) async throws -> ParcelRecord? {
        try await ledger.write { s in try await handle(s, event, actor: actor) }
    }

    /// Applies a door event inside the caller's transaction.
    func handle(_ s: StoreSession, _ event: UnitDoorEvent, actor: Actor, detail extra: [String: String] = [:])
        async throws
        -> ParcelRecord?
    {
        guard let unit = try await s.unit(event.unitId), var compartment = try await s.compartment(event.compartmentId),
            compartment.unitId == unit.id
        else { throw DomainError.notFound("compartment \(event.compartmentId) not found at unit \(event.unitId)") }
        let now = ledger.clock.now()
        var parcel: ParcelRecord? = nil
        if let pid = compartment.parcelId { parcel = try await s.parcel(pid, lock: true) }
        switch event.kind {
        case .doorOpened:
            compartment.door = .open
            try await s.saveCompartment(compartment)
            try await ledger.audit(
                s, .doorOpened, actor: actor, unit: unit, parcel: parcel, compartmentId: compartment.id, detail: extra)
            return parcel
        case .doorClosed:
            compartment.door = .closed
            let item = event.itemPresent ?? false
            try await ledger.audit(
                s, .doorClosed, actor: actor, unit: unit, parcel: parcel, compartmentId: compartment.id,
                detail: extra.merging(["itemPresent": String(item)]) { a, _ in a })
            if var parcel, compartment.state == .reserved, parcel.state == .reserved, item {
                try await deposit(s, &parcel, &compartment, unit: unit, now: now, actor: actor)
                try await s.saveCompartment(compartment)
                return parcel
            }
            if compartment.state == .occupied, let p = parcel, [.pickedUp, .removed].contains(p.state) {
                if item {
                    try await ledger.audit(
                        s, .compartmentItemLeft, .failure, actor: actor, unit: unit, parcel: p,
                        compartmentId: compartment.id)
                } else {
                    compartment.state = .available
                    compartment.parcelId = nil
                    try await ledger.audit(
                        s, .compartmentFreed, actor: actor, unit: unit, parcel: p, compartmentId: compartment.id)
                }
            }
            try await s.saveCompartment(compartment)
            return parcel
        }
    }

    /// Completes a deposit: the parcel waits for pickup behind a fresh PIN and QR token, and the recipient is told.
    func deposit(
        _ s: StoreSession, _ parcel: inout ParcelRecord, _ compartment: inout CompartmentRecord, unit: UnitRecord,
        now: Date,
        actor: Actor
    ) async throws {
        let nowMs = now.millisecondsSince1970
        let lifetime = try await s.site(unit.siteId)?.pickupLifetimeSeconds ?? 604_800
        let expires = Date(millisecondsSince1970: nowMs + Milliseconds.of(seconds: lifetime))
        try ParcelDesk.advance(&parcel, on: .deposit)
        parcel.depositedAt = nowMs
        parcel.expiresAt = expires.millisecondsSince1970
        parcel.reservedUntil = nil
        parcel.updatedAt = nowMs
        try await s.saveParcel(parcel)
        compartment.state = .occupied
        try await ledger.audit(
            s, .parcelDeposited, actor: actor, unit: unit, parcel: parcel, compartmentId: compartment.id)
        try await issueCodes(s, parcel: parcel, compartment: compartment, unit: unit, at: nowMs)
    }

    /// Issues a waiting parcel's pickup PIN and QR token, valid until its deadline, and queues its recipient's
    /// parcel-ready message with them (at a deposit, and when staff give the parcel to another recipient).
    func issueCodes(
        _ s: StoreSession, parcel: ParcelRecord, compartment: CompartmentRecord, unit: UnitRecord, at nowMs: Int64
    ) async throws {
        guard let deadline = parcel.expiresAt else { throw DomainError.invalidState("the parcel has no deadline") }
        let expires = Date(millisecondsSince1970: deadline)
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
        guard let parcelUUID = EntityID.uuid(parcel.id), let unitUUID = EntityID.uuid(unit.id),
            let compartmentUUID = EntityID.uuid(compartment.id)
        else { throw DomainError.invalidState("a stored id is not a UUID") }
        let claims = QRTokenClaims(parcel: parcelUUID, unit: unitUUID, compartment: compartmentUUID, expiresAt: expires)
        let qr = try await keys.signing.qrKeys(s, now: nowMs).issue(claims)
        try await s.insertPickupCredential(
            PickupCredentialRecord(
                id: EntityID.make(), parcelId: parcel.id, unitId: unit.id, compartmentId: compartment.id,
                pinHash: hash, qrNonce: claims.n, createdAt: nowMs, expiresAt: deadline))

        let notificationId = EntityID.make()
        var note = ParcelReadyNotification(
            notificationId: notificationId, kind: "parcel.deposited", recipientId: parcel.recipientId,
            parcelId: parcel.id,
            trackingNumber: parcel.trackingNumber, unitId: unit.id, unitName: unit.name,
            compartmentLabel: compartment.label,
            pin: pin, qr: qr, expiresAt: AuditCanonicalEncoding.timestamp(expires))
        // What the email and SMS say besides the code: the site, in its time zone, in the recipient's language.
        if let site = try await s.site(parcel.siteId) {
            (note.siteName, note.siteAddress, note.siteTimeZone) = (site.name, site.address, site.timeZone)
        }
        note.language = try await s.recipient(parcel.recipientId)?.preferredLanguage
        let sealed = try keys.outbox.seal(try JSONEncoder().encode(note), context: "outbox:" + notificationId)
        try await s.enqueueNotification(
            id: notificationId, kind: note.kind, recipient: parcel.recipientId, parcel: parcel.id, payload: sealed,
            channels: try await RecipientChannels(recipientChannels).channels(
                for: .parcelReady, recipient: parcel.recipientId, in: s),
            at: nowMs)

        try await ledger.audit(
            s, .credentialIssued, actor: .system, unit: unit, parcel: parcel, compartmentId: compartment.id,
            detail: ["credentials": "pin,qr", "expiresAt": note.expiresAt])
    }
}
