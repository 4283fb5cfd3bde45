import NIOCore
import NIOSSL

/// What the client writes: a command line (CRLF added), raw bytes, or STARTTLS.
enum SMTPOutbound: Sendable {
    case line(String)
    case bytes([UInt8])
    /// Sends `STARTTLS`; on a 220 reply the handler puts TLS in front of itself before reading another byte.
    case startTLS(NIOSSLContext, serverHostname: String?)
}

/// Turns the relay's bytes into replies on an async stream, and does the STARTTLS switch on the event loop.
///
/// The switch happens in the same `channelRead` that sees the 220 reply, so no plaintext byte can be read as if it
/// came over TLS; bytes that arrive after that reply in the clear are refused (the STARTTLS injection of
/// CVE-2011-0411).
final class SMTPChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = SMTPOutbound
    typealias OutboundOut = ByteBuffer

    private var parser = SMTPReplyParser()
    private let replies: AsyncThrowingStream<SMTPReply, any Error>.Continuation
    private var pendingTLS: (context: NIOSSLContext, hostname: String?)?

    init(replies: AsyncThrowingStream<SMTPReply, any Error>.Continuation) {
        self.replies = replies
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer: ByteBuffer
        switch unwrapOutboundIn(data) {
        case .line(let text):
            buffer = context.channel.allocator.buffer(string: text + "\r\n")
        case .bytes(let bytes):
            buffer = context.channel.allocator.buffer(bytes: bytes)
        case .startTLS(let tls, let hostname):
            pendingTLS = (tls, hostname)
            buffer = context.channel.allocator.buffer(string: "STARTTLS\r\n")
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        parser.append(buffer.readableBytesView)
        do {
            while let reply = try parser.next() {
                if let tls = pendingTLS {
                    pendingTLS = nil
                    if reply.code == 220 {
                        guard parser.isEmpty else {
                            throw SMTPError.protocolViolation("bytes came in the clear after the STARTTLS reply")
                        }
                        let handler: NIOSSLClientHandler
                        do {
                            handler = try NIOSSLClientHandler(context: tls.context, serverHostname: tls.hostname)
                            try context.pipeline.syncOperations.addHandler(handler, position: .first)
                        } catch { throw SMTPError.tls("\(error)") }
                    }
                }
                replies.yield(reply)
            }
        } catch {
            replies.finish(throwing: error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        replies.finish(throwing: SMTPError.connection(step: .quit, "the relay closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            replies.finish(throwing: SMTPError.tls("\(error)"))
        } else {
            replies.finish(throwing: SMTPError.connection(step: .quit, "\(error)"))
        }
        context.close(promise: nil)
    }
}
