import CubbyConnections
import CubbyCore
import CubbyDemo
import CubbyServer
import Foundation
import Testing

/// Requests whose HTTP framing is broken, sent over a real socket to the API port.
@Suite("broken HTTP framing on the API port")
struct HTTPFramingTests {
    @Test(
        "a chunked body with a chunk size that is not hex gets 400 and changes nothing",
        arguments: ["zz\r\n{}\r\n0\r\n\r\n", "5\r\n{\"tra\r\nzz\r\nckingNumber\"}\r\n0\r\n\r\n"])
    func malformedChunkSize(_ body: String) async throws {
        try await TestWorld.with(.sqlite) { world in
            let running = try await Listener.api.start(world, limits: .standard)
            let before = try await world.counts()
            let targets: [(path: String, token: String?)] = [
                ("/api/v1/units/\(world.unit)/dropoffs", world.manifest.courierToken),
                ("/api/v1/parcels", world.manifest.carrierToken), (EdgeLink.enrollPath, nil),
            ]
            for (path, token) in targets {
                let socket = try await TestSocket.connect(port: running.port)
                await socket.send(
                    "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "")
                        + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\(body)")
                let answer = try #require(await socket.answer(), "POST \(path) is answered")
                #expect(answer.status == 400, "POST \(path)")
                let json = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                #expect(json?["error"] as? String == "malformed_request", "POST \(path)")
                #expect(await socket.closed(within: 10), "the connection ends after a framing error")
            }
            try await world.settle()
            let after = try await world.counts()
            #expect(after.parcels == before.parcels)
            #expect(after.audit == before.audit)
            await running.stop()
        }
    }
}
