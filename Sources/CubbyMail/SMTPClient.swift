import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Sends messages to a relay over SMTP (RFC 5321): one connection per message, TLS per the configuration,
/// AUTH PLAIN or LOGIN (RFC 4954) when credentials are set.
///
/// Credentials and the message never leave in the clear unless the URL says `tls=none`. Every step has a
/// timeout; a failure is an ``SMTPError`` that tells the outbox whether a retry can help.
public struct SMTPClient: Sendable {
    public let configuration: SMTPConfiguration
    let group: any EventLoopGroup
    let logger: Logger

    public init(
        configuration: SMTPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "cubby.smtp")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Sends `message` to its To addresses, from the configured sender; returns the relay's reply to the message.
    @discardableResult
    public func send(_ message: MailMessage) async throws(SMTPError) -> SMTPReply {
        try await send(message.rendered(), from: configuration.from, to: message.to)
    }

    /// Sends already rendered message bytes (CRLF lines) with the given envelope.
    @discardableResult
    public func send(_ bytes: [UInt8], from: MailAddress, to recipients: [MailAddress]) async throws(SMTPError)
        -> SMTPReply
    {
        guard !recipients.isEmpty else { throw .invalidMessage("no recipients") }
        let tls = try makeTLSContext()
        let session = try await SMTPSession.open(
            configuration: configuration, tls: tls, group: group, logger: logger)
        do {
            let reply = try await session.deliver(
                bytes: Self.dataBytes(bytes), from: from.address, to: recipients.map(\.address))
            await session.quit()
            return reply
        } catch {
            await session.close()
            throw error
        }
    }

    /// The TLS context for the relay: TLS 1.2 or newer, full verification, the system roots or the CA file.
    func makeTLSContext() throws(SMTPError) -> NIOSSLContext? {
        guard configuration.security != .none else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        if let caFile = configuration.caFile {
            tls.trustRoots = .file(caFile)
        }
        do { return try NIOSSLContext(configuration: tls) } catch {
            throw .tls("cannot set up TLS: \(error)")
        }
    }

    /// The DATA payload: lines ended by CRLF (a bare CR or LF becomes CRLF), a line that starts with "." gets
    /// another one in front (RFC 5321 §4.5.2), and the closing `.` line.
    public static func dataBytes(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + message.count / 50 + 5)
        var atLineStart = true
        var index = 0
        while index < message.count {
            let byte = message[index]
            index += 1
            if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D, index < message.count, message[index] == 0x0A { index += 1 }
                out += [0x0D, 0x0A]
                atLineStart = true
                continue
            }
            if atLineStart, byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            atLineStart = false
        }
        if !atLineStart { out += [0x0D, 0x0A] }
        out += [UInt8(ascii: "."), 0x0D, 0x0A]
        return out
    }
}

/// One connection to the relay, used by one task from greeting to QUIT.
final class SMTPSession {
    let channel: any Channel
    let configuration: SMTPConfiguration
    let logger: Logger
    private var replies: AsyncThrowingStream<SMTPReply, any Error>.AsyncIterator
    private let continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation
    private var extensions: [String: [String]] = [:]
    /// Whether the conversation runs over TLS by now (implicit, or after a successful STARTTLS).
    private var encrypted = false

    private init(
        channel: any Channel, configuration: SMTPConfiguration, logger: Logger,
        stream: AsyncThrowingStream<SMTPReply, any Error>,
        continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation
    ) {
        self.channel = channel
        self.configuration = configuration
        self.logger = logger
        self.replies = stream.makeAsyncIterator()
        self.continuation = continuation
    }

