import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The audit log's routes: events, the signed checkpoint, the verifier key and proofs, each of the caller's
/// organization's log (or, with `log=frozen`, of the frozen deployment-wide log of earlier versions).
struct AuditRoutes {
    let log: AuditLog
    let reader: AuditReader

    func register(on routes: inout GuardedRouter) {
        routes.api(.get, "/api/v1/audit/events", .readAudit) { req, _, p in try await events(req, p) }
        routes.api(.get, "/api/v1/audit/events/{id}", .readAudit) { _, ctx, p in try await event(ctx, p) }
        routes.api(.get, "/api/v1/audit/checkpoint", .readAudit) { req, _, p in try await checkpoint(req, p) }
        routes.api(.get, "/api/v1/audit/key", .readAudit) { req, _, p in try await verifierKey(req, p) }
        routes.api(.get, "/api/v1/audit/proof/inclusion", .readAudit) { req, _, p in try await inclusionProof(req, p) }
        routes.api(.get, "/api/v1/audit/proof/consistency", .readAudit) { req, _, p in
            try await consistencyProof(req, p)
        }
    }

    /// Whether the request names the frozen log (`log=frozen`) rather than the organization's (`log=organization`,
    /// the default).
    static func frozen(_ req: Request) throws -> Bool {
        switch req.uri.queryParameters.get("log") {
        case nil, "organization": false
        case "frozen": true
        case let other?: throw APIError.invalidRequest("log must be organization or frozen, got \(other)")
        }
    }

    func target(_ req: Request, _ p: Principal) throws -> AuditLogID {
        AuditReader.log(p, frozen: try Self.frozen(req))
    }

    /// Events in leaf-index order, each with its canonical bytes and leaf hash.
    func events(_ req: Request, _ p: Principal) async throws -> Response {
        let from = try RequestValidation.query(req, "from", 0, 0...Int.max)
        let limit = try RequestValidation.query(req, "limit", 100, 1...1000)
        let page = try await reader.page(p, frozen: try Self.frozen(req), from: Int64(from), limit: limit)
        return JSONResponse.make(
            API.AuditPage(events: page.events.map { API.AuditEvent($0.1, index: $0.0) }, next: page.next))
    }

    struct EventBody: Encodable {
        var log: String
        var origin: String
        var event: API.AuditEvent
    }

    /// One event by id, with the log holding it and its leaf index there: the start of an inclusion proof.
    func event(_ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let id = try RequestValidation.pathID(ctx, "id")
        guard let found = try await reader.event(p, id: id) else {
            throw DomainError.notFound("no such audit event in this organization's log")
        }
        let origin = try await describe(found.log).origin
        return JSONResponse.make(
            EventBody(
                log: found.log == .frozen ? "frozen" : "organization", origin: origin,
                event: API.AuditEvent(found.event, index: found.index)))
    }

    /// A log's origin and verifier key; 404 for a frozen log that does not exist.
    func describe(_ target: AuditLogID) async throws -> (origin: String, verifierKey: String) {
        do { return try await log.identity(target) } catch AuditLogError.noSuchLog {
            throw DomainError.notFound("this deployment has no frozen log")
        }
    }

    /// The latest signed checkpoint, exactly as signed.
    func checkpoint(_ req: Request, _ p: Principal) async throws -> Response {
        let c: StoredCheckpoint
        do { c = try await log.latestCheckpoint(try target(req, p)) } catch AuditLogError.noSuchLog {
            throw DomainError.notFound("this deployment has no frozen log")
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: c.note)))
    }

    struct KeyBody: Encodable {
        var origin: String
        var key: String
        var history: [LogKeyRotation]?
    }

    /// The log's origin, the verifier key in force, and the rotations that lead to it from earlier keys.
    func verifierKey(_ req: Request, _ p: Principal) async throws -> Response {
        let target = try target(req, p)
        let identity = try await describe(target)
        var history: [LogKeyRotation]? = nil
        if target != .frozen {
            let size = try await log.store.read { s in try await s.latestCheckpoint(target)?.size } ?? 0
            let rotations = try await log.keyHistory(target, size: size)
            history = rotations.isEmpty ? nil : rotations
        }
        return JSONResponse.make(KeyBody(origin: identity.origin, key: identity.verifierKey, history: history))
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

    func inclusionProof(_ req: Request, _ p: Principal) async throws -> Response {
        let index = try RequestValidation.query(req, "index", nil, 0...Int.max)
        let size = try RequestValidation.query(req, "size", nil, 1...Int.max)
        let target = try target(req, p)
        do {
            let (leaf, proof) = try await log.inclusionProof(target, index: UInt64(index), size: UInt64(size))
            // In the frozen log a reader is shown its own organization's leaves only.
            if target == .frozen {
                let event = try await log.store.read { s in
                    try await s.sequencedEvents(.frozen, from: Int64(index), limit: 1).first
                }
                guard let event, event.0 == Int64(index), Scope.covers(p, event: event.1),
                    event.1.organizationId == p.organizationId.idString
                else { throw DomainError.notFound("no such leaf in the frozen log for this organization") }
            }
            return JSONResponse.make(
                InclusionBody(index: index, size: size, leafHash: leaf.base64, proof: proof.hashes.map(\.base64)))
        } catch AuditLogError.outOfRange(let m) {
            throw APIError.invalidRequest(m)
        } catch AuditLogError.beyondTree {
            throw DomainError.notFound("the log holds no such leaf or tree size")
        }
    }

    func consistencyProof(_ req: Request, _ p: Principal) async throws -> Response {
        let from = try RequestValidation.query(req, "from", nil, 0...Int.max)
        let to = try RequestValidation.query(req, "to", nil, 0...Int.max)
        do {
            let proof = try await log.consistencyProof(try target(req, p), from: UInt64(from), to: UInt64(to))
            return JSONResponse.make(ConsistencyBody(from: from, to: to, proof: proof.hashes.map(\.base64)))
        } catch AuditLogError.outOfRange(let m) {
            throw APIError.invalidRequest(m)
        } catch AuditLogError.beyondTree {
            throw DomainError.notFound("the log holds no tree of that size")
        }
    }
}
