import CubbyCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import CubbySIEM

/// A receiver on 127.0.0.1 that keeps every byte (TCP) or datagram (UDP) it gets.
final class Receiver: Sendable {
    let bytes = Mutex<[UInt8]>([])
    let datagrams = Mutex<[[UInt8]]>([])
    let connections = Mutex<[any Channel]>([])

    final class Keep: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let receiver: Receiver
        init(_ receiver: Receiver) { self.receiver = receiver }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let got = buffer.readBytes(length: buffer.readableBytes) ?? []
            receiver.bytes.withLock { $0 += got }
        }
    }

    final class KeepDatagram: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let receiver: Receiver
        init(_ receiver: Receiver) { self.receiver = receiver }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data).data
            let got = buffer.readBytes(length: buffer.readableBytes) ?? []
            receiver.datagrams.withLock { $0.append(got) }
        }
    }

    func listenTCP() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                self.connections.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Keep(self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func listenUDP() async throws -> any Channel {
        try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(KeepDatagram(self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// The octet-counted messages received so far, as text.
    var frames: [String] {
        var rest = bytes.withLock { $0 }[...]
        var out: [String] = []
        while let space = rest.firstIndex(of: 0x20), let n = Int(String(decoding: rest[..<space], as: UTF8.self)),
            rest.distance(from: space, to: rest.endIndex) > n
        {
            let start = rest.index(after: space)
            out.append(String(decoding: rest[start..<rest.index(start, offsetBy: n)], as: UTF8.self))
            rest = rest[rest.index(start, offsetBy: n)...]
        }
        return out
    }
}

func waitUntil(_ what: @autoclosure () async -> Bool) async throws {
    for _ in 0..<200 {
        if await what() { return }
        try await Task.sleep(for: .milliseconds(25))
    }
}

@Suite("Sending syslog messages over TCP and UDP")
struct SyslogSenderTests {
    static func message(_ text: String) -> SyslogMessage {
        SyslogMessage(
            severity: .notice, timestamp: Date(millisecondsSince1970: 0), hostname: "h", procID: "1", msgID: "m",
            message: text)
    }

    @Test(
        "messages arrive octet-counted, in order, on one connection; after the receiver drops it, the next send opens another"
    )
    func tcp() async throws {
        let receiver = Receiver()
        let server = try await receiver.listenTCP()
        defer { server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)
        let sender = SyslogSender(
            configuration: SyslogConfiguration(transport: .tcp, host: "127.0.0.1", port: port),
            logger: Logger(label: "test"))
        try await sender.send([Self.message("one"), Self.message("two with spaces"), Self.message("três")])
        try await waitUntil(receiver.frames.count == 3)
        let frames = receiver.frames
        #expect(frames.count == 3)
        #expect(frames.first == "<109>1 1970-01-01T00:00:00.000Z h cubby 1 m - one")
        #expect(frames.last == "<109>1 1970-01-01T00:00:00.000Z h cubby 1 m - \u{FEFF}três")
        #expect(receiver.connections.withLock { $0.count } == 1)

        try await receiver.connections.withLock { $0 }.first?.close()
        try await waitUntil(await !sender.isConnected)
        #expect(await !sender.isConnected)
        try await sender.send([Self.message("four")])
        try await waitUntil(receiver.frames.count == 4)
        #expect(receiver.frames.last?.hasSuffix(" four") == true)
        #expect(receiver.connections.withLock { $0.count } == 2)
        await sender.close()
    }

    @Test("a receiver that is not there fails the send")
    func refused() async throws {
        let probe = try await Receiver().listenTCP()
        let port = try #require(probe.localAddress?.port)
        try await probe.close()
        let sender = SyslogSender(
            configuration: SyslogConfiguration(transport: .tcp, host: "127.0.0.1", port: port),
            logger: Logger(label: "test"))
        await #expect(throws: SyslogError.self) { try await sender.send([Self.message("lost")]) }
    }

    @Test("over UDP each message is one datagram, without framing")
    func udp() async throws {
        let receiver = Receiver()
        let server = try await receiver.listenUDP()
        defer { server.close(promise: nil) }
        let port = try #require(server.localAddress?.port)
        let sender = SyslogSender(
            configuration: SyslogConfiguration(transport: .udp, host: "127.0.0.1", port: port),
            logger: Logger(label: "test"))
        try await sender.send([Self.message("a"), Self.message("b")])
        try await waitUntil(receiver.datagrams.withLock { $0.count } == 2)
        let got = receiver.datagrams.withLock { $0 }.map { String(decoding: $0, as: UTF8.self) }
        #expect(
            got.sorted() == [
                "<109>1 1970-01-01T00:00:00.000Z h cubby 1 m - a", "<109>1 1970-01-01T00:00:00.000Z h cubby 1 m - b",
            ])
        await sender.close()
    }
}
