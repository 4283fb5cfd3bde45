import CubbyCore
import CubbyStore

/// The one pickup transition: whichever way a pickup arrived — a code checked by the server's pickup route, or a
/// code checked by a unit and journaled — the parcel moves to `picked_up`, its codes are spent and `pickup.succeeded`
/// is recorded, and the recipient's pickup receipt written, in the caller's transaction.
enum PickupTransition {
    /// Applies the pickup to `parcel` and saves it; returns the `pickup.succeeded` event for the caller to append
    /// (alone, or in one statement with the events that follow it).
    static func apply(
        _ s: StoreSession, ledger: Ledger, notices: ParcelNotices, parcel: inout ParcelRecord, unit: UnitRecord,
        actor: Actor,
        pickedUpAt: Int64,
        detail: [String: String]
    ) async throws -> AuditRecord {
        let nowMs = ledger.clock.now().millisecondsSince1970
        try ParcelDesk.advance(&parcel, on: .pickUp)
        parcel.pickedUpAt = pickedUpAt
        parcel.updatedAt = nowMs
        try await s.saveParcel(parcel)
        try await s.endPickupCredentials(parcel: parcel.id, state: .used, at: nowMs)
        try await notices.pickedUp(s, parcel: parcel, unit: unit, at: nowMs)
        return ledger.record(.pickupSucceeded, actor: actor, unit: unit, parcel: parcel, detail: detail)
    }
}
