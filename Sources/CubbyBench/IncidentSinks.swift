import CubbyCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix

/// A local syslog receiver over TCP with octet-counted framing (RFC 6587 §3.4.1, as RFC 5425 frames over TLS): for
/// each OCSF record, notes when it arrived under its MSGID and its finding's uid (`finding_info.uid`, the alert's id
/// for a tamper signal). For `cubby bench incident` only; it listens on 127.0.0.1.
enum SyslogBenchSink {
    static func start() async throws -> TCPSink { try await TCPSink.start { SyslogSinkHandler(book: $0) } }

    /// `MSGID finding-uid` of one syslog message (RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`), or nil.
    static func key(_ message: String) -> String? {
        let fields = message.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: false)
        guard fields.count == 7, let start = message.firstIndex(of: "{"),
            let json = try? JSONSerialization.jsonObject(with: Data(message[start...].utf8)) as? [String: Any],
            let uid = (json["finding_info"] as? [String: Any])?["uid"] as? String
        else { return nil }
        return "\(fields[5]) \(uid)"
    }
}

/// One syslog connection: `LENGTH SP MESSAGE`, repeated.
///
/// `@unchecked Sendable` is safe because each instance is made for one connection inside its channel initializer, and
/// NIO calls it only on that channel's event loop: its buffer is never touched from another thread.
final class SyslogSinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    let book: ArrivalBook
    private var pending: [UInt8] = []

    init(book: ArrivalBook) { self.book = book }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        while let space = pending.firstIndex(of: 0x20), space <= 10,
            let length = Int(String(decoding: pending[..<space], as: UTF8.self)), pending.count > space + length
        {
            let message = String(decoding: pending[(space + 1)...(space + length)], as: UTF8.self)
            pending.removeFirst(space + 1 + length)
            if let key = SyslogBenchSink.key(message) { book.record(key, at: Date().millisecondsSince1970) }
        }
    }
}

/// A local SMS gateway that answers 202 to every message and notes when each message id arrived.
struct SMSSink {
    let book = ArrivalBook()

    func application(port: Int) -> some ApplicationProtocol {
        let router = Router()
        router.post("/messages") { [book] request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 16)
            guard let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                let id = json["id"] as? String
            else { return .badRequest }
            book.record(id, at: Date().millisecondsSince1970)
            return .accepted
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "sms"))
    }
}

/// A local webhook receiver that notes when each alert's `alert.raised` event arrived, by the alert's id.
struct AlertHookSink {
    let book = ArrivalBook()

    func application(port: Int) -> some ApplicationProtocol {
        let router = Router()
        router.post("/hook") { [book] request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 16)
            if let json = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                json["type"] as? String == "alert.raised",
                let alert = (json["data"] as? [String: Any])?["alertId"] as? String
            {
                book.record(alert, at: Date().millisecondsSince1970)
            }
            return .noContent
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "hooks"))
    }
}
