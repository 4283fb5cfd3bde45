import NIOCore
import Synchronization

/// How long a client may take over each part of an HTTP exchange, and how many connections one address
/// may hold open on one listener: what keeps slow or greedy clients from holding a listener's connections.
public struct ConnectionLimits: Sendable, Equatable {
    /// From a connection's start (or a request's first byte) to the end of the request's head.
    public var headTimeout: Duration
    /// From the end of a request's head to the end of its body.
    public var bodyTimeout: Duration
    /// A kept-alive connection with no request under way is closed after this long.
    public var idleTimeout: Duration
    /// From a TLS connection's start to the end of its handshake.
    public var handshakeTimeout: Duration
    /// Open connections one client address may hold on one listener; more are closed as they arrive.
    public var maxConnectionsPerAddress: Int

    public init(
        headTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(60),
        handshakeTimeout: Duration = .seconds(10), maxConnectionsPerAddress: Int = 32
    ) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.handshakeTimeout = handshakeTimeout
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
    }

    /// The defaults: head 10 s, body 30 s, idle 60 s, TLS handshake 10 s, 32 connections per address.
    public static let standard = ConnectionLimits()
}

/// The open connections of one listener, counted per client address. Shared by the listener's connections,
/// which may run on different event loops, hence the lock.
public final class AddressConnectionCounter: Sendable {
    /// Connections one address may hold open.
    public let limit: Int
    private let open = Mutex<[String: Int]>([:])

    public init(limit: Int) {
        self.limit = limit
    }

    /// Counts a connection from `address`; false (and not counted) when the address already holds `limit`.
    func admit(_ address: String) -> Bool {
        open.withLock { open in
            let count = open[address, default: 0]
            guard count < limit else { return false }
            open[address] = count + 1
            return true
        }
    }

    func release(_ address: String) {
        open.withLock { open in
            guard let count = open[address] else { return }
            open[address] = count > 1 ? count - 1 : nil
        }
    }

    /// How many connections `address` holds open now.
    public func openConnections(from address: String) -> Int {
        open.withLock { $0[address, default: 0] }
    }
}

/// The first handler of a connection: closes it at once when its address already holds the listener's
/// limit of open connections, and gives its place back when it closes.
public final class AddressLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer

    private let counter: AddressConnectionCounter
    private var checked = false
    private var admitted: String?

    public init(counter: AddressConnectionCounter) {
        self.counter = counter
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { check(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        check(context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func check(_ context: ChannelHandlerContext) {
        guard !checked else { return }
        checked = true
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        if counter.admit(address) {
            admitted = address
        } else {
            context.close(promise: nil)
        }
    }

    private func release() {
        if let address = admitted { counter.release(address) }
        admitted = nil
    }
}
