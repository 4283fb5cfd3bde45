import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The parcel and unit routes of the JSON API, with the health check and the API document: thin handlers that
/// validate input and call the parcel flows (the policy layer has authorized the role).
struct ParcelRoutes {
    let desk: ParcelDesk
    let openAPI: ByteBuffer

    func register(on routes: inout GuardedRouter) {
        registerHealth(on: &routes)
        routes.open(.get, "/api/v1/openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: openAPI))
        }
        routes.api(.post, "/api/v1/parcels", .announceParcel) { req, ctx, p in try await announce(req, ctx, p) }
        routes.api(.get, "/api/v1/parcels/:parcelId", .readParcel) { _, ctx, p in try await getParcel(ctx, p) }
        routes.api(.post, "/api/v1/parcels/:parcelId/cancel", .cancelParcel) { _, ctx, p in try await cancel(ctx, p) }
        routes.api(.post, "/api/v1/parcels/:parcelId/remove", .removeParcel) { _, ctx, p in try await remove(ctx, p) }
        routes.api(.post, "/api/v1/parcels/:parcelId/reassign", .reassignParcel) { req, ctx, p in
            try await reassign(req, ctx, p)
        }
        routes.api(.post, "/api/v1/parcels/:parcelId/extend", .extendParcel) { req, ctx, p in
            try await extend(req, ctx, p)
        }
        routes.api(.post, "/api/v1/units/:unitId/dropoffs", .createDropoff) { req, ctx, p in
            try await dropoff(req, ctx, p)
        }
        routes.api(.post, "/api/v1/units/:unitId/pickups", .pickup) { req, ctx, p in try await pickup(req, ctx, p) }
        routes.api(.post, "/api/v1/units/:unitId/events", .reportUnitEvent) { req, ctx, p in
            try await unitEvent(req, ctx, p)
        }
        routes.api(.get, "/api/v1/units/:unitId", .readUnit) { _, ctx, p in try await getUnit(ctx, p) }
        routes.api(.post, "/api/v1/units/:unitId/pin-entry/resume", .resumePinEntry) { _, ctx, p in
            try await resume(ctx, p)
        }
    }

    /// The health check alone (the edge port serves it beside the units' routes).
    func registerHealth(on routes: inout GuardedRouter) {
        routes.open(.get, "/healthz") { _, _ in try await health() }
    }

    // MARK: handlers

    func health() async throws -> Response {
        guard await desk.isHealthy() else {
            return JSONResponse.make(["status": "unavailable"], status: .serviceUnavailable)
        }
        return JSONResponse.make(["status": "ok"])
    }

    func parcelResponse(_ parcel: ParcelRecord, status: HTTPResponse.Status = .ok) async throws -> Response {
        JSONResponse.make(API.Parcel(parcel, compartment: try await desk.compartment(of: parcel)), status: status)
    }

    func announce(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let body = try await JSONBody.decode(
            API.AnnounceRequest.self, from: req, context: ctx, allowed: API.AnnounceRequest.fields)
        let parcel = try await desk.announce(
            p, unitId: try RequestValidation.uuid(body.unitId, "unitId"),
            trackingNumber: try RequestValidation.trackingNumber(body.trackingNumber),
            recipientId: try RequestValidation.uuid(body.recipientId, "recipientId"),
            size: try RequestValidation.size(body.size))
        return try await parcelResponse(parcel, status: .created)
    }

    func dropoff(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try RequestValidation.pathID(ctx, "unitId")
        let body = try await JSONBody.decode(
            API.DropoffRequest.self, from: req, context: ctx, allowed: API.DropoffRequest.fields)
        let result = try await desk.dropoff(
            p, unitId: unitId, trackingNumber: try RequestValidation.trackingNumber(body.trackingNumber),
            recipientId: try RequestValidation.uuid(body.recipientId, "recipientId"),
            size: try RequestValidation.size(body.size))
        return JSONResponse.make(
            API.DropoffResponse(
                parcelId: result.parcel.id, state: result.parcel.state.rawValue,
                compartment: API.CompartmentRef(result.compartment),
                reservedUntil: result.parcel.reservedUntil.map(API.time)),
            status: .created, headers: [.location: "/api/v1/parcels/\(result.parcel.id)"])
    }

