import NIOCore
import NIOHTTP1

/// How far a connection's request has come, told to its `SlowClientGuard` as an outbound user event by
/// the handler that sees HTTP parts (`RequestProgressReporter`), or by the code that upgrades it.
public enum RequestProgress: Sendable, Equatable {
    /// A request's head has been read whole.
    case headReceived
    /// A request has been read whole (head, body and end).
    case requestReceived
    /// A response has been written whole.
    case responseSent
    /// The connection leaves HTTP (a WebSocket): its own protocol keeps it alive from now on.
    case upgraded
}

/// Sees the HTTP parts going through a connection and tells the `SlowClientGuard` ahead of it in the
/// pipeline how far the exchange has come.
public final class RequestProgressReporter<Request, Response>: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = Request
    public typealias InboundOut = Request
    public typealias OutboundIn = Response
    public typealias OutboundOut = Response

    private let inbound: @Sendable (Request) -> RequestProgress?
    private let outbound: @Sendable (Response) -> RequestProgress?

    /// - Parameters:
    ///   - inbound: the progress a request part makes (`headReceived` for a head, `requestReceived` for an end).
    ///   - outbound: the progress a response part makes (`responseSent` for an end).
    public init(
        inbound: @escaping @Sendable (Request) -> RequestProgress?,
        outbound: @escaping @Sendable (Response) -> RequestProgress?
    ) {
        self.inbound = inbound
        self.outbound = outbound
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let progress = inbound(unwrapInboundIn(data)) {
            context.triggerUserOutboundEvent(progress, promise: nil)
        }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let progress = outbound(unwrapOutboundIn(data))
        context.write(data, promise: promise)
        if let progress { context.triggerUserOutboundEvent(progress, promise: nil) }
    }
}

extension RequestProgressReporter where Request == HTTPServerRequestPart, Response == HTTPServerResponsePart {
    /// A reporter for NIO's HTTP/1 server parts.
    public static func http1() -> RequestProgressReporter {
        RequestProgressReporter(
            inbound: { part in
                switch part {
                case .head: .headReceived
                case .end: .requestReceived
                case .body: nil
                }
            },
            outbound: { part in
                if case .end = part { .responseSent } else { nil }
            })
    }
}
