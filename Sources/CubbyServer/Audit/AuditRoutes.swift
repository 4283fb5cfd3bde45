import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The audit log's routes: events, the signed checkpoint, the verifier key and proofs.
struct AuditRoutes {
    let log: AuditLog
    let reader: AuditReader

    func register(on routes: inout GuardedRouter) {
        routes.api(.get, "/api/v1/audit/events", .readAudit) { req, ctx, p in try await events(req, p) }
        routes.api(.get, "/api/v1/audit/checkpoint", .readAudit) { _, _, _ in try await checkpoint() }
        routes.api(.get, "/api/v1/audit/key", .readAudit) { _, _, _ in verifierKey() }
        routes.api(.get, "/api/v1/audit/proof/inclusion", .readAudit) { req, _, _ in try await inclusionProof(req) }
        routes.api(.get, "/api/v1/audit/proof/consistency", .readAudit) { req, _, _ in try await consistencyProof(req) }
    }

    /// Events in leaf-index order, each with its canonical bytes and leaf hash.
    func events(_ req: Request, _ p: Principal) async throws -> Response {
        let from = try RequestValidation.query(req, "from", 0, 0...Int.max)
        let limit = try RequestValidation.query(req, "limit", 100, 1...1000)
        let page = try await reader.page(p, from: Int64(from), limit: limit)
        return JSONResponse.make(
            API.AuditPage(events: page.events.map { API.AuditEvent($0.1, index: $0.0) }, next: page.next))
    }

    /// The latest signed checkpoint, exactly as signed.
    func checkpoint() async throws -> Response {
        let c = try await log.latestCheckpoint()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: c.note)))
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
        let index = try RequestValidation.query(req, "index", nil, 0...Int.max)
        let size = try RequestValidation.query(req, "size", nil, 1...Int.max)
        do {
            let (leaf, proof) = try await log.inclusionProof(index: UInt64(index), size: UInt64(size))
            return JSONResponse.make(
                InclusionBody(index: index, size: size, leafHash: leaf.base64, proof: proof.hashes.map(\.base64)))
        } catch AuditLogError.outOfRange(let m) {
            throw APIError.invalidRequest(m)
        }
    }

    func consistencyProof(_ req: Request) async throws -> Response {
        let from = try RequestValidation.query(req, "from", nil, 0...Int.max)
        let to = try RequestValidation.query(req, "to", nil, 0...Int.max)
        do {
            let proof = try await log.consistencyProof(from: UInt64(from), to: UInt64(to))
            return JSONResponse.make(ConsistencyBody(from: from, to: to, proof: proof.hashes.map(\.base64)))
        } catch AuditLogError.outOfRange(let m) {
            throw APIError.invalidRequest(m)
        }
    }
}
