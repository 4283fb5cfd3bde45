import CubbyCore
import Foundation
import Hummingbird
import NIOCore

/// Per-request context: the authenticated principal, once the auth middleware has found one.
public struct CubbyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The bearer credential's principal (API routes).
    public var principal: Principal?
    public var maxBodyBytes: Int = 16 * 1024
    /// The peer's IP address, for per-address limits and the audit log.
    public let remoteAddress: String

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    public var maxUploadSize: Int { maxBodyBytes }
}
