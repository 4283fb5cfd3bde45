import NIOCore
import NIOTLS

/// Closes a connection whose client is too slow: a TLS handshake not done within the handshake timeout,
/// a request head not read whole within the head timeout of its first byte (or of the connection's start),
/// a body not read whole within the body timeout of its head, or a kept-alive connection idle past the
/// idle timeout. Apart from a body still coming in, no timer runs while a request is being answered, and
/// none once the connection is upgraded.
///
/// It sits ahead of the HTTP decoder (behind the TLS handler, if any) and sees bytes; the
/// `RequestProgressReporter` behind the decoder tells it, by outbound user events, where each request is.
public final class SlowClientGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum Reading {
        case nothing(since: NIODeadline)
        case head(since: NIODeadline)
        case body(since: NIODeadline)
    }

    private let limits: ConnectionLimits
    private var awaitingHandshake: Bool
    private var stopped = false
    private var started = false
    private var reading = Reading.nothing(since: .now())
    /// Requests whose head has been read and whose response is not written whole yet.
    private var requestsOpen = 0
    private var connectionStart = NIODeadline.now()
    private var timer: (deadline: NIODeadline, scheduled: Scheduled<Void>)?

    /// - Parameter tls: the connection starts with a TLS handshake (the guard must sit behind the TLS handler).
    public init(limits: ConnectionLimits, tls: Bool) {
        self.limits = limits
        self.awaitingHandshake = tls
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        stopped = true
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .nothing = reading, !awaitingHandshake, !stopped {
            reading = .head(since: .now())
            reschedule(context)
        }
        context.fireChannelRead(data)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if awaitingHandshake, let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            awaitingHandshake = false
            reading = .head(since: .now())
            reschedule(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? RequestProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch progress {
        case .headReceived:
            requestsOpen += 1
            reading = .body(since: .now())
        case .requestReceived:
            reading = .nothing(since: .now())
        case .responseSent:
            requestsOpen = max(0, requestsOpen - 1)
            // The clock of what the connection waits for next starts once it is no longer being answered.
            if requestsOpen == 0 {
                switch reading {
                case .nothing: reading = .nothing(since: .now())
                case .head: reading = .head(since: .now())
                case .body: break
                }
            }
        case .upgraded:
            stopped = true
        }
        reschedule(context)
        promise?.succeed()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        connectionStart = .now()
        // A new connection's first request head is due within the head timeout of the connection's start.
        reading = .head(since: .now())
        reschedule(context)
    }

    /// The deadline the connection is under now, if any.
    private func nextDeadline() -> NIODeadline? {
        if stopped || !started { return nil }
        if awaitingHandshake { return connectionStart + TimeAmount(limits.handshakeTimeout) }
        switch reading {
        case .body(let since): return since + TimeAmount(limits.bodyTimeout)
        // While a request is being answered, the next one's head (read ahead) and idleness wait.
        case .head where requestsOpen > 0, .nothing where requestsOpen > 0: return nil
        case .head(let since): return since + TimeAmount(limits.headTimeout)
        case .nothing(let since): return since + TimeAmount(limits.idleTimeout)
        }
    }

    private func reschedule(_ context: ChannelHandlerContext) {
        guard let deadline = nextDeadline() else {
            cancelTimer()
            return
        }
        if let timer, timer.deadline == deadline { return }
        cancelTimer()
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timer = nil
            context.close(promise: nil)
        }
        timer = (deadline, scheduled)
    }

    private func cancelTimer() {
        timer?.scheduled.cancel()
        timer = nil
    }
}
