import CubbyConnections
import CubbyCore
import CubbyDemo
import CubbyEdge
import CubbyKiosk
import CubbyServer
import Foundation
import HTTPTypes
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// The three listeners a deployment opens, each under its `ConnectionLimits`.
enum Listener: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// The API and portals (Hummingbird, plain HTTP).
    case api
    /// The units' TLS edge port.
    case edge
    /// A unit's kiosk page (`LocalHTTPServer`).
    case kiosk

    var testDescription: String { rawValue }
    var tls: Bool { self == .edge }

    /// A request the listener answers 200 at once, on a kept-alive connection.
    var simpleRequest: String {
        switch self {
        case .api, .edge: "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        case .kiosk: "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        }
    }

    /// The head of a request whose body the listener reads.
    func bodyHead(length: Int) -> String {
        let path = self == .kiosk ? "/pickup" : EdgeLink.enrollPath
        return
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n"
    }

    /// A running listener on a free port.
    struct Running {
        let port: Int
        let stop: @Sendable () async -> Void
    }

    func start(_ world: TestWorld, limits: ConnectionLimits) async throws -> Running {
        switch self {
        case .api:
            var settings = world.settings
            settings.port = 0
            settings.connectionLimits = limits
            let port = Mutex<Int?>(nil)
            let app = try buildApplication(
                parts: world.parts, settings: settings, logger: TestWorld.logger,
                onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } })
            let group = ServiceGroup(configuration: .init(services: [app], logger: TestWorld.logger))
            let task = Task { try await group.run() }
            for _ in 0..<400 where port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(25)) }
            let bound = try #require(port.withLock { $0 })
            return Running(port: bound) {
                await group.triggerGracefulShutdown()
                _ = try? await task.value
            }
        case .edge:
            let listener = try await EdgeListener.start(world, limits: limits)
            return Running(port: listener.port) { await listener.stop() }
        case .kiosk:
            let (ports, sink) = AsyncStream.makeStream(of: Int.self)
            let server = LocalHTTPServer(
                host: "127.0.0.1", port: 0, maxBody: 1024, limits: limits, logger: TestWorld.logger,
                onRunning: { sink.yield($0) },
                handler: { _ in LocalResponse(status: .ok, contentType: "text/plain", text: "ok") })
            let task = Task { try await server.run() }
            var it = ports.makeAsyncIterator()
            let bound = try #require(await it.next())
            return Running(port: bound) {
                task.cancel()
                _ = try? await task.value
            }
        }
    }
}

/// Slow clients (partial or trickled heads, bodies that never come, idle kept-alive connections, a TLS
/// handshake that never starts) and greedy addresses, against each listener over real sockets.
@Suite("slow clients and connection caps on every listener")
struct SlowClientTests {
    /// Every timeout 1 s; a connection must be closed well within `bound` seconds.
    static let short = ConnectionLimits(
        headTimeout: .seconds(1), bodyTimeout: .seconds(1), idleTimeout: .seconds(1), handshakeTimeout: .seconds(1))
    static let bound = 8.0

    func with(
        _ listener: Listener, limits: ConnectionLimits = short, _ body: (Int) async throws -> Void
    ) async throws {
        try await TestWorld.with(.sqlite) { world in
            let running = try await listener.start(world, limits: limits)
            do { try await body(running.port) } catch {
                await running.stop()
                throw error
            }
            await running.stop()
        }
    }

    @Test("a connection that sends nothing (on the edge port: no ClientHello) is closed", arguments: Listener.allCases)
    func silent(_ listener: Listener) async throws {
        try await with(listener) { port in
            let socket = try await TestSocket.connect(port: port, tls: false)
            #expect(await socket.closed(within: Self.bound))
            await socket.close()
        }
    }

    @Test("a partial request head is closed at the head timeout", arguments: Listener.allCases)
    func partialHead(_ listener: Listener) async throws {
        try await with(listener) { port in
            let socket = try await TestSocket.connect(port: port, tls: listener.tls)
            await socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Wait: ")
            #expect(await socket.closed(within: Self.bound))
            await socket.close()
        }
    }

