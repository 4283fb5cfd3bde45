import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A client connection that sends raw bytes to a listener on 127.0.0.1 (over TLS, without checking the
/// server's certificate, when `tls`), collects what comes back and tells when the server closed it.
final class TestSocket: Sendable {
    let channel: any Channel
    private let inbox: Inbox

    /// A received HTTP/1.1 response.
    struct Answer: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: String
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
    }

    final class Inbox: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let read = buffer.readBytes(length: buffer.readableBytes) ?? []
            bytes.withLock { $0 += read }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    static func connect(port: Int, tls: Bool = false, maximumTLSVersion: TLSVersion? = nil) async throws -> TestSocket {
        let inbox = Inbox()
        let context: NIOSSLContext? =
            tls
            ? try {
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.certificateVerification = .none
                if let maximumTLSVersion { configuration.maximumTLSVersion = maximumTLSVersion }
                return try NIOSSLContext(configuration: configuration)
            }() : nil
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(inbox)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return TestSocket(channel: channel, inbox: inbox)
    }

    /// Sends `text`; a connection the server has closed takes nothing (and that is not an error here).
    func send(_ text: String) async {
        try? await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Whether the server closes the connection within `seconds`.
    func closed(within seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !channel.isActive
    }

    /// The next whole response (head and `Content-Length` body), or nil when none comes within `seconds`.
    func answer(within seconds: Double = 20) async -> Answer? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let answer = inbox.bytes.withLock({ Self.take(&$0) }) { return answer }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func close() async {
        try? await channel.close()
    }

    private static func take(_ bytes: inout [UInt8]) -> Answer? {
        let marker = Array("\r\n\r\n".utf8)
        guard bytes.count >= 4,
            let end = (0...(bytes.count - 4)).first(where: { bytes[$0..<($0 + 4)].elementsEqual(marker) })
        else { return nil }
        var lines = String(decoding: bytes[0..<end], as: UTF8.self).split(separator: "\r\n").map(String.init)
        let statusLine = lines.isEmpty ? [] : lines.removeFirst().split(separator: " ")
        let headers = lines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (
                String(line[..<colon]),
                String(line[line.index(after: colon)...].drop { $0 == " " })
            )
        }
        let length =
            Int(headers.first { $0.0.lowercased() == "content-length" }?.1 ?? "0") ?? 0
        guard bytes.count >= end + 4 + length else { return nil }
        let body = String(decoding: bytes[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        bytes.removeFirst(end + 4 + length)
        return Answer(status: statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, headers: headers, body: body)
    }
}
