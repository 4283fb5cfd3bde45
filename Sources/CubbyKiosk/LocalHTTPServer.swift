import CubbyConnections
import CubbyCrypto
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// One request to a page served on the unit's loopback interface, read whole.
public struct LocalRequest: Sendable {
    public var method: HTTPRequest.Method
    /// The path without its query, as sent.
    public var path: String
    /// The query's parameters in order, percent-decoded (`+` is a space).
    public var query: [(name: String, value: String)]
    public var headers: HTTPFields
    public var body: ByteBuffer
    /// The body was longer than the server takes; `body` is then empty.
    public var bodyTooLarge: Bool

    public init(
        method: HTTPRequest.Method, target: String, headers: HTTPFields = [:], body: ByteBuffer = ByteBuffer(),
        bodyTooLarge: Bool = false
    ) {
        self.method = method
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = parts.first.map(String.init) ?? "/"
        self.query = parts.count > 1 ? FormEncoding.pairs(parts[1]) ?? [] : []
        self.headers = headers
        self.body = body
        self.bodyTooLarge = bodyTooLarge
    }

    /// The first value of a query parameter.
    public func query(_ name: String) -> String? { query.first { $0.name == name }?.value }

    /// The value of the first `Cookie` pair named `name`; nil when it is absent or empty.
    public func cookie(_ name: String) -> String? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == name else { continue }
                let value = trimmed[trimmed.index(after: eq)...]
                return value.isEmpty ? nil : String(value)
            }
        }
        return nil
    }

    /// `Host`, which names the origin the browser sent the request to.
    public var authority: String? { headers[HTTPField.Name("Host")!] }
}

/// The answer to a `LocalRequest`; `Content-Length` is added when it is sent.
public struct LocalResponse: Sendable {
    public var status: HTTPResponse.Status
    public var headers: HTTPFields
    public var body: ByteBuffer

    public init(status: HTTPResponse.Status, headers: HTTPFields = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: HTTPResponse.Status, contentType: String, text: String) {
        self.init(status: status, headers: [.contentType: contentType], body: ByteBuffer(string: text))
    }
}