    /// Connects, reads the greeting, says EHLO, switches to TLS as configured, and authenticates.
    static func open(
        configuration: SMTPConfiguration, tls: NIOSSLContext?, group: any EventLoopGroup, logger: Logger
    ) async throws(SMTPError) -> SMTPSession {
        let (stream, continuation) = AsyncThrowingStream<SMTPReply, any Error>.makeStream()
        let host = configuration.host
        // SNI and the certificate check take a host name; an IP address is checked against the peer's address.
        let hostname: String? = Self.isIPAddress(host) ? nil : host
        let implicit = configuration.security == .implicitTLS ? tls : nil
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.timeouts.connect))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let implicit {
                        let handler = try NIOSSLClientHandler(context: implicit, serverHostname: hostname)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(SMTPChannelHandler(replies: continuation))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: configuration.port).get()
        } catch ChannelError.connectTimeout(_) {
            throw .timeout(step: .connect)
        } catch {
            throw .connection(step: .connect, "\(error)")
        }
        let session = SMTPSession(
            channel: channel, configuration: configuration, logger: logger, stream: stream,
            continuation: continuation)
        do {
            try await session.handshake(tls: tls, hostname: hostname)
        } catch {
            await session.close()
            throw error
        }
        return session
    }

    private func handshake(tls: NIOSSLContext?, hostname: String?) async throws(SMTPError) {
        encrypted = configuration.security == .implicitTLS
        try expect(await read(.greeting, within: configuration.timeouts.command), 220, at: .greeting)
        try await ehlo()
        if configuration.security == .startTLS {
            guard extensions["STARTTLS"] != nil else { throw .startTLSUnavailable }
            guard let tls else { throw .tls("no TLS context") }
            let reply = try await command(.startTLS(tls, serverHostname: hostname), step: .startTLS)
            try expect(reply, 220, at: .startTLS)
            encrypted = true
            // The old extension list came over plaintext: forget it and ask again over TLS (RFC 3207 §4.2).
            extensions = [:]
            try await ehlo()
        }
        if let user = configuration.username, let password = configuration.password {
            try await authenticate(user: user, password: password)
        }
    }

    private func ehlo() async throws(SMTPError) {
        let reply = try await command(.line("EHLO \(configuration.clientName)"), step: .ehlo)
        try expect(reply, 250, at: .ehlo)
        var found: [String: [String]] = [:]
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ").map { String($0).uppercased() }
            guard let keyword = words.first else { continue }
            found[keyword] = Array(words.dropFirst())
        }
        extensions = found
    }

    /// AUTH PLAIN when the relay offers it, else AUTH LOGIN; 535 (wrong credentials) is permanent.
    private func authenticate(user: String, password: String) async throws(SMTPError) {
        // Belt and braces: the configuration is the only way to get here without TLS.
        guard encrypted || configuration.security == .none else { throw .startTLSUnavailable }
        let offered = extensions["AUTH"] ?? []
        if offered.contains("PLAIN") {
            let token = Data([0] + Array(user.utf8) + [0] + Array(password.utf8)).base64EncodedString()
            try expect(try await command(.line("AUTH PLAIN \(token)"), step: .auth), 235, at: .auth)
        } else if offered.contains("LOGIN") {
            try expect(try await command(.line("AUTH LOGIN"), step: .auth), 334, at: .auth)
            let userLine = Data(user.utf8).base64EncodedString()
            try expect(try await command(.line(userLine), step: .auth), 334, at: .auth)
            let passLine = Data(password.utf8).base64EncodedString()
            try expect(try await command(.line(passLine), step: .auth), 235, at: .auth)
        } else {
            throw .authenticationUnavailable(offered: offered)
        }
    }

    /// MAIL FROM, RCPT TO for each recipient, DATA and the dot-stuffed message.
    func deliver(bytes: [UInt8], from: String, to recipients: [String]) async throws(SMTPError) -> SMTPReply {
        try expect(try await command(.line("MAIL FROM:<\(from)>"), step: .mailFrom), 250, at: .mailFrom)
        for recipient in recipients {
            let reply = try await command(.line("RCPT TO:<\(recipient)>"), step: .rcptTo)
            guard reply.code == 250 || reply.code == 251 else {
                throw .rejected(step: .rcptTo, code: reply.code, message: reply.text)
            }
        }
        try expect(try await command(.line("DATA"), step: .data), 354, at: .data)
        let reply = try await command(.bytes(bytes), step: .message, within: configuration.timeouts.data)
        try expect(reply, 250, at: .message)
        logger.debug("message accepted", metadata: ["reply": "\(reply.code)"])
        return reply
    }

    /// Says QUIT and closes; the message is already accepted, so a failure here changes nothing.
    func quit() async {
        _ = try? await command(.line("QUIT"), step: .quit)
        await close()
    }

    func close() async {
        continuation.finish()
        try? await channel.close()
    }

    private func expect(_ reply: SMTPReply, _ code: Int, at step: SMTPStep) throws(SMTPError) {
        guard reply.code == code else { throw .rejected(step: step, code: reply.code, message: reply.text) }
    }

    /// Writes `outbound` and reads the reply, all within `within` (the command timeout by default).
    private func command(
        _ outbound: SMTPOutbound, step: SMTPStep, within: Duration? = nil
    ) async throws(SMTPError) -> SMTPReply {
        let limit = within ?? configuration.timeouts.command
        // The step only: command lines carry addresses and credentials.
        logger.trace("smtp command", metadata: ["step": "\(step.rawValue)"])
        let timer = armTimer(step: step, limit: limit)
        defer { timer.cancel() }
        do {
            try await channel.writeAndFlush(outbound).get()
        } catch {
            // The timer or the relay may have closed the connection: the stream says which.
            _ = try await next(step)
            throw .connection(step: step, "\(error)")
        }
        return try await next(step)
    }

    /// Reads one reply within `within`.
    private func read(_ step: SMTPStep, within: Duration) async throws(SMTPError) -> SMTPReply {
        let timer = armTimer(step: step, limit: within)
        defer { timer.cancel() }
        return try await next(step)
    }

    /// Ends the reply stream with a timeout and closes the connection when `limit` passes first.
    private func armTimer(step: SMTPStep, limit: Duration) -> Scheduled<Void> {
        let continuation = self.continuation
        let channel = self.channel
        return channel.eventLoop.scheduleTask(in: TimeAmount(limit)) {
            continuation.finish(throwing: SMTPError.timeout(step: step))
            channel.close(promise: nil)
        }
    }

    private func next(_ step: SMTPStep) async throws(SMTPError) -> SMTPReply {
        do {
            guard let reply = try await replies.next() else {
                throw SMTPError.connection(step: step, "the connection is closed")
            }
            return reply
        } catch let error as SMTPError {
            switch error {
            case .connection(_, let why): throw .connection(step: step, why)
            default: throw error
            }
        } catch {
            throw .connection(step: step, "\(error)")
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
