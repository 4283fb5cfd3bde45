import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// Routes for locker units' edge controllers and for the staff who run them.
struct EdgeRoutes {
    let edges: EdgeDesk

    struct EnrollRequest: Decodable {
        var code: String
        var label: String?
        static let fields: Set<String> = ["code", "label"]
    }

    struct EnrollmentCodeResponse: Encodable {
        var unitId: String
        var code: String
        var expiresAt: String
    }

    struct UnitLockdown: Encodable {
        var unitId: String
        var lockedDown: Bool
        /// Whether the unit was locked down before this request (then nothing changed).
        var alreadyLockedDown: Bool

        init(_ outcome: EdgeDesk.LockdownOutcome) {
            unitId = outcome.unit.id
            lockedDown = true
            alreadyLockedDown = outcome.alreadyLockedDown
        }
    }

    struct SiteLockdown: Encodable {
        var siteId: String
        var units: [UnitLockdown]
    }

    struct LockdownRequest: Decodable {
        var reason: String?
        static let fields: Set<String> = ["reason"]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            reason = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("reason"))
        }
    }

    struct Alert: Encodable {
        var id: String
        var kind: String
        var detail: String
        var siteId: String?
        var unitId: String?
        var compartmentId: String?
        var createdAt: String
        /// How many signals the alert stands for, and when the latest came (null while there was one).
        var signals: Int64
        var lastSignalAt: String?
        /// When someone acknowledged it, and who (null until then).
        var acknowledgedAt: String?
        var acknowledgedBy: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(id, forKey: "id")
            try c.encode(kind, forKey: "kind")
            try c.encode(detail, forKey: "detail")
            try c.encode(siteId, forKey: "siteId")
            try c.encode(unitId, forKey: "unitId")
            try c.encode(compartmentId, forKey: "compartmentId")
            try c.encode(createdAt, forKey: "createdAt")
            try c.encode(signals, forKey: "signals")
            try c.encode(lastSignalAt, forKey: "lastSignalAt")
            try c.encode(acknowledgedAt, forKey: "acknowledgedAt")
            try c.encode(acknowledgedBy, forKey: "acknowledgedBy")
        }
    }

    struct ResolveRequest: Decodable {
        var note: String?
        static let fields: Set<String> = ["note"]

        // The document's `note` is a string when present, never null.
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            note = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("note"))
        }
    }

    struct ServiceRequest: Decodable {
        var inService: Bool
        var note: String?
        static let fields: Set<String> = ["inService", "note"]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            inService = try c.decode(Bool.self, forKey: UnitLayout.Key("inService"))
            note = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("note"))
        }
    }

    struct CompartmentService: Encodable {
        var id: String
        var unitId: String
        var label: String
        var state: String
    }

    struct AcknowledgedAlert: Encodable {
        var id: String
        var kind: String
        var acknowledgedAt: String
        var acknowledgedBy: String
    }

    struct ResolvedAlert: Encodable {
        var id: String
        var kind: String
        var resolvedAt: String
    }

    /// The routes units call on the TLS edge port: enrollment and the link (whose WebSocket upgrade the
    /// edge listener handles before routing).
    func registerEdgePort(on routes: inout GuardedRouter) {
        routes.open(.post, EdgeLink.enrollPath) { req, ctx in try await enroll(req, ctx) }
        routes.api(.get, EdgeLink.path, .edgeLink) { _, _, _ in
            // The link is a WebSocket on the edge listener; a plain request only learns that.
            JSONResponse.make(
                ErrorBody(error: "upgrade_required", message: "the edge link is a WebSocket on the TLS edge listener"),
                status: .upgradeRequired, headers: [.upgrade: "websocket"])
        }
    }

    func register(on routes: inout GuardedRouter) {
        registerEdgePort(on: &routes)
        routes.api(.post, "/api/v1/units/:unitId/enrollment-codes", .enrollUnit) { _, ctx, p in
            let unitId = try RequestValidation.pathID(ctx, "unitId")
            let (code, expires) = try await edges.issueEnrollmentCode(p, unitId: unitId)
            return JSONResponse.make(
                EnrollmentCodeResponse(unitId: unitId, code: code, expiresAt: API.time(expires.millisecondsSince1970)),
                status: .created)
        }
        routes.api(.post, "/api/v1/units/:unitId/lockdown", .lockDown) { req, ctx, p in
            let unitId = try RequestValidation.pathID(ctx, "unitId")
            let body = try await JSONBody.decode(
                LockdownRequest.self, from: req, context: ctx, allowed: LockdownRequest.fields)
            let outcome = try await edges.lockDown(p, unitId: unitId, reason: body.reason)
            return JSONResponse.make(UnitLockdown(outcome))
        }
        routes.api(.post, "/api/v1/sites/:siteId/lockdown", .lockDown) { req, ctx, p in
            let siteId = try RequestValidation.pathID(ctx, "siteId")
            let body = try await JSONBody.decode(
                LockdownRequest.self, from: req, context: ctx, allowed: LockdownRequest.fields)
            let outcomes = try await edges.lockDownSite(p, siteId: siteId, reason: body.reason)
            return JSONResponse.make(SiteLockdown(siteId: siteId, units: outcomes.map(UnitLockdown.init)))
        }
        routes.api(.post, "/api/v1/units/:unitId/lockdown/release", .releaseLockdown) { _, ctx, _ in
            // Lifting a lockdown is a person's act with a fresh second factor: never an API credential's.
            _ = try RequestValidation.pathID(ctx, "unitId")
            throw APIError.stepUpRequired(
                "lifting a lockdown needs a person with a fresh second factor: release it in the management portal, "
                    + "or at the server's console with `cubby unit release-lockdown --break-glass`")
        }
        routes.api(.get, "/api/v1/alerts", .readAlerts) { _, _, p in
            let alerts = try await edges.openAlerts(p)
            return JSONResponse.make([
                "alerts": alerts.map {
                    Alert(
                        id: $0.id, kind: $0.kind, detail: $0.detail, siteId: $0.siteId, unitId: $0.unitId,
                        compartmentId: $0.compartmentId,
                        createdAt: API.time($0.createdAt), signals: $0.signals,
                        lastSignalAt: $0.lastSignalAt.map(API.time), acknowledgedAt: $0.acknowledgedAt.map(API.time),
                        acknowledgedBy: $0.acknowledgedBy)
                }
            ])
        }
        routes.api(.post, "/api/v1/alerts/:alertId/acknowledge", .acknowledgeAlert) { req, ctx, p in
            let alertId = try RequestValidation.pathID(ctx, "alertId")
            let body = try await JSONBody.decode(
                ResolveRequest.self, from: req, context: ctx, allowed: ResolveRequest.fields)
            let alert = try await edges.acknowledgeAlert(p, alertId: alertId, note: body.note)
            return JSONResponse.make(
                AcknowledgedAlert(
                    id: alert.id, kind: alert.kind, acknowledgedAt: API.time(alert.acknowledgedAt ?? 0),
                    acknowledgedBy: alert.acknowledgedBy ?? ""))
        }
        routes.api(.post, "/api/v1/alerts/:alertId/resolve", .resolveAlert) { req, ctx, p in
            let alertId = try RequestValidation.pathID(ctx, "alertId")
            let body = try await JSONBody.decode(
                ResolveRequest.self, from: req, context: ctx, allowed: ResolveRequest.fields)
            let alert = try await edges.resolveAlert(p, alertId: alertId, note: body.note)
            return JSONResponse.make(
                ResolvedAlert(id: alert.id, kind: alert.kind, resolvedAt: API.time(alert.resolvedAt ?? 0)))
        }
        routes.api(.post, "/api/v1/compartments/:compartmentId/service", .serviceCompartment) { req, ctx, p in
            let compartmentId = try RequestValidation.pathID(ctx, "compartmentId")
            let body = try await JSONBody.decode(
                ServiceRequest.self, from: req, context: ctx, allowed: ServiceRequest.fields)
            let c = try await edges.setCompartmentService(
                p, compartmentId: compartmentId, inService: body.inService, note: body.note)
            return JSONResponse.make(
                CompartmentService(id: c.id, unitId: c.unitId, label: c.label, state: c.state.rawValue))
        }
        routes.api(.get, "/api/v1/evidence/:sha256", .readAudit) { _, ctx, p in
            guard let sha = ctx.parameters.get("sha256")?.lowercased(), sha.count == 64, sha.allSatisfy(\.isHexDigit),
                let (data, type) = try await edges.evidence(p, sha256: sha)
            else { throw DomainError.notFound("evidence not found") }
            return Response(
                status: .ok, headers: [.contentType: type, .cacheControl: "private, max-age=86400, immutable"],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    func enroll(_ req: Request, _ ctx: CubbyRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(EnrollRequest.self, from: req, context: ctx, allowed: EnrollRequest.fields)
        // Lengths in Unicode code points, as the document's `maxLength` counts them.
        guard (1...64).contains(body.code.unicodeScalars.count) else {
            throw APIError.invalidRequest("code must be 1–64 characters")
        }
        if let label = body.label, label.unicodeScalars.count > 80 {
            throw APIError.invalidRequest("label must be at most 80 characters")
        }
        let enrollment = try await edges.enroll(code: body.code, label: body.label, address: ctx.remoteAddress)
        return JSONResponse.make(enrollment, status: .created)
    }
}
