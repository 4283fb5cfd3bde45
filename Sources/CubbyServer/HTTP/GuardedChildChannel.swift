import CubbyConnections
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOSSL

/// A listener's connections under its `ConnectionLimits`: each connection is counted against its address
/// (`AddressLimitHandler`), optionally wrapped in TLS, and watched by a `SlowClientGuard` before `base`
/// sets up HTTP on it. `base` must add `GuardedChildChannel.progressReporter()` behind its HTTP codec.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let limits: ConnectionLimits
    let counter: AddressConnectionCounter
    let tls: ReloadableTLS?

    init(_ base: Base, limits: ConnectionLimits, counter: AddressConnectionCounter, tls: ReloadableTLS? = nil) {
        self.base = base
        self.limits = limits
        self.counter = counter
        self.tls = tls
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(AddressLimitHandler(counter: counter))
            if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls.context)) }
            try sync.addHandler(SlowClientGuard(limits: limits, tls: tls != nil))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }

    /// The handler that tells the `SlowClientGuard` how far each request has come, for Hummingbird's parts.
    static func progressReporter() -> RequestProgressReporter<HTTPRequestPart, HTTPResponsePart> {
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

extension HTTPServerBuilder {
    /// HTTP/1.1 with every connection under `limits`; `counter` is shared by the listener's connections.
    static func guardedHTTP1(limits: ConnectionLimits, counter: AddressConnectionCounter, tls: ReloadableTLS? = nil)
        -> HTTPServerBuilder
    {
        .init { responder in
            GuardedChildChannel(
                HTTP1Channel(
                    responder: responder,
                    configuration: .init(
                        additionalChannelHandlers: [
                            GuardedChildChannel<HTTP1Channel>.progressReporter()
                        ])),
                limits: limits, counter: counter, tls: tls)
        }
    }
}
