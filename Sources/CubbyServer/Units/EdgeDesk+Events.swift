import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// Journaled events from units, applied exactly once.
extension EdgeDesk {
    /// What applying one event did.
    public struct Applied: Sendable, Equatable {
        /// False when the event had been applied before (a replay after a lost acknowledgement).
        public var isNew: Bool
        /// The unit's pickup codes or lockdown changed: send it its state.
        public var stateChanged: Bool
    }

    /// Applies one journaled event, exactly once: the event row and every change it causes share one transaction.
    public func apply(unitId: String, event: EdgeEvent, photo: Data?) async throws -> Applied {
        guard event.seq > 0 else { throw DomainError.invalidState("event sequence numbers start at 1") }
        if let photo {
            guard let claimed = event.photoSHA256, claimed == Hex.sha256(photo) else {
                throw DomainError.invalidState("the photo does not match the event's SHA-256")
            }
        }
        let body = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        let actor = Actor(kind: .device, id: unitId, role: "device")
        let now = clock.now()
        let nowMs = now.millisecondsSince1970
        return try await ledger.write { s -> Applied in
            guard let unit = try await s.unit(unitId) else { throw DomainError.notFound("unit \(unitId) not found") }
            let last = try await s.lastDeviceEvent(unit: unit.id)
            let record = DeviceEventRecord(
                unitId: unit.id, seq: event.seq, kind: event.kind.rawValue, hash: event.hash,
                previousHash: event.previousHash,
                occurredAt: event.occurredAt, receivedAt: nowMs, body: body)
            guard try await s.insertDeviceEvent(record) else { return Applied(isNew: false, stateChanged: false) }

            var detail: [String: String] = ["deviceSeq": String(event.seq), "unitTime": String(event.occurredAt)]
            if let sha = event.photoSHA256 {
                detail[EvidenceBundle.evidenceKey] = sha
                if let photo {
                    try await s.insertEvidence(
                        sha256: sha, unit: unit.id, contentType: "image/jpeg",
                        bytes: try keys.sealEvidence(photo, sha256: sha), at: nowMs)
                }
            }
            try await checkSequence(s, unit: unit, event: event, last: last, actor: actor, nowMs: nowMs)
            return Applied(
                isNew: true,
                stateChanged: try await effects(s, unit: unit, event: event, actor: actor, detail: detail, now: now))
        }
    }

    /// Raises an alert when the unit's journal skipped numbers or its hash chain broke.
    func checkSequence(
        _ s: StoreSession, unit: UnitRecord, event: EdgeEvent, last: DeviceEventRecord?, actor: Actor, nowMs: Int64
    ) async throws {
        let expected = (last?.seq ?? 0) + 1
        if event.seq > expected {
            try await alert(
                s, unit: unit, kind: "edge.sequence_gap", detail: "events \(expected)–\(event.seq - 1) never arrived",
                nowMs: nowMs)
            try await ledger.audit(
                s, .unitJournalGap, .failure, actor: actor, unit: unit,
                detail: ["missingFrom": String(expected), "missingTo": String(event.seq - 1)])
        } else if event.seq < expected {
            // An older event arriving late fills a gap reported before; the chain is checked against its neighbour if present.
            if let prev = try await s.deviceEvent(unit: unit.id, seq: event.seq - 1), prev.hash != event.previousHash {
                try await chainBroken(s, unit: unit, event: event, actor: actor, nowMs: nowMs)
            }
            return
        }
        let breaksChain = event.seq == expected && last.map { $0.hash != event.previousHash } == true
        if EdgeJournalHash.hash(previous: event.previousHash, event: event) != event.hash || breaksChain {
            try await chainBroken(s, unit: unit, event: event, actor: actor, nowMs: nowMs)
        }
    }

    func chainBroken(_ s: StoreSession, unit: UnitRecord, event: EdgeEvent, actor: Actor, nowMs: Int64) async throws {
        try await alert(
            s, unit: unit, kind: "edge.chain_broken",
            detail: "event \(event.seq) does not continue the unit's hash chain", nowMs: nowMs)
        try await ledger.audit(
            s, .unitJournalChainBroken, .failure, actor: actor, unit: unit, detail: ["deviceSeq": String(event.seq)])
    }

