import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation

/// Fixtures for `cubby bench`: kiosks with parcels waiting behind known PINs, and a long history.
public struct BenchFixture: Sendable {
    /// One kiosk (a unit) and the PINs that open its parcels.
    public struct Kiosk: Sendable {
        public var unitId: String
        public var deviceToken: String
        public var pins: [String]
    }

    let store: any SQLStore
    let keys: LockerKeys
    let organizationId: String
    let siteId: String
    let carrierId: String
    let recipientId: String

    /// Creates the organization, site, carrier and recipient that fixtures hang off.
    public static func make(store: any SQLStore, keys: LockerKeys) async throws -> BenchFixture {
        let at = Date().millisecondsSince1970
        let org = EntityID.make()
        let site = EntityID.make()
        let carrier = EntityID.make()
        let recipient = EntityID.make()
        try await store.write { s in
            try await s.insertOrganization(id: org, name: "Benchmark", at: at)
            try await s.insertSite(SiteRecord(id: site, organizationId: org, name: "Bench site", createdAt: at))
            try await s.insertCarrier(
                CarrierRecord(id: carrier, organizationId: org, name: "Bench carrier", createdAt: at))
            try await s.insertRecipient(
                RecipientRecord(
                    id: recipient, organizationId: org, siteId: site, needsAccessible: false, dataKey: nil,
                    contact: nil, createdAt: at))
        }
        return BenchFixture(
            store: store, keys: keys, organizationId: org, siteId: site, carrierId: carrier, recipientId: recipient)
    }

    /// `count` kiosks, each with `parcels` deposited parcels behind fresh PINs.
    public func kiosks(count: Int, parcels: Int, tag: String) async throws -> [Kiosk] {
        var kiosks: [Kiosk] = []
        let now = Date()
        let at = now.millisecondsSince1970
        let expires = at + 7 * Milliseconds.day
        for k in 0..<count {
            let unitId = EntityID.make()
            let pinKey = keys.unitPinKey(unitId)
            let token = SecretGenerator.credential(prefix: "cby_device_")
            var compartments: [CompartmentRecord] = []
            var parcelRows: [ParcelRecord] = []
            var credentials: [PickupCredentialRecord] = []
            var pins: [String] = []
            var seen = Set<String>()
            for i in 0..<parcels {
                var pin = SecretGenerator.digits(10)
                while seen.contains(pin) { pin = SecretGenerator.digits(10) }
                seen.insert(pin)
                pins.append(pin)
                let parcelId = EntityID.make()
                var c = CompartmentRecord(
                    id: EntityID.make(), unitId: unitId, label: "\(tag)\(k)-\(i)", size: .small,
                    inner: SizeClass.small.typicalInnerDimensions, accessible: false)
                c.state = .occupied
                c.parcelId = parcelId
                compartments.append(c)
                var p = ParcelRecord(
                    id: parcelId, organizationId: organizationId, siteId: siteId, unitId: unitId, carrierId: carrierId,
                    recipientId: recipientId, trackingNumber: "\(tag)-\(k)-\(i)", size: .small, state: .deposited,
                    createdAt: at)
                p.compartmentId = c.id
                p.depositedAt = at
                p.expiresAt = expires
                parcelRows.append(p)
                credentials.append(
                    PickupCredentialRecord(
                        id: EntityID.make(), parcelId: parcelId, unitId: unitId, compartmentId: c.id,
                        pinHash: Data(pinKey.hash(pin: pin)), qrNonce: Base64URL.encode(SecretGenerator.bytes(16)),
                        createdAt: at, expiresAt: expires))
            }
            let (compartmentRows, parcelList, credentialRows) = (compartments, parcelRows, credentials)
            try await store.write { s in
                try await s.insertUnit(
                    UnitRecord(
                        id: unitId, organizationId: organizationId, siteId: siteId, name: "Kiosk \(tag)\(k)",
                        createdAt: at))
                try await s.insertCredential(
                    CredentialRecord(
                        id: EntityID.make(), kind: "device", tokenHash: keys.credentialHash(token),
                        organizationId: organizationId,
                        unitId: unitId, label: "bench kiosk", createdAt: at))
                for chunk in stride(from: 0, to: parcels, by: 500) {
                    let end = min(parcels, chunk + 500)
                    try await s.insertCompartments(Array(compartmentRows[chunk..<end]))
                    try await s.insertParcels(Array(parcelList[chunk..<end]))
                    try await s.insertPickupCredentials(Array(credentialRows[chunk..<end]))
                }
            }
            kiosks.append(Kiosk(unitId: unitId, deviceToken: token, pins: pins))
        }
        return kiosks
    }

