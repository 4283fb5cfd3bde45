import CubbyConnections
import CubbyCore
import CubbyDemo
import CubbyEdge
import CubbyServer
import Foundation
import Testing

/// The units' TLS edge port serves their link and enrollment only.
@Suite("the edge port serves units only")
struct EdgePortTests {
    @Test("portal pages and API routes answer 404 on the edge port; health and the link's routes answer there")
    func onlyUnitRoutes() async throws {
        try await TestWorld.with(.sqlite, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let m = world.manifest
            let refused: [(method: String, path: String, token: String?)] = [
                ("GET", "/admin/sign-in", nil), ("POST", "/admin/sign-in", nil), ("GET", "/admin", nil),
                ("GET", "/me/sign-in", nil), ("GET", "/api/v1/openapi.yaml", nil),
                ("GET", "/api/v1/units/\(world.unit)", world.device), ("GET", "/api/v1/alerts", m.adminToken),
                ("POST", "/api/v1/parcels", m.carrierToken), ("GET", "/api/v1/audit/checkpoint", m.auditorToken),
            ]
            let socket = try await TestSocket.connect(port: listener.port, tls: true)
            for (method, path, token) in refused {
                let body = method == "POST" ? "{}" : ""
                await socket.send(
                    "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "")
                        + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
                let answer = try #require(await socket.answer(), "\(method) \(path) is answered")
                #expect(answer.status == 404, "\(method) \(path)")
                #expect(answer.header("set-cookie") == nil, "\(method) \(path) sets no cookie")
                #expect(answer.header("strict-transport-security") == "max-age=31536000", "\(method) \(path)")
            }
            await socket.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(await socket.answer()?.status == 200)
            await socket.send(
                "GET \(EdgeLink.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(world.device)\r\n\r\n")
            #expect(await socket.answer()?.status == 426, "a plain request to the link learns it is a WebSocket")
            await socket.send(
                "POST \(EdgeLink.enrollPath) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 30\r\n\r\n{\"code\":\"AAAA-BBBB-CCCC-DDDD\"}")
            let enroll = try #require(await socket.answer())
            #expect(enroll.status != 404, "enrollment is routed on the edge port")
            #expect(enroll.status >= 400 && enroll.status < 500, "an unknown code is refused")
            await socket.close()

            // Enrollment and the link itself work end to end.
            let token = try await EdgeLinkTests.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the unit is connected") { world.parts.hub.isConnected(world.unit) }
            await unit.stop()
            await listener.stop()
        }
    }
}
