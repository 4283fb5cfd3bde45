import CubbyCore
import CubbyDevices
import CubbyKiosk
import HTTPTypes
import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The simulated unit's control endpoint on 127.0.0.1: shake it, pry a door, cut the power, read its
/// condition. Only exists with simulated hardware; the demo and the real-process tests use it.
struct SimulatorControl {
    let controller: LockerController
    let bus: SimulatedLockBus
    let sensors: SimulatedSensorPanel
    let journal: EdgeJournal

    /// Answers one request to the control endpoint. A request a browser sends from another site (a web
    /// page posting here to lock the unit down) is refused before it reaches the simulator.
    func respond(to request: LocalRequest) async -> LocalResponse {
        if request.method != .get && request.method != .head && request.isCrossSite {
            return LocalResponse(
                status: .forbidden, contentType: "text/plain; charset=utf-8",
                text: "cross-site request refused: the simulator takes commands from this machine's own tools only\n")
        }
        do {
            return try await route(request)
        } catch let refusal as Refusal {
            return LocalResponse(
                status: refusal.status, contentType: "text/plain; charset=utf-8", text: refusal.message + "\n")
        } catch {
            return LocalResponse(
                status: .internalServerError, contentType: "text/plain; charset=utf-8", text: "\(error)\n")
        }
    }

    struct Refusal: Error {
        var status: HTTPResponse.Status
        var message: String
    }

    func route(_ request: LocalRequest) async throws -> LocalResponse {
        switch (request.path, request.method) {
        case ("/status", .get):
            return try json(await controller.condition())
        case ("/tamper", .post):
            let text = request.query("kind") ?? "impact"
            guard let kind = TamperKind(rawValue: text) else {
                throw Refusal(
                    status: .badRequest,
                    message: "kind must be one of \(TamperKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            sensors.raise(.tamper(kind, detail: "simulated"))
        case ("/force-open", .post):
            bus.forceOpen(try address(request))
        case ("/close", .post):
            bus.close(try address(request))
        case ("/service-door", .post):
            sensors.raise(.serviceDoor(open: request.query("open") != "false"))
        case ("/mains", .post):
            sensors.raise(.mainsPower(on: request.query("on") == "true"))
        case ("/journal/verify", .get):
            let broken = try await journal.verifyChain()
            return try json(["intact": broken == nil ? "true" : "false", "firstBad": broken.map(String.init) ?? ""])
        case ("/status", _), ("/journal/verify", _):
            throw Refusal(status: .methodNotAllowed, message: "use GET")
        case ("/tamper", _), ("/force-open", _), ("/close", _), ("/service-door", _), ("/mains", _):
            throw Refusal(status: .methodNotAllowed, message: "use POST")
        default:
            throw Refusal(status: .notFound, message: "no such control: \(request.path)")
        }
        return LocalResponse(status: .accepted)
    }

    func address(_ request: LocalRequest) throws -> LockAddress {
        guard let b = request.query("board").flatMap({ UInt8($0) }),
            let c = request.query("channel").flatMap({ UInt8($0) }),
            SerialLockBus.boardAddresses.contains(b), SerialLockBus.channelNumbers.contains(c)
        else { throw Refusal(status: .badRequest, message: "board (0…3) and channel (1…16) are required") }
        return LockAddress(board: b, channel: c)
    }

    func json(_ value: some Encodable) throws -> LocalResponse {
        LocalResponse(
            status: .ok, headers: [.contentType: "application/json"],
            body: ByteBuffer(bytes: try JSONEncoder().encode(value)))
    }
}
