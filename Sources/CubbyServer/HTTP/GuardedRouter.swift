import CubbyCore
import Foundation
import HTTPTypes
import Hummingbird

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
    public private(set) var entries: [RouteEntry] = []

    init(router: Router<CubbyRequestContext>, portalGate: PortalGate?) {
        self.router = router
        self.portalGate = portalGate
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
            try await handler(req, ctx, try Self.authorize(ctx.principal, action))
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
    mutating func portal(
        _ method: HTTPRequest.Method, _ path: String, _ action: Action?,
        _ handler: @escaping @Sendable (Request, CubbyRequestContext, PortalCall) async throws -> Response
    ) {
        guard let gate = portalGate else { return }
        entries.append(RouteEntry(method: method, path: path, action: action, surface: .portal))
        router.on(RouterPath(path), method: method) { req, ctx in
            try await gate.handle(req, ctx, action: action, handler)
        }
    }
}
