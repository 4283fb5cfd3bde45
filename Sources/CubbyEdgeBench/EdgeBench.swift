import Crypto
import CubbyCore
import CubbyCrypto
import CubbyDevices
import CubbyEdge
import CubbyKiosk
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `cubby-edge bench`: a correct PIN to the unlock command on the bus, and a tamper signal to every
/// board's lock-all, measured on the real controller, journal (fsync'd, in a temp directory) and camera.
public enum EdgeBench {
    /// An uplink that is up and sends nothing: the pickup path never waits for the server, so "online" differs from
    /// "offline" only in this flag and the wake-up it gets.
    final class IdleUplink: EdgeUplink {
        let up: Bool
        init(up: Bool) { self.up = up }
        func eventsAppended() {}
        var isOnline: Bool { up }
        func courierCheck(token: String) async -> String? { nil }
        func dropoff(token: String, trackingNumber: String, recipientId: String, size: String) async
            -> KioskDropoffResult
        { .offline }
    }

    public static func run(rounds: Int, logger: Logger) async throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-edge-bench-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var lines = [
            "cubby-edge bench: \(rounds) rounds each; journal fsync'd in \(dir); camera simulated (320×240 JPEG)"
        ]
        for online in [false, true] {
            let (p50, p99, max) = try await pinToUnlock(
                rounds: rounds, online: online, dir: dir + "/pin-\(online)", logger: logger)
            lines.append(
                "PIN → unlock command (\(online ? "online" : "offline")): p50 \(p50.fixed(2)) ms, p99 \(p99.fixed(2)) ms, max \(max.fixed(2)) ms"
            )
        }
        let (t50, t99, tmax) = try await tamperToLocked(rounds: min(rounds, 200), dir: dir + "/tamper", logger: logger)
        lines.append(
            "tamper signal → every board locked (4 boards): p50 \(t50.fixed(2)) ms, p99 \(t99.fixed(2)) ms, max \(tmax.fixed(2)) ms"
        )
        lines.append(
            "resident memory of this process now: \(residentMegabytes().map { "\($0.fixed(1)) MB" } ?? "unknown")")
        return lines.joined(separator: "\n")
    }

    static func percentiles(_ samples: [Double]) -> (Double, Double, Double) {
        let s = samples.sorted()
        func at(_ q: Double) -> Double { s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))] }
        return (at(0.5), at(0.99), s.last ?? 0)
    }

    /// A unit with `codes` live PINs whose digits are known.
    static func unit(codes: Int, boards: Int) -> (EdgeUnitState, [String]) {
        let key = UnitPinKey(key: SymmetricKey(size: .bits256))
        let unitId = EntityID.make()
        var compartments: [EdgeCompartment] = []
        for i in 0..<(boards * 16) {
            let wire = EdgeCompartment.wiring(index: i)
            compartments.append(
                EdgeCompartment(
                    id: EntityID.make(), label: "C\(i + 1)", size: "M", board: wire.board, channel: wire.channel))
        }
        var pins: [String] = []
        var live: [EdgePickupCode] = []
        let expires = Date().millisecondsSince1970 + Milliseconds.day
        for i in 0..<codes {
            let pin = SecretGenerator.digits(PinEntryPolicy.standard.pinLength)
            pins.append(pin)
            live.append(
                EdgePickupCode(
                    parcelId: EntityID.make(), compartmentId: compartments[i % compartments.count].id,
                    pinHash: Data(key.hash(pin: pin)).base64EncodedString(), qrNonce: UUID().uuidString,
                    expiresAt: expires))
        }
        let qr = Curve25519.Signing.PrivateKey().publicKey.rawRepresentation.base64EncodedString()
        return (
            EdgeUnitState(
                unitId: unitId, unitName: "Bench unit", compartments: compartments, pinPolicy: .standard,
                pinKey: key.base64,
                qrPublicKey: qr, codes: live, lockedDown: false), pins
        )
    }

    static func pinToUnlock(rounds: Int, online: Bool, dir: String, logger: Logger) async throws -> (
        Double, Double, Double
    ) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let journal = try await EdgeJournal.open(path: dir + "/journal.sqlite", logger: logger)
        let bus = SimulatedLockBus(boards: 4, closeAfter: nil)
        let controller = LockerController(
            journal: journal, bus: bus, camera: SimulatedCamera(unitName: "Bench unit"), logger: logger)
        let (state, pins) = unit(codes: rounds, boards: 4)
        await controller.apply(state: state)
        try await controller.start(uplink: IdleUplink(up: online), sensors: nil)
        var samples: [Double] = []
        for pin in pins {
            bus.clearRecords()
            let start = ContinuousClock.now
            guard case .opened = await controller.pickup(code: pin, method: .pin) else {
                throw EdgeLinkError.protocolViolation("a correct PIN was refused")
            }
            guard let unlocked = bus.unlocks.first?.at else {
                throw EdgeLinkError.protocolViolation("no unlock reached the bus")
            }
            samples.append((unlocked - start).seconds * 1000)
            for record in bus.unlocks { bus.close(record.address) }
        }
        await controller.stop()
        await journal.close()
        return percentiles(samples)
    }

    static func tamperToLocked(rounds: Int, dir: String, logger: Logger) async throws -> (Double, Double, Double) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let journal = try await EdgeJournal.open(path: dir + "/journal.sqlite", logger: logger)
        let bus = SimulatedLockBus(boards: 4, closeAfter: nil)
        let sensors = SimulatedSensorPanel()
        let controller = LockerController(
            journal: journal, bus: bus, camera: SimulatedCamera(unitName: "Bench unit"), logger: logger)
        await controller.apply(state: unit(codes: 1, boards: 4).0)
        try await controller.start(uplink: nil, sensors: sensors)
        var samples: [Double] = []
        for _ in 0..<rounds {
            bus.clearRecords()
            let start = ContinuousClock.now
            sensors.raise(.tamper(.impact, detail: "bench"))
            var waited = 0
            while bus.lockAlls.count < 4 {
                try await Task.sleep(for: .microseconds(200))
                waited += 1
                if waited > 25_000 { throw EdgeLinkError.protocolViolation("the lockdown did not reach every board") }
            }
            samples.append((bus.lockAlls.map(\.at).max()! - start).seconds * 1000)
            _ = await controller.execute(EdgeCommand(id: UUID().uuidString, kind: .release, expiresAt: Int64.max))
        }
        await controller.stop()
        await journal.close()
        return percentiles(samples)
    }

    /// VmRSS of this process, from /proc.
    public static func residentMegabytes(pid: String = "self") -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        let kb = line.split(separator: " ").compactMap { Double($0) }.first
        return kb.map { $0 / 1024 }
    }
}
