import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The JSON API's routes: thin handlers that validate input, authorize the role and call the flows.
struct APIRoutes {
    let desk: ParcelDesk
    let log: AuditLog
    let openAPI: ByteBuffer

    func register(on routes: inout GuardedRouter) {
        routes.open(.get, "/healthz") { _, _ in try await health() }
        routes.open(.get, "/api/v1/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: .init(byteBuffer: openAPI))
        }
        routes.api(.post, "/api/v1/parcels", .announceParcel) { req, ctx, p in try await announce(req, ctx, p) }
        routes.api(.get, "/api/v1/parcels/:parcelId", .readParcel) { _, ctx, p in try await getParcel(ctx, p) }
        routes.api(.post, "/api/v1/parcels/:parcelId/cancel", .cancelParcel) { _, ctx, p in try await cancel(ctx, p) }
        routes.api(.post, "/api/v1/parcels/:parcelId/remove", .removeParcel) { _, ctx, p in try await remove(ctx, p) }
        routes.api(.post, "/api/v1/units/:unitId/dropoffs", .createDropoff) { req, ctx, p in try await dropoff(req, ctx, p) }
        routes.api(.post, "/api/v1/units/:unitId/pickups", .pickup) { req, ctx, p in try await pickup(req, ctx, p) }
        routes.api(.post, "/api/v1/units/:unitId/events", .reportUnitEvent) { req, ctx, p in try await unitEvent(req, ctx, p) }
        routes.api(.get, "/api/v1/units/:unitId", .readUnit) { _, ctx, p in try await getUnit(ctx, p) }
        routes.api(.post, "/api/v1/units/:unitId/pin-entry/resume", .resumePinEntry) { _, ctx, p in try await resume(ctx, p) }
        routes.api(.get, "/api/v1/audit/events", .readAudit) { req, ctx, p in try await auditEvents(req, ctx, p) }
        routes.api(.get, "/api/v1/audit/checkpoint", .readAudit) { _, _, _ in try await checkpoint() }
        routes.api(.get, "/api/v1/audit/key", .readAudit) { _, _, _ in verifierKey() }
        routes.api(.get, "/api/v1/audit/proof/inclusion", .readAudit) { req, _, _ in try await inclusionProof(req) }
        routes.api(.get, "/api/v1/audit/proof/consistency", .readAudit) { req, _, _ in try await consistencyProof(req) }
    }

    // MARK: validation helpers

    static func uuid(_ text: String, _ field: String) throws -> String {
        guard let id = UUID(uuidString: text) else { throw APIError.invalidRequest("\(field) must be a UUID") }
        return id.uuidString.lowercased()
    }

    /// A path id: anything that is not a UUID cannot exist.
    static func pathID(_ ctx: CubbyRequestContext, _ name: String) throws -> String {
        guard let text = ctx.parameters.get(name), let id = UUID(uuidString: text) else {
            throw DomainError.notFound("\(name) not found")
        }
        return id.uuidString.lowercased()
    }

    static func size(_ text: String) throws -> SizeClass {
        guard let s = SizeClass(rawValue: text) else { throw APIError.invalidRequest("size must be one of S, M, L, XL") }
        return s
    }

    static func trackingNumber(_ text: String) throws -> String {
        let ok = (1...64).contains(text.utf8.count)
            && text.utf8.first.map { isAlnum($0) } == true
            && text.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
        guard ok else { throw APIError.invalidRequest("trackingNumber must be 1–64 characters: letters, digits, '.', '_' or '-'") }
        return text
    }

    static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    // MARK: handlers

    func health() async throws -> Response {
        do {
            try await desk.store.read { s in _ = try await s.organizationCount() }
            return JSONResponse.make(["status": "ok"])
        } catch {
            return JSONResponse.make(["status": "unavailable"], status: .serviceUnavailable)
        }
    }

    func parcelResponse(_ parcel: ParcelRecord, status: HTTPResponse.Status = .ok) async throws -> Response {
        let compartment = try await parcel.compartmentId.asyncMap { id in try await desk.store.read { s in try await s.compartment(id) } } ?? nil
        return JSONResponse.make(API.Parcel(parcel, compartment: compartment), status: status)
    }

    func announce(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let body = try await JSONBody.decode(API.AnnounceRequest.self, from: req, context: ctx, allowed: API.AnnounceRequest.fields)
        let parcel = try await desk.announce(
            p, unitId: try Self.uuid(body.unitId, "unitId"), trackingNumber: try Self.trackingNumber(body.trackingNumber),
            recipientId: try Self.uuid(body.recipientId, "recipientId"), size: try Self.size(body.size))
        return try await parcelResponse(parcel, status: .created)
    }

    func dropoff(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try Self.pathID(ctx, "unitId")
        let body = try await JSONBody.decode(API.DropoffRequest.self, from: req, context: ctx, allowed: API.DropoffRequest.fields)
        let result = try await desk.dropoff(
            p, unitId: unitId, trackingNumber: try Self.trackingNumber(body.trackingNumber),
            recipientId: try Self.uuid(body.recipientId, "recipientId"), size: try Self.size(body.size))
        return JSONResponse.make(
            API.DropoffResponse(
                parcelId: result.parcel.id, state: result.parcel.state, compartment: API.CompartmentRef(result.compartment),
                reservedUntil: result.parcel.reservedUntil.map(API.time)),
            status: .created, headers: [.location: "/api/v1/parcels/\(result.parcel.id)"])
    }

    func getParcel(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        return try await parcelResponse(try await desk.parcel(p, id: try Self.pathID(ctx, "parcelId")))
    }

