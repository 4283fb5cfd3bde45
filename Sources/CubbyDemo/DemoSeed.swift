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

/// Seeds an organization — the demo's, and the fixtures of tests and benchmarks — through the same provisioning
/// code as `cubby setup` and the API: every row validated, every change audited, as the console would make it.
public struct DemoSeed: Sendable {
    let parts: CubbyServerParts

    public init(parts: CubbyServerParts) {
        self.parts = parts
    }

    /// The demo layout of one unit: 24 compartments, mixed sizes, the lower ones accessible.
    public static let demoLayout: [(SizeClass, Bool)] =
        Array(repeating: (.small, false), count: 8) + Array(repeating: (.medium, false), count: 6)
        + Array(repeating: (.large, false), count: 4) + Array(repeating: (.extraLarge, false), count: 2)
        + [(.small, true), (.medium, true), (.large, true), (.extraLarge, true)]

    /// Compartments per column of a seeded unit.
    static let columnHeight = 6

    /// Who seeds: the demo, at the console.
    static let actor = Actor(kind: .system, id: nil, role: "demo")

    /// A unit's layout: `layout` in columns of `columnHeight`, labelled with the unit's letter and a number (A01 …).
    static func unitLayout(_ layout: [(SizeClass, Bool)], letter: Character) -> UnitLayout {
        let slots = layout.enumerated().map { (i, entry) in
            let inner = entry.0.typicalInnerDimensions
            return UnitLayout.Slot(
                size: entry.0.rawValue, widthMm: inner.width, heightMm: inner.height, depthMm: inner.depth,
                accessible: entry.1, label: "\(letter)\(String(format: "%02d", i + 1))")
        }
        let columns = stride(from: 0, to: slots.count, by: columnHeight).map {
            UnitLayout.Column(compartments: Array(slots[$0..<min($0 + columnHeight, slots.count)]))
        }
        return UnitLayout(name: nil, columns: columns)
    }

    /// Creates a whole organization and returns its manifest (credentials appear only here).
    public func seed(
        server: String, unitCount: Int = 2, layout: [(SizeClass, Bool)] = DemoSeed.demoLayout, recipients: Int = 3,
        organizationName: String = "Demo Property Group", siteName: String = "Riverside Apartments",
        superAdminEmail: String = "admin@example.org"
    ) async throws -> DemoManifest {
        let actor = Self.actor
        let organization = try await parts.staff.createOrganization(
            name: organizationName, adminEmail: superAdminEmail, actor: actor, firstOnly: false)
        guard let orgId = OrganizationID(uuidString: organization.id) else {
            throw DomainError.invalidRequest("organization id \(organization.id)")
        }
        var console = Principal(role: .superAdmin, credentialId: .make(), organizationId: orgId)
        let site = try await parts.provisioning.createSite(
            console, actor: actor,
            .init(
                name: siteName, address: "1 River Road, Springfield", timeZone: "America/New_York",
                languages: ["en", "es"]))
        if let id = SiteID(uuidString: site.id) { console.siteIds = [id] }
        let carrier = try await parts.provisioning.createCarrier(
            console, actor: actor, name: "Demo Express", siteIds: [site.id])
        func issue(_ kind: Principal.Role, _ label: String, carrier: String? = nil, unit: String? = nil) async throws
            -> String
        {
            try await parts.staff.issueCredential(
                console, actor: actor,
                .init(kind: kind, label: label, days: StaffDesk.maxCredentialDays, carrierId: carrier, unitId: unit)
            ).1
        }
        var units: [DemoManifest.Unit] = []
        for n in 0..<unitCount {
            let letter = Character(UnicodeScalar(65 + n)!)
            let built = try await parts.provisioning.createUnit(
                console, actor: actor, siteId: site.id, layout: Self.unitLayout(layout, letter: letter),
                name: "Lobby \(letter)")
            let token = try await issue(.device, "device of unit \(n + 1)", unit: built.unit.id)
            units.append(.init(id: built.unit.id, name: built.unit.name, deviceToken: token))
        }
        let courierToken = try await issue(.courier, "Demo courier", carrier: carrier.carrier.id)
        let carrierToken = try await issue(.carrier, "demo carrier integration", carrier: carrier.carrier.id)
        let adminToken = try await issue(.admin, "demo administrator")
        let auditorToken = try await issue(.auditor, "demo auditor")
        var people: [DemoManifest.Recipient] = []
        for i in 0..<recipients {
            let accessible = i == recipients - 1
            let r = try await parts.recipients.create(
                console,
                RecipientDraft(
                    siteId: site.id, name: "Resident \(i + 1)", email: "resident\(i + 1)@example.org",
                    apartment: "\(100 + i + 1)", needsAccessible: accessible),
                actor: actor)
            people.append(.init(id: r.id, needsAccessible: accessible))
        }
        return DemoManifest(
            server: server, organizationId: organization.id, siteId: site.id, carrierId: carrier.carrier.id,
            units: units, courierToken: courierToken, carrierToken: carrierToken, adminToken: adminToken,
            auditorToken: auditorToken, recipients: people)
    }
}
