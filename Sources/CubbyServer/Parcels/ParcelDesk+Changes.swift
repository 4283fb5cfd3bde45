import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation

/// What staff change on a waiting parcel: give a misdelivered one to another recipient, move its pickup deadline.
extension ParcelDesk {
    /// Gives a parcel that is not picked up yet to another recipient of its site. A deposited parcel's live codes are
    /// revoked and new ones issued to the new recipient, who is told as at a deposit; pending reminders to the first
    /// recipient are given up.
    public func reassign(_ p: Principal, parcelId: String, recipientId: String) async throws -> ParcelRecord {
        try AccessPolicy.require(p, .reassignParcel)
        let parcel = try await ledger.write { s -> ParcelRecord in
            var parcel = try await ledger.parcelInScope(s, parcelId, p, lock: true)
            guard [.announced, .reserved, .deposited].contains(parcel.state) else {
                throw DomainError.invalidState("cannot reassign a parcel that is \(parcel.state.rawValue)")
            }
            guard parcel.recipientId != recipientId else {
                throw DomainError.invalidRequest("the parcel is already this recipient's; choose another recipient")
            }
            guard let unit = try await s.unit(parcel.unitId) else {
                throw DomainError.notFound("unit \(parcel.unitId) not found")
            }
            _ = try await recipientInScope(s, recipientId, unit: unit)
            let nowMs = clock.now().millisecondsSince1970
            let from = parcel.recipientId
            let deposited = parcel.state == .deposited
            try await s.setParcelRecipient(parcel.id, recipient: recipientId, at: nowMs)
            parcel.recipientId = recipientId
            parcel.updatedAt = nowMs
            try await ledger.audit(
                s, .parcelReassigned, actor: p.actor, unit: unit, parcel: parcel,
                detail: ["fromRecipientId": from, "toRecipientId": recipientId, "codesReissued": String(deposited)])
            if deposited {
                guard let cid = parcel.compartmentId, let compartment = try await s.compartment(cid) else {
                    throw DomainError.invalidState("the deposited parcel has no compartment")
                }
                try await s.endPickupCredentials(parcel: parcel.id, state: .revoked, at: nowMs)
                try await doors.notices.dropReminders(
                    s, parcel: parcel, because: "the parcel was given to another recipient", at: nowMs)
                try await doors.issueCodes(s, parcel: parcel, compartment: compartment, unit: unit, at: nowMs)
            }
            return parcel
        }
        if parcel.state == .deposited { await link.codesChanged(unitId: parcel.unitId) }
        return parcel
    }

    /// Moves a deposited parcel's pickup deadline `days` later, with its live codes' deadline, within its site's
    /// limit (``PickupDeadline``). Beyond it nothing changes and the answer is `beyondSiteLimit`.
    public func extend(_ p: Principal, parcelId: String, days: Int) async throws -> ParcelRecord {
        try AccessPolicy.require(p, .extendParcel)
        guard PickupDeadline.extensionDays.contains(days) else {
            throw DomainError.invalidRequest(
                "days must be a whole number from \(PickupDeadline.extensionDays.lowerBound) to "
                    + "\(PickupDeadline.extensionDays.upperBound)")
        }
        let parcel = try await ledger.write { s -> ParcelRecord in
            var parcel = try await ledger.parcelInScope(s, parcelId, p, lock: true)
            guard parcel.state == .deposited, let deadline = parcel.expiresAt, let depositedAt = parcel.depositedAt
            else {
                throw DomainError.invalidState(
                    "cannot extend the deadline of a parcel that is \(parcel.state.rawValue); only a deposited one")
            }
            let nowMs = clock.now().millisecondsSince1970
            let lifetime = try await s.site(parcel.siteId)?.pickupLifetimeSeconds ?? 604_800
            let latest = PickupDeadline.latest(depositedAt: depositedAt, siteLifetimeSeconds: lifetime)
            let wanted = deadline + Int64(days) * Milliseconds.day
            guard wanted <= latest else { throw ParcelChangeError.beyondSiteLimit(latest: latest) }
            parcel.expiresAt = wanted
            parcel.updatedAt = nowMs
            try await s.saveParcel(parcel)
            try await s.extendPickupCredentials(parcel: parcel.id, until: wanted)
            try await ledger.audit(
                s, .parcelDeadlineExtended, actor: p.actor, parcel: parcel,
                detail: [
                    "from": AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: deadline)),
                    "to": AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: wanted)),
                ])
            return parcel
        }
        await link.codesChanged(unitId: parcel.unitId)
        return parcel
    }

    /// The latest deadline a deposited parcel may be given, for the page that offers the extension.
    public func latestDeadline(_ parcel: ParcelRecord, site: SiteRecord?) -> Int64? {
        guard parcel.state == .deposited, let depositedAt = parcel.depositedAt else { return nil }
        return PickupDeadline.latest(
            depositedAt: depositedAt, siteLifetimeSeconds: site?.pickupLifetimeSeconds ?? 604_800)
    }
}