    /// Raises an alert at the unit, or counts the signal on the same kind's open one; returns that alert.
    @discardableResult
    func alert(
        _ s: StoreSession, unit: UnitRecord, compartmentId: String? = nil, kind: String, detail: String, nowMs: Int64
    ) async throws -> AlertRecord {
        // A storm of signals is one alert that counts them; every signal is still in the audit log.
        try await s.raiseAlert(
            AlertRecord(
                id: EntityID.make(), organizationId: unit.organizationId, siteId: unit.siteId, unitId: unit.id,
                compartmentId: compartmentId, kind: kind, detail: detail, createdAt: nowMs)
        ).alert
    }

    /// Takes the PIN-entry state a unit reported with a refused code as the unit's own (what `GET /units/{id}` shows),
    /// and records a lockout or suspension that the report begins.
    func adoptPinEntry(_ s: StoreSession, unit: UnitRecord, event: EdgeEvent, actor: Actor, now: Date) async throws {
        guard let reported = PinEntryState(report: event.detail) else { return }
        var unit = unit
        let before = unit.pinEntry
        unit.pinEntry = reported
        if event.kind == .codeRejected {
            unit.pinLastFailureAt = max(unit.pinLastFailureAt ?? 0, min(event.occurredAt, now.millisecondsSince1970))
        }
        try await s.savePinEntry(unit)
        if let until = reported.lockedUntil, until > now, before.lockedUntil != until {
            try await ledger.audit(
                s, .unitPinLockedOut, .denied, actor: actor, unit: unit,
                detail: ["seconds": String(Int(until.timeIntervalSince(now).rounded())), "reportedByUnit": "true"])
        }
        if reported.suspended && !before.suspended {
            try await ledger.audit(
                s, .unitPinEntrySuspended, .denied, actor: actor, unit: unit, detail: ["reportedByUnit": "true"])
        }
    }

