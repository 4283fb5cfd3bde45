import CubbyCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2`: an identity provider provisions the recipients of its credential's
/// site as Users. Every route is held by the `scim` role alone; errors are answered in the SCIM error schema
/// (`ErrorMapping` does so for every path under the prefix).
struct SCIMRoutes {
    static let prefix = "/scim/v2"
    let users: SCIMUsers

    func register(on routes: inout GuardedRouter) {
        let p = Self.prefix
        routes.api(.get, "\(p)/ServiceProviderConfig", .scimDiscovery) { _, _, _ in
            SCIMResponse.make(SCIMDiscovery.serviceProviderConfig(base: users.base, documentation: users.documentation))
        }
        routes.api(.get, "\(p)/ResourceTypes", .scimDiscovery) { req, _, _ in
            try Self.discoveryList([SCIMDiscovery.userResourceType(base: users.base)], req)
        }
        routes.api(.get, "\(p)/ResourceTypes/:resourceTypeId", .scimDiscovery) { _, ctx, _ in
            guard ctx.parameters.get("resourceTypeId") == "User" else { throw SCIMError.notFound }
            return SCIMResponse.make(SCIMDiscovery.userResourceType(base: users.base))
        }
        routes.api(.get, "\(p)/Schemas", .scimDiscovery) { req, _, _ in
            try Self.discoveryList(SCIMDiscovery.schemas(base: users.base), req)
        }
        routes.api(.get, "\(p)/Schemas/:schemaId", .scimDiscovery) { _, ctx, _ in
            let id = ctx.parameters.get("schemaId")?.removingPercentEncoding
            guard
                let schema = SCIMDiscovery.schemas(base: users.base).first(where: {
                    $0.objectValue?["id"]?.stringValue == id
                })
            else { throw SCIMError.notFound }
            return SCIMResponse.make(schema)
        }
        routes.api(.get, "\(p)/Users", .scimReadUsers) { req, _, principal in
            let q = req.uri.queryParameters
            return try await list(
                principal, filter: q.get("filter"), startIndex: q.get("startIndex"), count: q.get("count"),
                attributes: q.get("attributes"), excluded: q.get("excludedAttributes"))
        }
        routes.api(.post, "\(p)/Users/.search", .scimReadUsers) { req, ctx, principal in
            try await search(req, ctx, principal)
        }
        // Searching every resource type at once (RFC 7644 §3.4.3) is not offered: there is one, Users.
        routes.api(.post, "\(p)/.search", .scimReadUsers) { _, _, _ in
            throw SCIMError(501, nil, "Search across resource types is not supported; search /Users/.search")
        }
        routes.api(.post, "\(p)/Users", .scimWriteUsers) { req, ctx, principal in
            let body = try await SCIMBody.read(req, ctx)
            let user = try await users.create(principal, body)
            let doc = users.render(user)
            return SCIMResponse.make(
                .object(doc), status: .created, headers: [.location: users.location(user.id)])
        }
        routes.api(.get, "\(p)/Users/:userId", .scimReadUsers) { req, ctx, principal in
            let user = try await users.get(principal, try Self.userId(ctx))
            return try respond(users.render(user), req)
        }
        routes.api(.put, "\(p)/Users/:userId", .scimWriteUsers) { req, ctx, principal in
            let id = try Self.userId(ctx)
            let body = try await SCIMBody.read(req, ctx)
            return try respond(users.render(try await users.replace(principal, id, body)), req)
        }
        routes.api(.patch, "\(p)/Users/:userId", .scimWriteUsers) { req, ctx, principal in
            let id = try Self.userId(ctx)
            let body = try await SCIMBody.read(req, ctx)
            return try respond(users.render(try await users.patch(principal, id, body)), req)
        }
        routes.api(.delete, "\(p)/Users/:userId", .scimWriteUsers) { _, ctx, principal in
            try await users.delete(principal, try Self.userId(ctx))
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
    }

    /// A path id that is not a UUID names no user.
    static func userId(_ ctx: CubbyRequestContext) throws(SCIMError) -> String {
        guard let text = ctx.parameters.get("userId"), let id = EntityID.parse(text) else { throw SCIMError.notFound }
        return id
    }

    /// A resource, narrowed by `attributes` / `excludedAttributes` when the query asks.
    func respond(_ doc: [String: SCIMJSON], _ req: Request) throws -> Response {
        let q = req.uri.queryParameters
        let projection = try SCIMProjection(attributes: q.get("attributes"), excluded: q.get("excludedAttributes"))
        return SCIMResponse.make(.object(projection.apply(doc)))
    }

    static func discoveryList(_ resources: [SCIMJSON], _ req: Request) throws -> Response {
        if req.uri.queryParameters.get("filter") != nil {
            throw SCIMError(403, nil, "Filtering the discovery endpoints is not supported")
        }
        return SCIMResponse.make(SCIMDiscovery.list(resources, total: resources.count, startIndex: 1))
    }

    func list(
        _ principal: Principal, filter: String?, startIndex: String?, count: String?, attributes: String?,
        excluded: String?
    ) async throws -> Response {
        let start = try Self.integer(startIndex, "startIndex").map { max(1, $0) } ?? 1
        let count = try Self.integer(count, "count").map { min(max(0, $0), SCIMDiscovery.maxResults) } ?? 100
        let parsed = try filter.map { text throws(SCIMError) in try SCIMFilter.parse(text) }
        let projection = try SCIMProjection(attributes: attributes, excluded: excluded)
        let (total, found) = try await users.list(principal, filter: parsed, startIndex: start, count: count)
        return SCIMResponse.make(
            SCIMDiscovery.list(
                found.map { .object(projection.apply(users.render($0))) }, total: total, startIndex: start))
    }

    /// `POST /Users/.search`: the query parameters of a list in a SearchRequest body.
    func search(_ req: Request, _ ctx: CubbyRequestContext, _ principal: Principal) async throws -> Response {
        guard let body = try await SCIMBody.read(req, ctx).objectValue else {
            throw SCIMError.invalidSyntax("the body must be a SearchRequest object")
        }
        let schemas = body.attribute("schemas")?.arrayValue?.compactMap(\.stringValue) ?? []
        guard schemas.contains("urn:ietf:params:scim:api:messages:2.0:SearchRequest") else {
            throw SCIMError.invalidSyntax("schemas must list urn:ietf:params:scim:api:messages:2.0:SearchRequest")
        }
        func text(_ key: String) throws(SCIMError) -> String? {
            switch body.attribute(key) {
            case nil, .null?: return nil
            case .string(let s)?: return s
            case .number(let n)?: return String(Int(n))
            case .array(let items)?:
                return try items.map { v throws(SCIMError) in
                    guard let s = v.stringValue else { throw SCIMError.invalidValue("\(key) must list strings") }
                    return s
                }.joined(separator: ",")
            default: throw SCIMError.invalidValue("\(key) has the wrong type")
            }
        }
        return try await list(
            principal, filter: try text("filter"), startIndex: try text("startIndex"), count: try text("count"),
            attributes: try text("attributes"), excluded: try text("excludedAttributes"))
    }

    static func integer(_ text: String?, _ name: String) throws(SCIMError) -> Int? {
        guard let text else { return nil }
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw SCIMError.invalidValue("\(name) must be an integer")
        }
        return n
    }
}

/// A SCIM request body: `application/scim+json` (or `application/json`), one JSON value within the body limit.
enum SCIMBody {
    static func read(_ request: Request, _ context: CubbyRequestContext) async throws -> SCIMJSON {
        if let contentType = request.headers[.contentType] {
            let media =
                contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                ?? ""
            guard media == SCIMResponse.mediaType || media == "application/json" else {
                throw SCIMError(415, nil, "Send the body as application/scim+json")
            }
        }
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: context.maxUploadSize) } catch is NIOTooManyBytesError {
            throw SCIMError(413, nil, "The request body exceeds \(context.maxUploadSize) bytes")
        }
        let data = Data(buffer.readableBytesView)
        guard !data.isEmpty else { throw SCIMError.invalidSyntax("The request body is empty") }
        guard let value = SCIMJSON.parse(data), value.objectValue != nil else {
            throw SCIMError.invalidSyntax("The request body is not a JSON object")
        }
        return value
    }
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5): which attributes a response carries. `schemas` and
/// `id` are always returned.
struct SCIMProjection {
    var attributes: [String]?
    var excluded: [String]

    init(attributes: String?, excluded: String?) throws(SCIMError) {
        func names(_ text: String) throws(SCIMError) -> [String] {
            try text.split(separator: ",").map { part throws(SCIMError) in
                let t = part.trimmingCharacters(in: .whitespaces)
                guard let path = SCIMAttributePath.parse(t) else {
                    throw SCIMError.invalidValue("'\(t)' is not an attribute name")
                }
                return path.name.lowercased()
            }
        }
        self.attributes = try attributes.map(names)
        self.excluded = try excluded.map(names) ?? []
    }

    func apply(_ doc: [String: SCIMJSON]) -> [String: SCIMJSON] {
        doc.filter { key, _ in
            let k = key.lowercased()
            if k == "schemas" || k == "id" { return true }
            if let attributes { return attributes.contains(k) }
            return !excluded.contains(k)
        }
    }
}
