import CubbyCore
import Foundation
import SQLKit

/// When units were last linked, and the units that went silent.
extension StoreSession {
    /// Notes that the units' edge controllers are linked to this process now.
    public func touchUnits(_ ids: [String], at: Int64) async throws {
        guard !ids.isEmpty else { return }
        try await sql.update("units").set("last_seen_at", to: SQLBind(at))
            .where(SQLColumn("id"), .in, SQLBind.group(ids)).run()
    }

    /// Units with an enrolled edge controller, not decommissioned, that no process has seen linked since `before`
    /// (one never seen counts from its enrollment).
    public func silentUnits(before: Int64) async throws -> [UnitRecord] {
        try await all(
            """
            SELECT * FROM units WHERE edge_enrolled_at IS NOT NULL AND decommissioned_at IS NULL
              AND COALESCE(last_seen_at, edge_enrolled_at) < \(bind: before) ORDER BY id
            """, as: UnitRecord.self)
    }

    /// When the unit was last seen linked (nil: never).
    public func unitLastSeen(_ id: String) async throws -> Int64? {
        try await sql.raw("SELECT last_seen_at FROM units WHERE id = \(bind: id)").first()?.decode(
            column: "last_seen_at", as: Int64?.self)
    }

    /// The unit's open alert of `kind`, if any.
    public func openAlert(unit: String, kind: String) async throws -> AlertRecord? {
        try await all(
            """
            SELECT * FROM alerts WHERE unit_id = \(bind: unit) AND kind = \(bind: kind) AND resolved_at IS NULL
            ORDER BY created_at LIMIT 1
            """, as: AlertRecord.self
        ).first
    }
}
