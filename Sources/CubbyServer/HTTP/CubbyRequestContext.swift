import CubbyCore
import Foundation
import Hummingbird
import NIOCore

/// Per-request context: the body limit, the peer's address, and the credential check that routes needing a
/// credential run (open routes and the portal never look at the `Authorization` header).
public struct CubbyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var maxBodyBytes: Int = 16 * 1024
    /// The peer's IP address, for per-address limits and the audit log.
    public let remoteAddress: String
    /// Set by the `Authenticator` middleware; nil: no credential is ever accepted.
    var authenticator: Authenticator?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    public var maxUploadSize: Int { maxBodyBytes }

    /// The bearer credential's principal: nil without an `Authorization` header, `unauthorized` for a
    /// malformed, unknown, expired or revoked one.
    func principal(of request: Request) async throws -> Principal? {
        guard let header = request.headers[.authorization] else { return nil }
        guard let authenticator else { throw APIError.unauthorized }
        return try await authenticator.principal(forHeader: header)
    }
}