/// `application/x-www-form-urlencoded` decoding, shared by queries and form bodies.
public enum FormEncoding {
    /// The name–value pairs of `text` in order, or nil when a percent escape is broken or not UTF-8.
    public static func pairs(_ text: Substring) -> [(name: String, value: String)]? {
        var pairs: [(name: String, value: String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    /// Percent-decodes `text`, reading `+` as a space; nil for a broken escape or bytes that are not UTF-8.
    public static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = text.utf8.makeIterator()
        while let byte = it.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = it.next().flatMap(Hex.value(ofDigit:)),
                    let low = it.next().flatMap(Hex.value(ofDigit:))
                else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// A small HTTP/1.1 server for the unit's own pages on a loopback address: the kiosk and the simulator's
/// control endpoint. Each request is read whole (up to `maxBody` bytes), handed to `handler`, and answered
/// with a `Content-Length`; connections are kept alive, pipelined requests answered in order, and
/// malformed requests answered 400 by NIO's protocol error handler. A request whose `Host` is not one of
/// `hostNames` is answered 421 and not handed on; slow clients and greedy addresses are held to `limits`.
///
/// Run it as a service: it binds when run and closes its listener and connections on graceful shutdown
/// or cancellation.
public struct LocalHTTPServer: Service {
    public typealias Handler = @Sendable (LocalRequest) async -> LocalResponse

    let host: String
    let port: Int
    let maxBody: Int
    let handler: Handler
    let onRunning: @Sendable (Int) -> Void
    let logger: Logger
    let hostNames: LocalHostNames
    let limits: ConnectionLimits

    /// A body larger than this is not even read to its end: the connection is closed.
    static let discardLimit = 1 << 20

    /// - Parameters:
    ///   - hostNames: names besides `host`, `localhost`, `127.0.0.1` and `[::1]` that the server answers to.
    ///   - onRunning: called with the bound port once the listener is up.
    public init(
        host: String, port: Int, maxBody: Int, hostNames: [String] = [], limits: ConnectionLimits = .standard,
        logger: Logger, onRunning: @escaping @Sendable (Int) -> Void = { _ in }, handler: @escaping Handler
    ) {
        self.hostNames = LocalHostNames(listenHost: host, extra: hostNames)
        self.limits = limits
        self.host = host
        self.port = port
        self.maxBody = maxBody
        self.handler = handler
        self.onRunning = onRunning
        self.logger = logger
    }

    public func run() async throws {
        let connections = Connections()
        let (handler, maxBody, hostNames, limits) = (self.handler, self.maxBody, self.hostNames, self.limits)
        let counter = AddressConnectionCounter(limit: limits.maxConnectionsPerAddress)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                channel.closeFuture.whenComplete { _ in connections.remove(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(AddressLimitHandler(counter: counter))
                    try sync.addHandler(SlowClientGuard(limits: limits, tls: false))
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(RequestProgressReporter.http1())
                    try sync.addHandler(LocalHTTPHandler(handler: handler, maxBody: maxBody, hostNames: hostNames))
                }
            }
            .bind(host: host, port: port).get()
        let bound = listener.localAddress?.port ?? port
        logger.debug("local HTTP server listening", metadata: ["host": "\(host)", "port": "\(bound)"])
        onRunning(bound)
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await listener.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            listener.close(promise: nil)
        }
        for channel in connections.all() { try? await channel.close() }
    }

    /// The open connections, closed with the server.
    final class Connections: Sendable {
        private let open = Mutex<[ObjectIdentifier: any Channel]>([:])
        func add(_ c: any Channel) { open.withLock { $0[ObjectIdentifier(c)] = c } }
        func remove(_ c: any Channel) { _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(c)) } }
        func all() -> [any Channel] { open.withLock { Array($0.values) } }
    }
}

/// Reads one request at a time (NIO's pipelining handler holds the next back) and answers it.
final class LocalHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let handler: LocalHTTPServer.Handler
    let maxBody: Int
    let hostNames: LocalHostNames
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var received = 0

    init(handler: @escaping LocalHTTPServer.Handler, maxBody: Int, hostNames: LocalHostNames) {
        self.handler = handler
        self.maxBody = maxBody
        self.hostNames = hostNames
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
            received = 0
        case .body(var chunk):
            received += chunk.readableBytes
            if received > LocalHTTPServer.discardLimit {
                head = nil
                context.close(promise: nil)
            } else if received <= maxBody {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, to: head)
        }
    }

    private func respond(context: ChannelHandlerContext, to head: HTTPRequestHead) {
        var fields = HTTPFields()
        for (name, value) in head.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        let tooLarge = received > maxBody
        let request = LocalRequest(
            method: HTTPRequest.Method(head.method.rawValue) ?? .get, target: head.uri, headers: fields,
            body: tooLarge ? ByteBuffer() : body, bodyTooLarge: tooLarge)
        let keepAlive = head.isKeepAlive && !tooLarge
        guard hostNames.accepts(request.authority, port: context.channel.localAddress?.port) else {
            let names = hostNames.names.sorted().joined(separator: ", ")
            let refusal = LocalResponse(
                status: .misdirectedRequest,
                headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                body: ByteBuffer(string: "misdirected request: this server answers only to the host names \(names)\n"))
            write(refusal, context: context, head: head, keepAlive: keepAlive)
            return
        }
        let handler = self.handler
        let promise = context.eventLoop.makePromise(of: LocalResponse.self)
        promise.completeWithTask { await handler(request) }
        promise.futureResult.assumeIsolated().whenSuccess { response in
            self.write(response, context: context, head: head, keepAlive: keepAlive)
        }
    }

    private func write(
        _ response: LocalResponse, context: ChannelHandlerContext, head: HTTPRequestHead, keepAlive: Bool
    ) {
        var headers = HTTPHeaders()
        for field in response.headers { headers.add(name: field.name.rawName, value: field.value) }
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
            promise: nil)
        if head.method != .HEAD && response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// A request NIO could not parse (already answered 400 by its protocol error handler) or a failed
    /// connection: either way the connection is done.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
