import CubbyCore
import Foundation
import Hummingbird

/// Per-request context: the authenticated principal, once the auth middleware has found one.
public struct CubbyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    public var maxBodyBytes: Int = 16 * 1024

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    public var maxUploadSize: Int { maxBodyBytes }

    /// The principal, if its role may perform `action`; otherwise the request fails.
    public func authorize(_ action: APIAction) throws -> Principal {
        guard let principal else { throw APIError.unauthorized }
        guard action.allowedRoles.contains(principal.role) else {
            // A role that may never do this learns nothing about the thing it asked for.
            throw APIError.forbidden
        }
        return principal
    }
}
