import CubbyDevices
import CubbyKiosk
import CubbyServer
import Foundation
import Logging
import NIOCore
import Testing

@testable import CubbyEdge

/// The simulated unit's control endpoint takes commands from the machine's own tools, not from web pages.
@Suite("the simulator's control endpoint")
struct SimulatorControlTests {
    @Test("a cross-site POST or a foreign Host is refused and raises nothing; a local tool's POST works")
    func crossSiteRefused() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-control-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let journal = try await EdgeJournal.open(path: dir.path + "/journal.sqlite", logger: TestWorld.logger)
        let bus = SimulatedLockBus(boards: 1, closeAfter: .milliseconds(100))
        let sensors = SimulatedSensorPanel()
        let controller = LockerController(
            journal: journal, bus: bus, camera: SimulatedCamera(unitName: "test"), logger: TestWorld.logger)
        let control = SimulatorControl(controller: controller, bus: bus, sensors: sensors, journal: journal)
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let server = LocalHTTPServer(
            host: "127.0.0.1", port: 0, maxBody: 1024, logger: TestWorld.logger, onRunning: { sink.yield($0) },
            handler: { await control.respond(to: $0) })
        let task = Task { try await server.run() }
        var it = ports.makeAsyncIterator()
        let port = try #require(await it.next())

        let socket = try await TestSocket.connect(port: port)
        let forged: [(String, String)] = [
            ("Host: 127.0.0.1:\(port)", "Origin: https://evil.example\r\nSec-Fetch-Site: cross-site"),
            ("Host: 127.0.0.1:\(port)", "Origin: https://evil.example"),
            ("Host: 127.0.0.1:\(port)", "Origin: null"),
            ("Host: evil.example:\(port)", "Origin: http://evil.example:\(port)"),
            ("Host: evil.example:\(port)", "X-None: 1"),
        ]
        for (host, origin) in forged {
            await socket.send("POST /tamper?kind=impact HTTP/1.1\r\n\(host)\r\n\(origin)\r\nContent-Length: 0\r\n\r\n")
            let answer = try #require(await socket.answer())
            #expect([403, 421].contains(answer.status), "\(host) / \(origin)")
        }
        // curl or a test script: no Origin, no Sec-Fetch-Site.
        await socket.send(
            "POST /service-door?open=true HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Length: 0\r\n\r\n")
        #expect(await socket.answer()?.status == 202)
        var signals = sensors.signals.makeAsyncIterator()
        #expect(await signals.next() == .serviceDoor(open: true), "no tamper signal was raised before it")
        await socket.close()
        task.cancel()
        _ = try? await task.value
        await journal.close()
    }
}
