import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Where syslog messages go: a receiver over the network, or a recorder in tests.
public protocol SyslogSink: Sendable {
    /// Delivers the messages in order; throws when they may not all have arrived.
    func send(_ messages: [SyslogMessage]) async throws
    /// Lets go of any connection.
    func close() async
}

/// Sends syslog messages over one long-lived connection (TLS or TCP, octet-counted) or as datagrams (UDP).
///
/// A stream connection is opened on first use and again after it broke; `send` returns once every message was
/// written to the connection (TCP syslog has no acknowledgement of its own, so a connection that breaks afterwards
/// can lose what was in flight: the caller sends again from its last confirmed point and receivers may see a record
/// twice, with the same ids).
public actor SyslogSender: SyslogSink {
    public let configuration: SyslogConfiguration
    let group: any EventLoopGroup
    let logger: Logger
    let timeout: TimeAmount
    private var tls: NIOSSLContext?
    private var channel: (any Channel)?
    private var datagramTarget: SocketAddress?

    public init(
        configuration: SyslogConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(10), logger: Logger
    ) {
        self.configuration = configuration
        self.group = group
        self.timeout = timeout
        self.logger = logger
    }

    /// Writes the messages, in order; throws when the connection cannot be made or breaks (then nothing after the
    /// failure counts as sent).
    public func send(_ messages: [SyslogMessage]) async throws(SyslogError) {
        guard !messages.isEmpty else { return }
        let channel = try await connected()
        do {
            if configuration.transport == .udp, let target = datagramTarget {
                for m in messages {
                    let buffer = channel.allocator.buffer(bytes: m.bytes)
                    try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer))
                }
                return
            }
            var buffer = channel.allocator.buffer(capacity: messages.count * 512)
            for m in messages { buffer.writeBytes(SyslogFraming.octetCounted(m.bytes)) }
            let written = channel.eventLoop.makePromise(of: Void.self)
            channel.writeAndFlush(buffer, promise: written)
            let deadline = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            defer { deadline.cancel() }
            try await written.futureResult.get()
        } catch {
            await close()
            if let e = error as? NIOSSLError { throw .tls("\(e)") }
            throw .connection("\(error)")
        }
    }

    /// Closes the connection; the next `send` opens a new one.
    public func close() async {
        let c = channel
        channel = nil
        try? await c?.close()
    }

    private func connected() async throws(SyslogError) -> any Channel {
        if let channel, channel.isActive { return channel }
        channel = nil
        let host = configuration.host
        let port = configuration.port
        do {
            switch configuration.transport {
            case .udp:
                datagramTarget = try SocketAddress.makeAddressResolvingHost(host, port: port)
                let bind = datagramTarget?.protocol == .inet6 ? "::" : "0.0.0.0"
                let c = try await DatagramBootstrap(group: group).bind(host: bind, port: 0).get()
                channel = c
                return c
            case .tcp, .tls:
                let context = try tlsContext()
                let hostname: String? = Self.isIPAddress(host) ? nil : host
                let c = try await ClientBootstrap(group: group)
                    .connectTimeout(timeout)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let context {
                                let handler = try NIOSSLClientHandler(context: context, serverHostname: hostname)
                                try channel.pipeline.syncOperations.addHandler(handler)
                            }
                            try channel.pipeline.syncOperations.addHandler(DiscardInbound())
                        }
                    }
                    .connect(host: host, port: port).get()
                channel = c
                return c
            }
        } catch let e as SyslogError {
            throw e
        } catch ChannelError.connectTimeout(_) {
            throw .timeout
        } catch {
            throw .connection("\(error)")
        }
    }

    private func tlsContext() throws(SyslogError) -> NIOSSLContext? {
        guard configuration.transport == .tls else { return nil }
        if let tls { return tls }
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv12
        config.certificateVerification = .fullVerification
        if let caFile = configuration.caFile { config.trustRoots = .file(caFile) }
        do {
            let context = try NIOSSLContext(configuration: config)
            tls = context
            return context
        } catch {
            throw .tls("cannot set up TLS: \(error)")
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// A receiver has nothing to say on a syslog stream; whatever it sends is dropped, and its closing is noticed
/// through the channel going inactive.
final class DiscardInbound: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

extension SyslogSender {
    /// Whether a stream connection is open now.
    public var isConnected: Bool { channel?.isActive ?? false }
}
