import CubbyCore
import CubbyStore
import Foundation
import SQLKit
import Testing

@Suite("Compartment positions: units built before them are placed from their generated labels")
struct CompartmentPositionMigrationTests {
    @Test(arguments: StoreBackend.available)
    func generatedLabelsGivePositions(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store, through: 28)
        let (org, site, unit) = (EntityID.make(), EntityID.make(), EntityID.make())
        let labels = ["A1", "B3", "C12", "A01", "D-1", "b2", "E"]
        try await store.write { s in
            try await s.insertOrganization(id: org, name: "o", at: 0)
            try await s.insertSite(SiteRecord(id: site, organizationId: org, name: "s", createdAt: 0))
            try await s.insertUnit(UnitRecord(id: unit, organizationId: org, siteId: site, name: "u", createdAt: 0))
            for label in labels {
                try await s.toolHandle.raw(
                    """
                    INSERT INTO compartments (id, unit_id, label, size, width_mm, height_mm, depth_mm, accessible, state, door)
                    VALUES (\(bind: EntityID.make()), \(bind: unit), \(bind: label), 'S', 400, 100, 550, \(bind: false),
                      'available', 'closed')
                    """
                ).run()
            }
        }
        #expect(try await Migrator.migrate(store).contains(29))
        let rows = try await store.read { s in try await s.compartments(unit: unit) }
        let places = Dictionary(
            uniqueKeysWithValues: rows.map { r in
                (r.label, r.gridColumn.map { c in "\(c),\(r.gridRow!)+\(r.gridRows)" } ?? "none")
            })
        #expect(
            places == [
                "A1": "0,0+1", "B3": "1,2+1", "C12": "2,11+1", "A01": "none", "D-1": "none", "b2": "none", "E": "none",
            ])
        await store.close()
    }
}