    /// Adds `count` picked-up parcels of the past, each with its used credential and two audit events.
    public func history(count: Int, progress: @Sendable (Int) -> Void = { _ in }) async throws {
        let unitId = EntityID.make()
        let pinKey = keys.unitPinKey(unitId)
        let start = Date().addingTimeInterval(-400 * 86_400)
        let at = start.millisecondsSince1970
        try await store.write { s in
            try await s.insertUnit(
                UnitRecord(id: unitId, organizationId: organizationId, siteId: siteId, name: "History", createdAt: at))
        }
        let batch = 1000
        var done = 0
        while done < count {
            let n = min(5 * batch, count - done)
            let base = done
            try await store.write { s in
                for chunk in stride(from: 0, to: n, by: batch) {
                    let m = min(batch, n - chunk)
                    var parcels: [ParcelRecord] = []
                    var creds: [PickupCredentialRecord] = []
                    var events: [AuditRecord] = []
                    parcels.reserveCapacity(m)
                    for i in 0..<m {
                        let seq = base + chunk + i
                        let id = EntityID.make()
                        let t = start.addingTimeInterval(Double(seq) * 30)
                        let tm = t.millisecondsSince1970
                        var p = ParcelRecord(
                            id: id, organizationId: organizationId, siteId: siteId, unitId: unitId,
                            carrierId: carrierId,
                            recipientId: recipientId, trackingNumber: "H\(seq)", size: .medium, state: .pickedUp,
                            createdAt: tm)
                        p.depositedAt = tm
                        p.expiresAt = tm + 7 * Milliseconds.day
                        p.pickedUpAt = tm + 3_600_000
                        p.compartmentId = EntityID.make()
                        parcels.append(p)
                        var c = PickupCredentialRecord(
                            id: EntityID.make(), parcelId: id, unitId: unitId, compartmentId: p.compartmentId!,
                            pinHash: Data(pinKey.hash(pin: String(seq))), qrNonce: "h", createdAt: tm,
                            expiresAt: p.expiresAt!)
                        c.state = .used
                        c.endedAt = p.pickedUpAt
                        creds.append(c)
                        let uid = UUID(uuidString: unitId)
                        let pid = UUID(uuidString: id)
                        events.append(
                            AuditRecord(
                                occurredAt: t, type: "parcel.deposited",
                                actor: Actor(kind: .device, id: unitId, role: "device"), unitId: uid, parcelId: pid,
                                trackingNumber: p.trackingNumber))
                        events.append(
                            AuditRecord(
                                occurredAt: t.addingTimeInterval(3600), type: "pickup.succeeded",
                                actor: Actor(kind: .device, id: unitId, role: "device"), unitId: uid, parcelId: pid,
                                trackingNumber: p.trackingNumber, detail: ["method": "pin"]))
                    }
                    try await s.insertParcels(parcels)
                    try await s.insertPickupCredentials(creds)
                    try await s.appendAudit(Array(events[0..<(events.count / 2)]))
                    try await s.appendAudit(Array(events[(events.count / 2)...]))
                }
            }
            done += n
            progress(done)
        }
    }
}