    func getParcel(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        return try await parcelResponse(try await desk.parcel(p, id: try RequestValidation.pathID(ctx, "parcelId")))
    }

    func cancel(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        return try await parcelResponse(
            try await desk.cancel(p, parcelId: try RequestValidation.pathID(ctx, "parcelId")))
    }

    func remove(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        return try await parcelResponse(
            try await desk.remove(p, parcelId: try RequestValidation.pathID(ctx, "parcelId")))
    }

    func reassign(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let parcelId = try RequestValidation.pathID(ctx, "parcelId")
        let body = try await JSONBody.decode(
            API.ReassignRequest.self, from: req, context: ctx, allowed: API.ReassignRequest.fields)
        let recipientId = try RequestValidation.uuid(body.recipientId, "recipientId")
        return try await parcelResponse(try await desk.reassign(p, parcelId: parcelId, recipientId: recipientId))
    }

    func extend(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let parcelId = try RequestValidation.pathID(ctx, "parcelId")
        let body = try await JSONBody.decode(
            API.ExtendRequest.self, from: req, context: ctx, allowed: API.ExtendRequest.fields)
        guard PickupDeadline.extensionDays.contains(body.days) else {
            throw APIError.invalidRequest(
                "days must be an integer in \(PickupDeadline.extensionDays.lowerBound)...\(PickupDeadline.extensionDays.upperBound)"
            )
        }
        return try await parcelResponse(try await desk.extend(p, parcelId: parcelId, days: body.days))
    }

    /// What a refused change to a parcel says (lower case, no final stop, as API messages are).
    static func message(_ e: ParcelChangeError) -> String {
        switch e {
        case .beyondSiteLimit(let latest):
            "the new deadline would be later than the site allows; the latest possible deadline is "
                + AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: latest))
        }
    }

    func pickup(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try RequestValidation.pathID(ctx, "unitId")
        let body = try await JSONBody.decode(
            API.PickupRequest.self, from: req, context: ctx, allowed: API.PickupRequest.fields)
        guard (1...512).contains(body.code.unicodeScalars.count) else {
            throw APIError.invalidRequest("code must be 1–512 characters")
        }
        let (parcel, compartment) = try await desk.pickup(p, unitId: unitId, code: body.code)
        return JSONResponse.make(API.PickupResponse(parcelId: parcel.id, compartment: API.CompartmentRef(compartment)))
    }

    func unitEvent(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try RequestValidation.pathID(ctx, "unitId")
        guard p.unitId?.idString == unitId else { throw DomainError.notFound("unit \(unitId) not found") }
        let body = try await JSONBody.decode(
            API.UnitEventRequest.self, from: req, context: ctx, allowed: API.UnitEventRequest.fields)
        guard let kind = UnitDoorEvent.Kind(rawValue: body.type) else {
            throw APIError.invalidRequest("type must be door_opened or door_closed")
        }
        if kind == .doorClosed && body.itemPresent == nil {
            throw APIError.invalidRequest("missing field: itemPresent")
        }
        // The unit's own time is checked, but the server orders and times what the event changes by its own clock.
        if let text = body.occurredAt { _ = try RequestValidation.timestamp(text, "occurredAt") }
        let event = UnitDoorEvent(
            kind: kind, unitId: unitId, compartmentId: try RequestValidation.uuid(body.compartmentId, "compartmentId"),
            itemPresent: body.itemPresent, occurredAt: desk.clock.now())
        try await desk.handle(event, actor: p.actor)
        return JSONResponse.make(["accepted": true], status: .accepted)
    }

    func getUnit(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let view = try await desk.unit(p, id: try RequestValidation.pathID(ctx, "unitId"))
        return JSONResponse.make(unitBody(view))
    }

    func unitBody(_ view: ParcelDesk.UnitView) -> API.Unit {
        API.Unit(view, policy: desk.policy, now: desk.clock.now())
    }

    func resume(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try RequestValidation.pathID(ctx, "unitId")
        _ = try await desk.resumePinEntry(p, unitId: unitId)
        return JSONResponse.make(unitBody(try await desk.unit(p, id: unitId)).pinEntry)
    }
}
