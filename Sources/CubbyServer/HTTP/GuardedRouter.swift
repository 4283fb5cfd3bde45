import CubbyCore
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Where a route lives: the bearer-credential JSON API or the cookie-session portal.
public enum RouteSurface: String, Sendable {
    case api, portal
}

/// One registered route and the action it performs (nil: open to anyone).
public struct RouteEntry: Sendable, Hashable {
    public let method: HTTPRequest.Method
    public let path: String
    public let action: Action?
    public let surface: RouteSurface
}

/// The one policy layer: every route is registered here with its action, and the role check of
/// `AccessPolicy` runs before any handler. A route cannot be added without naming its action.
public struct GuardedRouter {
    let router: Router<CubbyRequestContext>
    let portalGate: PortalGate?
    let table = RouteTable()
    public private(set) var entries: [RouteEntry] = [] {
        didSet { if let last = entries.last { table.add(last.method, last.path) } }
    }

    init(router: Router<CubbyRequestContext>, portalGate: PortalGate?) {
        self.router = router
        self.portalGate = portalGate
        // Before the routes: middleware only wraps what is added after it (and the router's not-found answer).
        router.add(middleware: MethodCheck(table: table))
    }

    /// A route anyone may call.
    mutating func open(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, CubbyRequestContext) async throws -> Response
    ) {
        entries.append(RouteEntry(method: method, path: path, action: nil, surface: .api))
        router.on(RouterPath(path), method: method) { req, ctx in try await handler(req, ctx) }
    }

    /// An API route: a bearer credential whose role may perform `action`.
    mutating func api(
        _ method: HTTPRequest.Method, _ path: String, _ action: Action,
        _ handler: @escaping @Sendable (Request, CubbyRequestContext, Principal) async throws -> Response
    ) {
        entries.append(RouteEntry(method: method, path: path, action: action, surface: .api))
        router.on(RouterPath(path), method: method) { req, ctx in
            try await handler(req, ctx, try Self.authorize(try await ctx.principal(of: req), action))
        }
    }

    /// The check every credential-bearing request passes before its handler (also the edge link's WebSocket upgrade):
    /// no credential is `401`, a role that may not perform `action` is `403`.
    static func authorize(_ principal: Principal?, _ action: Action) throws -> Principal {
        guard let principal else { throw APIError.unauthorized }
        guard AccessPolicy.allows(principal.role, action) else { throw APIError.forbidden }
        return principal
    }

    /// A portal page or form: `action` nil for the pages used before signing in.
    /// A portal route; `upload` lets its form be `multipart/form-data` with a file, up to that many bytes.
    mutating func portal(
        _ method: HTTPRequest.Method, _ path: String, _ action: Action?, upload: Int? = nil,
        _ handler: @escaping @Sendable (Request, CubbyRequestContext, PortalCall) async throws -> Response
    ) {
        guard let gate = portalGate else { return }
        entries.append(RouteEntry(method: method, path: path, action: action, surface: .portal))
        router.on(RouterPath(path), method: method) { req, ctx in
            try await gate.handle(req, ctx, action: action, upload: upload, handler)
        }
    }
}

/// The methods of every registered path, for the `405` answer to a known path asked with another method.
final class RouteTable: Sendable {
    private let paths = Mutex<[(segments: [Substring], methods: [HTTPRequest.Method])]>([])

    func add(_ method: HTTPRequest.Method, _ path: String) {
        let segments = path.split(separator: "/")
        paths.withLock { paths in
            if let i = paths.firstIndex(where: { $0.segments == segments }) {
                paths[i].methods.append(method)
            } else {
                paths.append((segments, [method]))
            }
        }
    }

    /// The methods registered for the path the request names (`:name` matches any one segment); empty for an unknown path.
    /// As in the router, a fixed segment wins over a parameter: `/recipients/import` is not `/recipients/:recipientId`.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let asked = path.split(separator: "/")
        return paths.withLock { paths in
            let matching = paths.filter { entry in
                entry.segments.count == asked.count
                    && zip(entry.segments, asked).allSatisfy { $0.first == ":" || $0 == $1 }
            }
            let fixed = { (segments: [Substring]) in segments.map { $0.first == ":" ? 0 : 1 } }
            guard let best = matching.map({ fixed($0.segments) }).max(by: { $0.lexicographicallyPrecedes($1) }) else {
                return []
            }
            return matching.filter { fixed($0.segments) == best }.flatMap(\.methods)
        }
    }
}

/// Answers `405 method_not_allowed` with `Allow` for a known path asked with a method it does not have, before the
/// router: a method of a parameter route never answers for a literal path beside it. A GET route also answers HEAD.
struct MethodCheck: RouterMiddleware {
    typealias Context = CubbyRequestContext
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        var known = table.methods(for: request.uri.path)
        // Every GET route answers HEAD too, as GET does without the body.
        if known.contains(.get) { known.append(.head) }
        guard known.isEmpty || known.contains(request.method) else {
            let allow = Set(known.map(\.rawValue)).sorted().joined(separator: ", ")
            throw HTTPError(.methodNotAllowed, headers: [.allow: allow])
        }
        return try await next(request, context)
    }
}
