import CubbyCore
import CubbyKiosk
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the controller needs from the link to the server.
public protocol EdgeUplink: Sendable {
    /// New events are in the journal: send them when the link is up.
    func eventsAppended()
    /// Whether the link is up now.
    var isOnline: Bool { get }
    /// The carrier's name for a courier credential typed at the kiosk (nil: refused or offline).
    func courierCheck(token: String) async -> String?
    /// A drop-off started at the kiosk.
    func dropoff(token: String, trackingNumber: String, recipientId: String, size: String) async -> KioskDropoffResult
}

/// The unit's link to the server: a WebSocket over pinned TLS 1.3, authenticated by the unit's device
/// credential. It sends the journal's unacknowledged events in order, carries commands and the unit's
/// state down, and reconnects by itself with backoff.
public final class EdgeServerLink: EdgeUplink {
    let server: URL
    let tls: PinnedTLS
    let token: String
    let journal: EdgeJournal
    let logger: Logger
    private let controller = Mutex<LockerController?>(nil)
    /// Wakes the current connection's sender; each connection has its own stream (a cancelled iteration ends a stream for good).
    private let wake = Mutex<AsyncStream<Void>.Continuation?>(nil)
    private let outbound = Mutex<NIOAsyncChannelOutboundWriter<WebSocketFrame>?>(nil)
    private let pending = Mutex<[String: CheckedContinuation<EdgeDownMessage?, Never>]>([:])
    private let online = Mutex(false)

    /// Waits between attempts: 0.5 s doubling to 30 s, with jitter.
    static let backoff: (min: Double, max: Double) = (0.5, 30)
    static let resendAfter: Duration = .seconds(5)
    static let requestTimeout: Duration = .seconds(10)

    public init(server: URL, tls: PinnedTLS, token: String, journal: EdgeJournal, logger: Logger) {
        self.server = server
        self.tls = tls
        self.token = token
        self.journal = journal
        self.logger = logger
    }

    public func attach(_ controller: LockerController) { self.controller.withLock { $0 = controller } }

    public func eventsAppended() { _ = wake.withLock { $0?.yield() } }

    public var isOnline: Bool { online.withLock { $0 } }