    /// What one event changes on the server; true when the unit's state (codes, lockdown) changed.
    func effects(
        _ s: StoreSession, unit: UnitRecord, event: EdgeEvent, actor: Actor, detail: [String: String], now: Date
    ) async throws -> Bool {
        let nowMs = now.millisecondsSince1970
        var d = detail
        for (k, v) in event.detail where d[k] == nil { d[k] = v }
        switch event.kind {
        case .doorOpened, .doorClosed:
            guard let cid = event.compartmentId else {
                throw DomainError.invalidState("a door event names its compartment")
            }
            let item = event.detail["itemPresent"].map { $0 == "true" }
            let door = UnitDoorEvent(
                kind: event.kind == .doorOpened ? .doorOpened : .doorClosed, unitId: unit.id, compartmentId: cid,
                itemPresent: item, occurredAt: Date(millisecondsSince1970: event.occurredAt))
            let parcel = try await parcels.doors.handle(s, door, actor: actor, detail: detail)
            return event.kind == .doorClosed && parcel?.state == .deposited
        case .pickup:
            guard let pid = event.parcelId, var parcel = try await s.parcel(pid, lock: true), parcel.unitId == unit.id
            else {
                try await alert(
                    s, unit: unit, kind: "edge.unknown_pickup",
                    detail: "the unit reported a pickup of an unknown parcel", nowMs: nowMs)
                return true
            }
            guard parcel.state == .deposited else {
                try await ledger.audit(
                    s, .pickupConflict, .failure, actor: actor, unit: unit, parcel: parcel,
                    detail: d.merging(["state": parcel.state.rawValue]) { a, _ in a })
                try await alert(
                    s, unit: unit, compartmentId: parcel.compartmentId, kind: "edge.pickup_conflict",
                    detail: "the unit opened a compartment for a parcel that is \(parcel.state.rawValue)", nowMs: nowMs)
                return true
            }
            try await s.appendAudit(
                try await PickupTransition.apply(
                    s, ledger: ledger, notices: parcels.doors.notices, parcel: &parcel, unit: unit, actor: actor,
                    pickedUpAt: min(event.occurredAt, nowMs), detail: d))
            return true
        case .codeRejected:
            try await s.recordPinFailure(unit: unit.id, at: min(event.occurredAt, nowMs))
            try await ledger.audit(s, .pickupCodeRejected, .failure, actor: actor, unit: unit, detail: d)
            try await adoptPinEntry(s, unit: unit, event: event, actor: actor, now: now)
        case .codeLockedOut:
            try await ledger.audit(s, .pickupRefused, .denied, actor: actor, unit: unit, detail: d)
            try await adoptPinEntry(s, unit: unit, event: event, actor: actor, now: now)
        case .tamper:
            let kind = event.detail["kind"] ?? "unknown"
            let raised = try await alert(
                s, unit: unit, compartmentId: event.compartmentId, kind: "tamper",
                detail: "tamper signal (\(kind)) at \(unit.name); the unit locked itself down", nowMs: nowMs)
            // The alert's id ties the signal to its incident: a SIEM's finding, the webhooks, the pages.
            d["alertId"] = raised.id
            try await ledger.audit(
                s, .unitTamper, .failure, actor: actor, unit: unit, compartmentId: event.compartmentId, detail: d)
            if unit.lockedDownAt == nil {
                try await s.setLockdown(unit: unit.id, at: nowMs, reason: "tamper:\(kind)")
                try await ledger.audit(
                    s, .unitLockedDown, actor: actor, unit: unit, detail: ["reason": "tamper:\(kind)"])
                return true
            }
        case .openRefused:
            try await ledger.audit(
                s, .doorOpenRefused, .denied, actor: actor, unit: unit, compartmentId: event.compartmentId, detail: d)
        case .lockdownReleased:
            try await ledger.audit(s, .unitLockdownLiftedAtUnit, actor: actor, unit: unit, detail: d)
        case .compartmentFault:
            guard let cid = event.compartmentId, var c = try await s.compartment(cid), c.unitId == unit.id else {
                break
            }
            if c.state == .available {
                c.state = .outOfService
                try await s.saveCompartment(c)
            }
            try await alert(
                s, unit: unit, compartmentId: cid, kind: "compartment_fault",
                detail: "the lock of compartment \(c.label) did not answer: \(event.detail["problem"] ?? "no reply")",
                nowMs: nowMs)
            try await ledger.audit(
                s, .compartmentOutOfService, .failure, actor: actor, unit: unit, compartmentId: cid, detail: d)
            return true
        case .serviceDoor:
            try await ledger.audit(
                s, event.detail["open"] == "true" ? .unitServiceDoorOpened : .unitServiceDoorClosed, actor: actor,
                unit: unit, detail: d)
        case .mainsPower:
            let on = event.detail["on"] == "true"
            if !on {
                try await alert(
                    s, unit: unit, kind: "mains_power", detail: "\(unit.name) lost mains power and runs on its battery",
                    nowMs: nowMs)
            }
            try await ledger.audit(
                s, on ? .unitMainsRestored : .unitMainsLost, on ? .success : .failure, actor: actor, unit: unit,
                detail: d)
        case .network:
            try await ledger.audit(
                s, event.detail["up"] == "true" ? .unitNetworkUp : .unitNetworkDown, actor: actor, unit: unit, detail: d
            )
        case .commandDone:
            if let id = event.detail["commandId"] {
                _ = try await s.ackUnitCommand(
                    id: id, unit: unit.id, outcome: event.detail["outcome"] ?? "done", at: nowMs)
                // The unit confirms a lockdown staff ordered from the server (journaled events apply once).
                if event.detail["kind"] == EdgeCommand.Kind.lockdown.rawValue, event.detail["outcome"] == "done" {
                    try await ledger.audit(
                        s, .unitLockedDownAtUnit, actor: actor, unit: unit, detail: ["commandId": id])
                }
            }
            // A resume of PIN entry carries the unit's limiter state after it.
            try await adoptPinEntry(s, unit: unit, event: event, actor: actor, now: now)
        case .started:
            try await ledger.audit(s, .unitControllerStarted, actor: actor, unit: unit, detail: d)
        }
        return false
    }

    /// Records a command's acknowledgement that came outside the journal.
    public func acknowledge(unitId: String, commandId: String, outcome: String) async throws {
        let nowMs = clock.now().millisecondsSince1970
        _ = try await ledger.write { s in
            try await s.ackUnitCommand(id: commandId, unit: unitId, outcome: String(outcome.prefix(40)), at: nowMs)
        }
    }
}
