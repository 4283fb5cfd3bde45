import CubbyCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import Synchronization

/// When each message arrived at a benchmark's receiver, by its id (first arrival kept; repeats counted).
final class ArrivalBook: Sendable {
    private struct State {
        var first: [String: Int64] = [:]
        var repeats = 0
    }
    private let state = Mutex(State())

    func record(_ id: String, at ms: Int64) {
        state.withLock { s in
            if s.first[id] == nil { s.first[id] = ms } else { s.repeats += 1 }
        }
    }

    var arrivals: [String: Int64] { state.withLock { $0.first } }
    var repeats: Int { state.withLock { $0.repeats } }
    var count: Int { state.withLock { $0.first.count } }
}

/// A TCP listener on 127.0.0.1 (a free port) for a benchmark's receivers: each connection gets its own handler, and
/// every handler notes arrivals in one book.
final class TCPSink: Sendable {
    let book: ArrivalBook
    private let channel: any Channel

    var port: Int { channel.localAddress?.port ?? 0 }

    static func start(handler: @escaping @Sendable (ArrivalBook) -> any ChannelHandler) async throws -> TCPSink {
        let book = ArrivalBook()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(handler(book)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TCPSink(channel: channel, book: book)
    }

    private init(channel: any Channel, book: ArrivalBook) {
        self.channel = channel
        self.book = book
    }

    func stop() async { try? await channel.close() }
}

/// A local SMTP server that accepts every message (no TLS, no AUTH) and notes, for each `Message-ID`, the moment it
/// answers 250 to the end of DATA. For the benchmarks only; it listens on 127.0.0.1.
enum SMTPSink {
    static func start() async throws -> TCPSink { try await TCPSink.start { SMTPSinkHandler(book: $0) } }
}

/// One SMTP conversation: commands by line; in DATA, lines until the lone dot.
///
/// `@unchecked Sendable` is safe because each instance is made for one connection inside its channel initializer, and
/// NIO calls it only on that channel's event loop: its mutable state (`pending`, `inData`, `messageId`) is never
/// touched from another thread.
final class SMTPSinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let book: ArrivalBook
    private var pending = ""
    private var inData = false
    private var messageId: String?

    init(book: ArrivalBook) { self.book = book }

    func channelActive(context: ChannelHandlerContext) {
        reply(context, "220 cubby-bench ESMTP")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readString(length: buffer.readableBytes) ?? ""
        while let end = pending.range(of: "\r\n") {
            let line = String(pending[..<end.lowerBound])
            pending.removeSubrange(..<end.upperBound)
            handle(line, context)
        }
    }

    private func handle(_ line: String, _ context: ChannelHandlerContext) {
        if inData {
            if line == "." {
                inData = false
                if let id = messageId { book.record(id, at: Date().millisecondsSince1970) }
                messageId = nil
                reply(context, "250 2.0.0 accepted")
            } else if messageId == nil, line.lowercased().hasPrefix("message-id:") {
                messageId = line.dropFirst("message-id:".count).trimmingCharacters(in: .whitespaces)
            }
            return
        }
        let verb = line.prefix(4).uppercased()
        switch verb {
        case "EHLO": reply(context, "250-cubby-bench\r\n250 8BITMIME")
        case "HELO", "MAIL", "RCPT", "RSET", "NOOP": reply(context, "250 2.0.0 ok")
        case "DATA":
            inData = true
            reply(context, "354 end with <CRLF>.<CRLF>")
        case "QUIT":
            reply(context, "221 2.0.0 bye")
            context.close(promise: nil)
        default: reply(context, "502 5.5.2 not implemented")
        }
    }

    private func reply(_ context: ChannelHandlerContext, _ text: String) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text + "\r\n")), promise: nil)
    }
}

/// A local HTTP server that answers 204 to every webhook and notes when each `webhook-id` arrived.
struct WebhookSink {
    let book = ArrivalBook()

    /// The application to run (in a service group) on 127.0.0.1:`port`.
    func application(port: Int) -> some ApplicationProtocol {
        let router = Router()
        router.post("/hook") { [book] request, _ -> HTTPResponse.Status in
            if let id = request.headers[HTTPField.Name("webhook-id")!] {
                book.record(id, at: Date().millisecondsSince1970)
            }
            return .noContent
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "hooks"))
    }
}