    @Test(
        "a head trickled a byte at a time is closed at the head timeout, while still trickling",
        arguments: Listener.allCases)
    func trickledHead(_ listener: Listener) async throws {
        try await with(listener) { port in
            let socket = try await TestSocket.connect(port: port, tls: listener.tls)
            await socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            let start = ContinuousClock.now
            var closed = false
            while !closed && ContinuousClock.now - start < .seconds(Self.bound) {
                await socket.send("a")
                closed = await socket.closed(within: 0.2)
            }
            #expect(closed, "a byte every 0.2 s does not keep a head open")
            await socket.close()
        }
    }

    @Test("a body that stops coming (1 of 100 bytes, or 1 of 1,000,000,000) is closed", arguments: Listener.allCases)
    func partialBody(_ listener: Listener) async throws {
        try await with(listener) { port in
            for length in [100, 1_000_000_000] {
                let socket = try await TestSocket.connect(port: port, tls: listener.tls)
                await socket.send(listener.bodyHead(length: length) + "{")
                #expect(await socket.closed(within: Self.bound), "Content-Length \(length)")
                await socket.close()
            }
        }
    }

    @Test("a kept-alive connection is answered, then closed once idle", arguments: Listener.allCases)
    func idle(_ listener: Listener) async throws {
        // Only the idle limit is short here, so a slow run of the whole suite cannot close the connection before
        // its requests are sent.
        let limits = ConnectionLimits(
            headTimeout: .seconds(60), bodyTimeout: .seconds(60), idleTimeout: .seconds(2),
            handshakeTimeout: .seconds(60))
        try await with(listener, limits: limits) { port in
            let socket = try await TestSocket.connect(port: port, tls: listener.tls)
            for _ in 0..<2 {
                await socket.send(listener.simpleRequest)
                #expect(await socket.answer()?.status == 200)
            }
            #expect(await socket.closed(within: Self.bound))
            await socket.close()
        }
    }

    @Test(
        "32 connections from one address are served; the 33rd is closed; a freed place is taken again",
        arguments: Listener.allCases)
    func perAddressCap(_ listener: Listener) async throws {
        try await with(listener, limits: .standard) { port in
            var open: [TestSocket] = []
            for _ in 0..<32 {
                let socket = try await TestSocket.connect(port: port, tls: listener.tls)
                await socket.send(listener.simpleRequest)
                let answer = await socket.answer()
                #expect(answer?.status == 200, "connection \(open.count + 1) is served")
                open.append(socket)
            }
            let extra = try await TestSocket.connect(port: port, tls: listener.tls)
            #expect(await extra.closed(within: Self.bound), "the 33rd connection is closed")
            await extra.close()
            #expect(open.allSatisfy { $0.channel.isActive }, "the 32 stay open")
            await open.removeFirst().close()
            try await eventually("a place is free again", seconds: 20) {
                let next = try await TestSocket.connect(port: port, tls: listener.tls)
                await next.send(listener.simpleRequest)
                let served = await next.answer(within: 2)?.status == 200
                if served { open.append(next) } else { await next.close() }
                return served
            }
            for socket in open { await socket.close() }
        }
    }

    @Test("the units' WebSocket link outlives every HTTP timeout")
    func linkOutlivesTimeouts() async throws {
        try await TestWorld.with(.sqlite, start: Date()) { world in
            let listener = try await EdgeListener.start(world, limits: Self.short)
            let token = try await EdgeLinkTests.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the unit is connected") { world.parts.hub.isConnected(world.unit) }
            let start = ContinuousClock.now
            var dropped = false
            while ContinuousClock.now - start < .seconds(3.5) {
                if !world.parts.hub.isConnected(world.unit) { dropped = true }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(!dropped, "the link stayed up past the 1 s head, body and idle timeouts")
            await unit.stop()
            await listener.stop()
        }
    }
}
