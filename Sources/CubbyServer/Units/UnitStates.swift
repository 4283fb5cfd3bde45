import Crypto
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// What a unit needs to serve pickups by itself (compartments, live codes, keys, lockdown), read for the unit's
/// link, and sent to a unit connected to this process.
public struct UnitStates: Sendable {
    let store: any SQLStore
    let keys: LockerKeys
    let policy: PinEntryPolicy
    let clock: ServerClock
    let hub: EdgeHub
    let logger: Logger

    public init(
        store: any SQLStore, keys: LockerKeys, policy: PinEntryPolicy, clock: ServerClock, hub: EdgeHub, logger: Logger
    ) {
        self.store = store
        self.keys = keys
        self.policy = policy
        self.clock = clock
        self.hub = hub
        self.logger = logger
    }

    /// The unit's state as the server holds it now.
    public func state(unitId: String) async throws -> EdgeUnitState {
        let nowMs = clock.now().millisecondsSince1970
        return try await store.read { s in
            guard let unit = try await s.unit(unitId) else { throw DomainError.notFound("unit \(unitId) not found") }
            let compartments = try await s.compartments(unit: unit.id).sorted {
                $0.label.localizedStandardCompare($1.label) == .orderedAscending
            }
            let codes = try await s.livePickupCredentials(unit: unit.id, now: nowMs)
            // Read afresh: a unit must learn a rotated key before it sees a token signed by it.
            try await keys.signing.refresh(s, now: nowMs)
            let qrKeys = keys.signing.qrKeys(at: nowMs)
            return EdgeUnitState(
                unitId: unit.id, unitName: unit.name,
                compartments: compartments.enumerated().map { i, c in
                    let wire = EdgeCompartment.wiring(index: i)
                    return EdgeCompartment(
                        id: c.id, label: c.label, size: c.size.rawValue, board: wire.board, channel: wire.channel,
                        outOfService: c.state == .outOfService)
                },
                pinPolicy: policy, pinKey: keys.unitPinKey(unit.id).base64,
                qrPublicKey: qrKeys.current.publicKey.rawRepresentation.base64EncodedString(),
                codes: codes.map {
                    EdgePickupCode(
                        parcelId: $0.parcelId, compartmentId: $0.compartmentId,
                        pinHash: $0.pinHash.base64EncodedString(),
                        qrNonce: $0.qrNonce, expiresAt: $0.expiresAt)
                },
                lockedDown: unit.lockedDownAt != nil,
                qrEarlierKeys: qrKeys.earlier.isEmpty
                    ? nil
                    : qrKeys.earlier.map {
                        EdgeQRKey(publicKey: $0.key.publicKey.rawRepresentation.base64EncodedString(), until: $0.until)
                    })
        }
    }

    /// Sends the unit its current state if its controller is connected to this process; otherwise it gets
    /// the state when it connects.
    public func push(unitId: String) async {
        guard hub.isConnected(unitId) else { return }
        do {
            hub.send(.state(try await state(unitId: unitId)), to: unitId)
        } catch {
            logger.warning("unit state not sent", metadata: ["unit": "\(unitId)", "error": "\(error)"])
        }
    }
}