    func cancel(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        return try await parcelResponse(try await desk.cancel(p, parcelId: try Self.pathID(ctx, "parcelId")))
    }

    func remove(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        return try await parcelResponse(try await desk.remove(p, parcelId: try Self.pathID(ctx, "parcelId")))
    }

    func pickup(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try Self.pathID(ctx, "unitId")
        let body = try await JSONBody.decode(API.PickupRequest.self, from: req, context: ctx, allowed: API.PickupRequest.fields)
        guard (1...512).contains(body.code.utf8.count) else { throw APIError.invalidRequest("code must be 1–512 characters") }
        let (parcel, compartment) = try await desk.pickup(p, unitId: unitId, code: body.code)
        return JSONResponse.make(API.PickupResponse(parcelId: parcel.id, compartment: API.CompartmentRef(compartment)))
    }

    func unitEvent(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try Self.pathID(ctx, "unitId")
        guard p.unitId?.uuidString.lowercased() == unitId else { throw DomainError.notFound("unit \(unitId) not found") }
        let body = try await JSONBody.decode(API.UnitEventRequest.self, from: req, context: ctx, allowed: API.UnitEventRequest.fields)
        guard let kind = UnitDoorEvent.Kind(rawValue: body.type) else {
            throw APIError.invalidRequest("type must be door_opened or door_closed")
        }
        if kind == .doorClosed && body.itemPresent == nil { throw APIError.invalidRequest("missing field: itemPresent") }
        let event = UnitDoorEvent(
            kind: kind, unitId: unitId, compartmentId: try Self.uuid(body.compartmentId, "compartmentId"),
            itemPresent: body.itemPresent, occurredAt: desk.clock.now())
        try await desk.handle(event, actor: p.actor)
        return JSONResponse.make(["accepted": true], status: .accepted)
    }

    func getUnit(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let view = try await desk.unit(p, id: try Self.pathID(ctx, "unitId"))
        return JSONResponse.make(unitBody(view))
    }

    func unitBody(_ view: ParcelDesk.UnitView) -> API.Unit {
        API.Unit(
            id: view.unit.id, siteId: view.unit.siteId, name: view.unit.name, compartments: view.compartments.map(API.Compartment.init),
            pinEntry: API.pinStatus(view, policy: desk.policy, now: desk.clock.now()))
    }

    func resume(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let unitId = try Self.pathID(ctx, "unitId")
        _ = try await desk.resumePinEntry(p, unitId: unitId)
        return JSONResponse.make(unitBody(try await desk.unit(p, id: unitId)).pinEntry)
    }

    /// An integer query parameter within `range`, or `def` when absent.
    static func query(_ req: Request, _ name: String, _ def: Int?, _ range: ClosedRange<Int>) throws -> Int {
        guard let text = req.uri.queryParameters.get(name) else {
            guard let def else { throw APIError.invalidRequest("missing query parameter \(name)") }
            return def
        }
        guard let v = Int(text), range.contains(v) else {
            throw APIError.invalidRequest("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    /// Events in leaf-index order, each with its canonical bytes and leaf hash.
    func auditEvents(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let from = try Self.query(req, "from", 0, 0...Int.max)
        let limit = try Self.query(req, "limit", 100, 1...1000)
        try await log.sequence()
        let org = p.organizationId.uuidString.lowercased()
        let sites = Set(p.siteIds.map { $0.uuidString.lowercased() })
        let events = try await desk.store.read { s in try await s.sequencedEvents(from: Int64(from), limit: limit, organization: org) }
        // An administrator sees its sites' events and the organization-wide ones, nothing of other sites.
        let visible = events.filter { $0.1.siteId.map(sites.contains) ?? true }
        let page = API.AuditPage(
            events: visible.map { API.AuditEvent($0.1, index: $0.0) },
            next: events.count == limit ? events.last.map { $0.0 + 1 } : nil)
        return JSONResponse.make(page)
    }

    /// The latest signed checkpoint, exactly as signed.
    func checkpoint() async throws -> Response {
        let c = try await log.latestCheckpoint()
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: c.note)))
    }

    func verifierKey() -> Response {
        return JSONResponse.make(["origin": log.origin, "key": log.verifierKey])
    }

    struct InclusionBody: Encodable {
        var index: Int
        var size: Int
        var leafHash: String
        var proof: [String]
    }

    struct ConsistencyBody: Encodable {
        var from: Int
        var to: Int
        var proof: [String]
    }

    func inclusionProof(_ req: Request) async throws -> Response {
        let index = try Self.query(req, "index", nil, 0...Int.max)
        let size = try Self.query(req, "size", nil, 1...Int.max)
        do {
            let (leaf, proof) = try await log.inclusionProof(index: UInt64(index), size: UInt64(size))
            return JSONResponse.make(InclusionBody(index: index, size: size, leafHash: leaf.base64, proof: proof.hashes.map(\.base64)))
        } catch AuditLogError.outOfRange(let m) {
            throw APIError.invalidRequest(m)
        }
    }

    func consistencyProof(_ req: Request) async throws -> Response {
        let from = try Self.query(req, "from", nil, 0...Int.max)
        let to = try Self.query(req, "to", nil, 0...Int.max)
        do {
            let proof = try await log.consistencyProof(from: UInt64(from), to: UInt64(to))
            return JSONResponse.make(ConsistencyBody(from: from, to: to, proof: proof.hashes.map(\.base64)))
        } catch AuditLogError.outOfRange(let m) {
            throw APIError.invalidRequest(m)
        }
    }
}
