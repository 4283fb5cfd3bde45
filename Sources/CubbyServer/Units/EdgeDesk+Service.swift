import CubbyCore
import CubbyStore
import Foundation
import Logging

/// Staff answering what the units report: resolving alerts, and taking compartments out of service
/// or back into it.
extension EdgeDesk {
    /// Marks an open alert as answered, with the staff member's note in the audit log.
    public func resolveAlert(_ p: Principal, alertId: String, note: String?) async throws -> AlertRecord {
        try await answerAlert(p, alertId: alertId, note: note, action: .resolveAlert)
    }

    /// Says that someone is on an open alert (its escalation stops); it stays open until resolved.
    public func acknowledgeAlert(_ p: Principal, alertId: String, note: String?) async throws -> AlertRecord {
        try await answerAlert(p, alertId: alertId, note: note, action: .acknowledgeAlert)
    }

    /// Acknowledges or resolves an alert in one transaction with its audit event (which also feeds the webhooks).
    func answerAlert(_ p: Principal, alertId: String, note: String?, action: Action) async throws -> AlertRecord {
        try AccessPolicy.require(p, action)
        let note = try Self.note(note)
        let nowMs = clock.now().millisecondsSince1970
        return try await ledger.write { s -> AlertRecord in
            guard var alert = try await s.alert(alertId), Scope.covers(p, alert: alert) else {
                throw DomainError.notFound("alert \(alertId) not found")
            }
            let who = p.actor.id ?? p.actor.kind.rawValue
            let event: AuditEventType
            if action == .resolveAlert {
                guard try await s.resolveAlert(alert.id, by: who, at: nowMs, note: note) else {
                    throw DomainError.invalidState("alert \(alert.id) is already resolved")
                }
                alert.resolvedAt = nowMs
                alert.resolvedBy = who
                alert.resolveNote = note
                event = .alertResolved
            } else {
                guard try await s.acknowledgeAlert(alert.id, by: who, at: nowMs, note: note) else {
                    throw DomainError.invalidState(
                        alert.resolvedAt == nil
                            ? "alert \(alert.id) is already acknowledged" : "alert \(alert.id) is already resolved")
                }
                alert.acknowledgedAt = nowMs
                alert.acknowledgedBy = who
                alert.acknowledgeNote = note
                event = .alertAcknowledged
            }
            var unit: UnitRecord?
            if let unitId = alert.unitId { unit = try await s.unit(unitId) }
            var detail = [
                "alertId": alert.id, "kind": alert.kind, "openFor": String(max(0, nowMs - alert.createdAt) / 1000),
            ]
            if let note { detail["note"] = note }
            try await ledger.audit(
                s, event, actor: p.actor, unit: unit, compartmentId: alert.compartmentId, detail: detail)
            return alert
        }
    }

    /// Takes an available compartment out of service (a broken lock, a jammed door, cleaning), or puts an
    /// out-of-service compartment back in service; the unit learns it from its next state.
    public func setCompartmentService(_ p: Principal, compartmentId: String, inService: Bool, note: String?)
        async throws -> CompartmentRecord
    {
        try AccessPolicy.require(p, .serviceCompartment)
        let note = try Self.note(note)
        let changed = try await ledger.write { s -> CompartmentRecord in
            // Locked for the transaction (FOR UPDATE on PostgreSQL; SQLite writes one transaction at a time).
            guard var c = try await s.compartment(compartmentId) else {
                throw DomainError.notFound("compartment \(compartmentId) not found")
            }
            let unit: UnitRecord
            do { unit = try await ledger.unitInScope(s, c.unitId, p, lock: true) } catch DomainError.notFound {
                throw DomainError.notFound("compartment \(compartmentId) not found")
            }
            let (from, to, event): (CompartmentState, CompartmentState, AuditEventType) =
                inService
                ? (.outOfService, .available, .compartmentBackInService)
                : (.available, .outOfService, .compartmentOutOfService)
            guard c.state == from else {
                let now = c.state.rawValue.replacingOccurrences(of: "_", with: " ")
                throw DomainError.invalidState(
                    inService
                        ? "compartment \(c.label) is \(now), not out of service"
                        : "compartment \(c.label) is \(now); only an available compartment can be taken out of service")
            }
            c.state = to
            try await s.saveCompartment(c)
            var detail = ["label": c.label]
            if let note { detail["note"] = note }
            try await ledger.audit(s, event, actor: p.actor, unit: unit, compartmentId: c.id, detail: detail)
            return c
        }
        await states.push(unitId: changed.unitId)
        return changed
    }

    /// A staff note: optional, one line of at most 200 characters (Unicode code points, as the API document's
    /// `maxLength` counts them), without control characters; checked as sent, then trimmed.
    static func note(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard text.unicodeScalars.count <= 200, !text.unicodeScalars.contains(where: isLineBreakOrControl) else {
            throw DomainError.invalidRequest("a note is one line of at most 200 characters")
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators: what the document's note pattern excludes.
    static func isLineBreakOrControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
    }
}