    /// Connects, serves the link, and reconnects until cancelled.
    public func run() async {
        var delay = Self.backoff.min
        while !Task.isCancelled {
            do {
                try await connectOnce { delay = Self.backoff.min }
            } catch is CancellationError {
                break
            } catch {
                logger.warning("server link down", metadata: ["error": "\(error)"])
            }
            await setOnline(false)
            if Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(Int(delay * Double.random(in: 0.8...1.2) * 1000)))
            delay = min(Self.backoff.max, delay * 2)
        }
        await setOnline(false)
    }

    func setOnline(_ up: Bool) async {
        let changed = online.withLock { old -> Bool in
            defer { old = up }
            return old != up
        }
        if !up {
            outbound.withLock { $0 = nil }
            let waiting = pending.withLock { p -> [CheckedContinuation<EdgeDownMessage?, Never>] in
                defer { p.removeAll() }
                return Array(p.values)
            }
            for w in waiting { w.resume(returning: nil) }
        }
        if changed, let controller = controller.withLock({ $0 }) { await controller.linkChanged(up: up) }
    }

    enum Upgrade {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>)
        case refused
    }

    func connectOnce(connected: () -> Void) async throws {
        guard let host = server.host else { throw EdgeLinkError.configuration("the server address has no host") }
        let port = server.port ?? 443
        let token = self.token
        let tls = self.tls
        let upgrade: EventLoopFuture<Upgrade> = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try tls.handler(serverHostname: host))
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: EdgeLink.maxMessageBytes) {
                        channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOWebSocketFrameAggregator(
                                    minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 256,
                                    maxAccumulatedFrameSize: EdgeLink.maxMessageBytes))
                            return .websocket(
                                try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                                    wrappingChannelSynchronously: channel))
                        }
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: "\(host):\(port)")
                    headers.add(name: "Authorization", value: "Bearer \(token)")
                    headers.add(name: "Content-Length", value: "0")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: EdgeLink.path, headers: headers)
                    let config = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeCompletedFuture { .refused } }
                    )
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: config))
                }
            }
        guard case .websocket(let channel) = try await upgrade.get() else {
            throw EdgeLinkError.refused("the server refused the unit's credential (revoked, expired or wrong unit)")
        }
        connected()
        try await channel.executeThenClose { inbound, outbound in
            self.outbound.withLock { $0 = outbound }
            await setOnline(true)
            logger.info("server link up", metadata: ["server": "\(server.absoluteString)"])
            try await send(.hello(version: EdgeLink.version, lastSeq: await journal.sequence))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.sendLoop() }
                for try await frame in inbound {
                    switch frame.opcode {
                    case .text:
                        var data = frame.unmaskedData
                        guard let text = data.readString(length: data.readableBytes),
                            let message = try? JSONDecoder().decode(EdgeDownMessage.self, from: Data(text.utf8))
                        else {
                            logger.warning("unreadable message from the server")
                            continue
                        }
                        try await receive(message)
                    case .ping:
                        try await outbound.write(
                            WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
                    case .connectionClose:
                        group.cancelAll()
                        return
                    default:
                        continue
                    }
                }
                group.cancelAll()
            }
        }
    }

    func send(_ message: EdgeUpMessage) async throws {
        guard let writer = outbound.withLock({ $0 }) else { throw EdgeLinkError.refused("the link is down") }
        let data = try JSONEncoder().encode(message)
        try await writer.write(
            WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(bytes: data)))
    }

    /// Sends unacknowledged events in order; sends them again when no acknowledgement came in time.
    func sendLoop() async throws {
        let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wake.withLock { $0 = wake }
        var sentUpTo = await journal.acknowledged
        var sentAt = ContinuousClock.now
        wake.yield()
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                wake.yield()
            }
        }
        defer {
            ticker.cancel()
            wake.finish()
        }
        for await _ in wakes {
            try Task.checkCancellation()
            let acked = await journal.acknowledged
            if sentUpTo > acked, ContinuousClock.now - sentAt > Self.resendAfter { sentUpTo = acked }
            sentUpTo = max(sentUpTo, acked)
            while true {
                let batch = try await journal.entries(after: sentUpTo, limit: 50)
                if batch.isEmpty { break }
                for entry in batch {
                    try await send(.event(entry.event, photo: entry.photo?.base64EncodedString()))
                    sentUpTo = entry.event.seq
                }
                sentAt = ContinuousClock.now
            }
        }
    }

    func receive(_ message: EdgeDownMessage) async throws {
        switch message {
        case .ack(let seq):
            try await journal.acknowledge(upTo: seq)
        case .state(let state):
            await controller.withLock({ $0 })?.apply(state: state)
        case .command(let command):
            guard let controller = controller.withLock({ $0 }) else { return }
            // Commands run beside the reader, so a door's retries do not hold up the link.
            Task {
                let outcome = await controller.execute(command)
                try? await self.send(.commandAck(id: command.id, outcome: outcome))
            }
        case .courier(let id, _), .dropoffResult(let id, _, _, _, _):
            let waiter = pending.withLock { $0.removeValue(forKey: id) }
            waiter?.resume(returning: message)
        }
    }

    /// Sends a request and waits for its answer (nil when offline or no answer in time).
    func ask(_ make: (String) -> EdgeUpMessage) async -> EdgeDownMessage? {
        guard isOnline else { return nil }
        let id = EntityID.make()
        let message = make(id)
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: Self.requestTimeout)
            self?.pending.withLock { $0.removeValue(forKey: id) }?.resume(returning: nil)
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in
            pending.withLock { $0[id] = continuation }
            Task {
                do { try await self.send(message) } catch {
                    self.pending.withLock { $0.removeValue(forKey: id) }?.resume(returning: nil)
                }
            }
        }
    }

    public func courierCheck(token: String) async -> String? {
        guard case .courier(_, let name)? = await ask({ .courierCheck(requestId: $0, token: token) }) else {
            return nil
        }
        return name
    }

    public func dropoff(token: String, trackingNumber: String, recipientId: String, size: String) async
        -> KioskDropoffResult
    {
        guard
            case .dropoffResult(_, _, let label, let error, let message)? = await ask({
                .dropoff(
                    requestId: $0, token: token, trackingNumber: trackingNumber, recipientId: recipientId, size: size)
            })
        else { return .offline }
        if let label { return .opened(compartmentLabel: label) }
        switch error {
        case "unit_full": return .unitFull
        case "unit_locked_down": return .lockedDown
        case "signed_out", "unauthorized": return .signedOut
        default: return .invalid(message: message ?? "The drop-off was refused.")
        }
    }
}

/// Enrolls a unit: exchanges a one-time code for its device credential over pinned TLS.
public enum EdgeEnrollment {
    public struct Result: Codable, Sendable {
        public var unitId: String
        public var unitName: String
        public var deviceToken: String
    }

    public static func enroll(server: URL, tls: PinnedTLS, code: String, label: String?) async throws -> Result {
        var body: [String: String] = ["code": code]
        if let label { body["label"] = label }
        let (status, data) = try await tls.request(
            url: server.appendingPathComponent(String(EdgeLink.enrollPath.dropFirst())), method: .POST,
            json: try JSONEncoder().encode(body))
        guard status == 201 else {
            let message = (try? JSONDecoder().decode([String: String].self, from: data))?["message"] ?? "HTTP \(status)"
            throw EdgeLinkError.refused("enrollment refused: \(message)")
        }
        return try JSONDecoder().decode(Result.self, from: data)
    }
}
