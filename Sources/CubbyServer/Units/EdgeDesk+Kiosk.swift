import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging

/// Couriers at a unit's kiosk: the unit asks the server, over its link, who a courier is and to start a drop-off.
extension EdgeDesk {
    /// The courier behind a credential typed at a unit's kiosk, if it may drop off there.
    func courier(token: String, unitId: String) async -> Principal? {
        guard let p = try? await authenticator.principal(forHeader: "Bearer " + token), p.role == .courier else {
            return nil
        }
        guard let unit = try? await store.read({ s in try await s.unit(unitId) }), Scope.covers(p, unit: unit) else {
            return nil
        }
        return p
    }

    /// The carrier's name for the kiosk screen, or nil when the credential may not drop off at this unit.
    public func courierName(token: String, unitId: String) async -> String? {
        guard let p = await courier(token: token, unitId: unitId), let carrier = p.carrierId?.idString else {
            return nil
        }
        let org = p.organizationId.idString
        let carriers = (try? await store.read { s in try await s.carriers(organization: org) }) ?? []
        return carriers.first { $0.id == carrier }?.name ?? "Courier"
    }

    /// A drop-off started at the kiosk; the door command follows over the link.
    public func kioskDropoff(
        requestId: String, token: String, unitId: String, trackingNumber: String, recipientId: String, size: String
    ) async -> EdgeDownMessage {
        func fail(_ code: String, _ message: String) -> EdgeDownMessage {
            .dropoffResult(requestId: requestId, compartmentId: nil, label: nil, error: code, message: message)
        }
        guard let p = await courier(token: token, unitId: unitId) else {
            return fail("signed_out", "The courier credential is not valid here.")
        }
        do {
            let tracking = try RequestValidation.trackingNumber(trackingNumber)
            let recipient = try RequestValidation.uuid(recipientId, "recipientId")
            let sizeClass = try RequestValidation.size(size)
            let result = try await parcels.dropoff(
                p, unitId: unitId, trackingNumber: tracking, recipientId: recipient, size: sizeClass)
            return .dropoffResult(
                requestId: requestId, compartmentId: result.compartment.id, label: result.compartment.label, error: nil,
                message: nil)
        } catch DomainError.unitFull {
            return fail("unit_full", "No free compartment fits this parcel.")
        } catch let e as APIError {
            let (_, code, message, _) = ErrorMapping<CubbyRequestContext>.describe(e)
            return fail(code == "invalid_request" ? "invalid" : code, message)
        } catch let e as DomainError {
            let (_, code, message, _) = ErrorMapping<CubbyRequestContext>.describe(e)
            return fail(code, message)
        } catch {
            logger.error("kiosk drop-off failed", metadata: ["unit": "\(unitId)", "error": "\(error)"])
            return fail("unavailable", "The drop-off could not be recorded. Try again.")
        }
    }
}
