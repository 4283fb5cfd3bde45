import CubbyCore
import CubbyStore

/// What the portal's pages show of an organization, read in one place and limited to the staff member's sites.
struct Overview: Sendable {
    let store: any SQLStore

    /// The dashboard's data: the caller's sites, every unit of the organization (for names), compartment counts per
    /// unit and state, and (when `serviceable`) the compartments that can be taken out of service or put back.
    struct Dashboard: Sendable {
        var sites: [SiteRecord]
        var units: [UnitRecord]
        var counts: [String: [String: Int]]
        var serviceable: [CompartmentRecord]
    }

    func dashboard(_ p: Principal, serviceable: Bool) async throws -> Dashboard {
        let org = p.organizationId.idString
        let (sites, units, states, service) = try await store.read { db in
            (
                try await db.sitesRecords(organization: org), try await db.units(organization: org),
                try await db.compartmentStates(organization: org),
                serviceable ? try await db.serviceableCompartments(organization: org) : []
            )
        }
        var counts: [String: [String: Int]] = [:]
        for row in states { counts[row.unitId, default: [:]][row.state] = row.count }
        let inScope = Set(units.filter { Scope.covers(p, siteId: $0.siteId) }.map(\.id))
        return Dashboard(
            sites: sites.filter { Scope.covers(p, siteId: $0.id) }, units: units, counts: counts,
            serviceable: service.filter { inScope.contains($0.unitId) })
    }

    /// The caller's sites.
    func sites(_ p: Principal) async throws -> [SiteRecord] {
        let org = p.organizationId.idString
        return try await store.read { db in try await db.sitesRecords(organization: org) }.filter {
            Scope.covers(p, siteId: $0.id)
        }
    }

    /// The organization's units and carriers (names for the pages; credentials are issued for them).
    func unitsAndCarriers(_ p: Principal) async throws -> (units: [UnitRecord], carriers: [CarrierRecord]) {
        let org = p.organizationId.idString
        return try await store.read { db in
            (try await db.units(organization: org), try await db.carriers(organization: org))
        }
    }
}
