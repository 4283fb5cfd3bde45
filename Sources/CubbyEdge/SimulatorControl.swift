import CubbyCore
import CubbyDevices
import Foundation
import Hummingbird
import NIOCore

/// The simulated unit's control endpoint on 127.0.0.1: shake it, pry a door, cut the power, read its
/// condition. Only exists with simulated hardware; the demo and the real-process tests use it.
struct SimulatorControl {
    let controller: LockerController
    let bus: SimulatedLockBus
    let sensors: SimulatedSensorPanel
    let journal: EdgeJournal

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/status") { _, _ in
            try json(await controller.condition())
        }
        router.post("/tamper") { req, _ in
            let text = req.uri.queryParameters.get("kind") ?? "impact"
            guard let kind = TamperKind(rawValue: text) else {
                throw HTTPError(.badRequest, message: "kind must be one of \(TamperKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            sensors.raise(.tamper(kind, detail: "simulated"))
            return Response(status: .accepted)
        }
        router.post("/force-open") { req, _ in
            let address = try address(req)
            bus.forceOpen(address)
            return Response(status: .accepted)
        }
        router.post("/close") { req, _ in
            bus.close(try address(req))
            return Response(status: .accepted)
        }
        router.post("/service-door") { req, _ in
            sensors.raise(.serviceDoor(open: req.uri.queryParameters.get("open") != "false"))
            return Response(status: .accepted)
        }
        router.post("/mains") { req, _ in
            sensors.raise(.mainsPower(on: req.uri.queryParameters.get("on") == "true"))
            return Response(status: .accepted)
        }
        router.get("/journal/verify") { _, _ in
            let broken = try await journal.verifyChain()
            return try json(["intact": broken == nil ? "true" : "false", "firstBad": broken.map(String.init) ?? ""])
        }
        return router
    }

    func address(_ req: Request) throws -> LockAddress {
        guard let b = req.uri.queryParameters.get("board").flatMap({ UInt8($0) }), let c = req.uri.queryParameters.get("channel").flatMap({ UInt8($0) }),
            SerialLockBus.boardAddresses.contains(b), SerialLockBus.channelNumbers.contains(c)
        else { throw HTTPError(.badRequest, message: "board (0…3) and channel (1…16) are required") }
        return LockAddress(board: b, channel: c)
    }

    func json(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }
}
