import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation

/// What `cubby demo` writes to `cubby-data/demo.json`: the ids and credentials to try the API with.
public struct DemoManifest: Codable, Sendable {
    public struct Unit: Codable, Sendable {
        public var id: String
        public var name: String
        public var deviceToken: String
    }
    public struct Recipient: Codable, Sendable {
        public var id: String
        public var needsAccessible: Bool
    }
    public var server: String
    public var organizationId: String
    public var siteId: String
    public var carrierId: String
    public var units: [Unit]
    public var courierToken: String
    public var carrierToken: String
    public var adminToken: String
    /// Reads the audit log (bearer token for scripts and witnesses).
    public var auditorToken: String
    public var recipients: [Recipient]
}

/// Seeds an organization: the demo's, and the fixtures of tests and benchmarks.
public struct DemoSeed: Sendable {
    let store: any SQLStore
    let keys: LockerKeys
    let now: Date

    public init(store: any SQLStore, keys: LockerKeys, now: Date = Date()) {
        self.store = store
        self.keys = keys
        self.now = now
    }

    /// The demo layout of one unit: 24 compartments, mixed sizes, the lower ones accessible.
    public static let demoLayout: [(SizeClass, Bool)] =
        Array(repeating: (.small, false), count: 8) + Array(repeating: (.medium, false), count: 6)
        + Array(repeating: (.large, false), count: 4) + Array(repeating: (.extraLarge, false), count: 2)
        + [(.small, true), (.medium, true), (.large, true), (.extraLarge, true)]

    /// Creates a whole organization and returns its manifest (credentials appear only here).
    public func seed(
        server: String, unitCount: Int = 2, layout: [(SizeClass, Bool)] = DemoSeed.demoLayout, recipients: Int = 3,
        organizationName: String = "Demo Property Group", siteName: String = "Riverside Apartments"
    ) async throws -> DemoManifest {
        let at = now.millisecondsSince1970
        let org = EntityID.make()
        let site = EntityID.make()
        let carrier = EntityID.make()
        let courier = EntityID.make()
        let courierToken = SecretGenerator.credential(prefix: "cby_courier_")
        let carrierToken = SecretGenerator.credential(prefix: "cby_carrier_")
        let adminToken = SecretGenerator.credential(prefix: "cby_admin_")
        let auditorToken = SecretGenerator.credential(prefix: "cby_auditor_")
        var units: [DemoManifest.Unit] = []
        var people: [DemoManifest.Recipient] = []
        let unitIds = (0..<unitCount).map { _ in EntityID.make() }
        let unitTokens = unitIds.map { _ in SecretGenerator.credential(prefix: "cby_device_") }
        let recipientIds = (0..<recipients).map { _ in EntityID.make() }
        let sealedContacts = try recipientIds.enumerated().map { (i, id) -> (Data, Data) in
            let key = try keys.envelope.newWrappedDataKey(subject: id)
            let contact = try JSONEncoder().encode([
                "name": "Resident \(i + 1)", "email": "resident\(i + 1)@example.org",
            ])
            return (key, try keys.envelope.seal(contact, wrappedKey: key, subject: id, field: "contact"))
        }
        try await store.write { s in
            try await s.insertOrganization(id: org, name: organizationName, at: at)
            try await s.insertSite(SiteRecord(id: site, organizationId: org, name: siteName, createdAt: at))
            for (n, unitId) in unitIds.enumerated() {
                try await s.insertUnit(
                    UnitRecord(
                        id: unitId, organizationId: org, siteId: site,
                        name: "Lobby \(Character(UnicodeScalar(65 + n)!))", createdAt: at))
                for (i, (size, accessible)) in layout.enumerated() {
                    let label = "\(Character(UnicodeScalar(65 + n)!))\(String(format: "%02d", i + 1))"
                    try await s.insertCompartment(
                        CompartmentRecord(
                            id: EntityID.make(), unitId: unitId, label: label, size: size,
                            inner: size.typicalInnerDimensions, accessible: accessible))
                }
                try await s.insertCredential(
                    CredentialRecord(
                        id: EntityID.make(), kind: "device", tokenHash: keys.credentialHash(unitTokens[n]),
                        organizationId: org,
                        unitId: unitId, label: "device of unit \(n + 1)", createdAt: at))
            }
            try await s.insertCarrier(
                CarrierRecord(id: carrier, organizationId: org, name: "Demo Express", createdAt: at))
            try await s.linkCarrier(carrier, site: site)
            try await s.insertCourier(id: courier, carrier: carrier, name: "Demo courier", at: at)
            try await s.insertCredential(
                CredentialRecord(
                    id: EntityID.make(), kind: "courier", tokenHash: keys.credentialHash(courierToken),
                    organizationId: org,
                    carrierId: carrier, courierId: courier, label: "demo courier", createdAt: at))
            try await s.insertCredential(
                CredentialRecord(
                    id: EntityID.make(), kind: "carrier", tokenHash: keys.credentialHash(carrierToken),
                    organizationId: org,
                    carrierId: carrier, label: "demo carrier integration", createdAt: at))
            try await s.insertCredential(
                CredentialRecord(
                    id: EntityID.make(), kind: "admin", tokenHash: keys.credentialHash(adminToken), organizationId: org,
                    label: "demo administrator", createdAt: at))
            try await s.insertCredential(
                CredentialRecord(
                    id: EntityID.make(), kind: "auditor", tokenHash: keys.credentialHash(auditorToken),
                    organizationId: org,
                    label: "demo auditor", createdAt: at))
            for (i, id) in recipientIds.enumerated() {
                try await s.insertRecipient(
                    RecipientRecord(
                        id: id, organizationId: org, siteId: site, needsAccessible: i == recipients - 1,
                        dataKey: sealedContacts[i].0, contact: sealedContacts[i].1, createdAt: at,
                        emailHash: ResidentDesk.emailHash(keys, "resident\(i + 1)@example.org")))
            }
            try await s.appendAudit(
                AuditRecord(
                    occurredAt: now, event: .organizationSeeded, actor: .system, organizationId: UUID(uuidString: org),
                    siteId: UUID(uuidString: site),
                    detail: ["units": String(unitCount), "compartmentsPerUnit": String(layout.count)]))
        }
        for (n, id) in unitIds.enumerated() {
            units.append(.init(id: id, name: "Lobby \(Character(UnicodeScalar(65 + n)!))", deviceToken: unitTokens[n]))
        }
        for (i, id) in recipientIds.enumerated() { people.append(.init(id: id, needsAccessible: i == recipients - 1)) }
        return DemoManifest(
            server: server, organizationId: org, siteId: site, carrierId: carrier, units: units,
            courierToken: courierToken,
            carrierToken: carrierToken, adminToken: adminToken, auditorToken: auditorToken, recipients: people)
    }
}
