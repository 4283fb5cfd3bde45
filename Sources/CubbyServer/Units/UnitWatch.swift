import CubbyCore
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// Notices units that went silent. Every server process notes, on a timer, that the units linked to it are seen;
/// any process raises a `unit_offline` alert (and `unit.offline`) for a unit with an edge controller that no process
/// has seen for `offlineAfter`, once until it is back. A unit's return, its link coming up on any process, resolves
/// the alert (`unit.back_online`).
public struct UnitWatch: Service {
    let edges: EdgeDesk
    let offlineAfter: Int64
    let interval: Duration
    let logger: Logger

    public init(edges: EdgeDesk, offlineAfter: Duration, logger: Logger) {
        self.edges = edges
        self.offlineAfter = Milliseconds.of(offlineAfter)
        // Often enough that a silent unit is noticed within a fifth of the limit after it, and never busier than
        // once a second.
        self.interval = max(.seconds(1), min(.seconds(30), offlineAfter / 5))
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await check() } catch {
                logger.warning("checking units' links failed", metadata: ["error": "\(error)"])
            }
            // The wait ends at once when the process stops.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Notes the units linked here as seen, then raises alerts for the silent ones; returns the units newly
    /// reported offline.
    @discardableResult
    public func check() async throws -> [String] {
        try await edges.noteLinkedUnitsSeen()
        return try await edges.reportSilentUnits(silentFor: offlineAfter)
    }
}

extension EdgeDesk {
    /// The alert kind of a silent unit.
    public static let offlineAlert = "unit_offline"

    /// Notes that the units whose links this process holds are seen now.
    func noteLinkedUnitsSeen() async throws {
        let linked = hub.connectedUnits
        guard !linked.isEmpty else { return }
        let nowMs = clock.now().millisecondsSince1970
        try await store.write { s in try await s.touchUnits(Array(linked), at: nowMs) }
    }

    /// Raises an offline alert for each unit not seen for `silentFor` that has none open; returns their ids.
    func reportSilentUnits(silentFor: Int64) async throws -> [String] {
        let nowMs = clock.now().millisecondsSince1970
        let silent = try await store.read { s in try await s.silentUnits(before: nowMs - silentFor) }
        var reported: [String] = []
        for candidate in silent {
            let raised = try await ledger.write { s -> Bool in
                // Locked, then checked again: another process may have seen it, or reported it, meanwhile.
                guard let unit = try await s.lockUnit(candidate.id), unit.decommissionedAt == nil,
                    try await s.openAlert(unit: unit.id, kind: Self.offlineAlert) == nil
                else { return false }
                let lastSeen = try await s.unitLastSeen(unit.id) ?? unit.edgeEnrolledAt ?? nowMs
                guard nowMs - lastSeen >= silentFor else { return false }
                let minutes = (nowMs - lastSeen) / Milliseconds.minute
                let raised = try await alert(
                    s, unit: unit, kind: Self.offlineAlert,
                    detail: "\(unit.name) has not been linked to the server for \(minutes) minutes", nowMs: nowMs)
                try await ledger.audit(
                    s, .unitOffline, .failure, actor: .system, unit: unit,
                    detail: ["silentFor": String((nowMs - lastSeen) / 1000), "alertId": raised.id])
                return true
            }
            if raised { reported.append(candidate.id) }
        }
        if !reported.isEmpty { logger.warning("units went silent", metadata: ["units": "\(reported)"]) }
        return reported
    }

    /// A unit's link came up on this process: it is seen now, and its offline alert, if any, is resolved.
    public func unitLinked(unitId: String) async throws {
        let nowMs = clock.now().millisecondsSince1970
        try await ledger.write { s in
            try await s.touchUnits([unitId], at: nowMs)
            guard let alert = try await s.openAlert(unit: unitId, kind: Self.offlineAlert),
                try await s.resolveAlert(alert.id, by: "system", at: nowMs), let unit = try await s.unit(unitId)
            else { return }
            try await ledger.audit(
                s, .unitBackOnline, actor: .system, unit: unit,
                detail: ["alertId": alert.id, "offlineFor": String(max(0, nowMs - alert.createdAt) / 1000)])
        }
    }
}
