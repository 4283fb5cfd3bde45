import Crypto
import CubbyConnections
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyDevices
import CubbyEdge
import CubbyKiosk
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
import Testing
import X509

/// The edge listener on a free loopback port, run as a service group the test stops.
struct EdgeListener {
    let port: Int
    let pin: String
    let group: ServiceGroup
    let task: Task<Void, any Error>

    static func start(
        _ world: TestWorld, certificate: String? = nil, key: String? = nil, limits: ConnectionLimits = .standard
    ) async throws -> EdgeListener {
        var settings = world.settings
        settings.edgePort = 0
        settings.connectionLimits = limits
        if let certificate, let key {
            settings.tlsCertificate = certificate
            settings.tlsKey = key
        }
        let port = Mutex<Int?>(nil)
        guard
            let service = try buildEdgeListener(
                parts: world.parts, settings: settings, logger: TestWorld.logger,
                onServerRunning: { channel in
                    port.withLock { $0 = channel.localAddress?.port }
                })
        else { throw EdgeLinkError.configuration("no edge listener") }
        let group = ServiceGroup(configuration: .init(services: [service], logger: TestWorld.logger))
        let task = Task { try await group.run() }
        for _ in 0..<200 where port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(25)) }
        guard let bound = port.withLock({ $0 }) else {
            throw EdgeLinkError.configuration("the edge listener did not start")
        }
        let pin = try ServerIdentity.loadOrCreate(
            certificatePath: settings.tlsCertificate, keyPath: settings.tlsKey, hosts: []
        ).spkiSHA256()
        return EdgeListener(port: bound, pin: pin, group: group, task: task)
    }

    var url: URL { URL(string: "https://127.0.0.1:\(port)")! }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// A unit's controller in the test process: journal in a temp directory, simulated lock bus and camera.
final class TestUnit: Sendable {
    let journal: EdgeJournal
    /// The journal's SQLite file (its WAL beside it).
    let journalPath: String
    let bus: SimulatedLockBus
    let sensors: SimulatedSensorPanel
    let controller: LockerController
    let link: EdgeServerLink
    let linkTask = Mutex<Task<Void, Never>?>(nil)

    init(
        journal: EdgeJournal, journalPath: String, bus: SimulatedLockBus, sensors: SimulatedSensorPanel,
        controller: LockerController, link: EdgeServerLink
    ) {
        self.journal = journal
        self.journalPath = journalPath
        self.bus = bus
        self.sensors = sensors
        self.controller = controller
        self.link = link
    }

    static func start(_ world: TestWorld, listener: EdgeListener, token: String, name: String = "Lobby A") async throws
        -> TestUnit
    {
        let path = world.dir + "/journal-\(UUID().uuidString).sqlite"
        let journal = try await EdgeJournal.open(
            path: path, key: KeyedSealer(key: SymmetricKey(size: .bits256)), logger: TestWorld.logger)
        let bus = SimulatedLockBus(boards: 2, closeAfter: .milliseconds(150))
        let sensors = SimulatedSensorPanel()
        let controller = LockerController(
            journal: journal, bus: bus, camera: SimulatedCamera(unitName: name), logger: TestWorld.logger)
        let link = EdgeServerLink(
            server: listener.url, tls: try PinnedTLS(pin: listener.pin), token: token, journal: journal,
            logger: TestWorld.logger)
        link.attach(controller)
        await controller.simulate(on: bus)
        try await controller.start(uplink: link, sensors: sensors)
        let unit = TestUnit(
            journal: journal, journalPath: path, bus: bus, sensors: sensors, controller: controller, link: link)
        unit.connect()
        return unit
    }

    func connect() {
        let link = self.link
        linkTask.withLock { $0 = Task { await link.run() } }
    }

    /// Takes the link down, as a cut cable does.
    func disconnect() async {
        let task = linkTask.withLock { t -> Task<Void, Never>? in
            defer { t = nil }
            return t
        }
        task?.cancel()
        await task?.value
    }

    func stop() async {
        await disconnect()
        await controller.stop()
        await journal.close()
    }
}

extension TestWorld {
    /// Moves the test clock up to the wall clock. A unit's controller judges a door command's expiry by its own clock,
    /// so a command stamped by a test clock left behind while a loaded machine set the test up (a minute and more)
    /// would reach the unit already expired.
    func catchUpWithWallClock() {
        let behind = Date().timeIntervalSince(clock.now)
        if behind > 0 { clock.advance(behind) }
    }
}

/// Waits until `condition` holds (or fails the test after `seconds`).
///
/// The limit is generous on purpose: the whole suite runs its tests side by side on the machine's few
/// threads, and a wait that takes under a second alone has taken over a minute there.
func eventually(_ what: String, seconds: Double = 180, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting until \(what)")
    throw EdgeLinkError.protocolViolation("timed out waiting until \(what)")
}

@Suite("edge controllers: enrollment, pinned TLS, the journal's events, offline pickups and lockdown")
struct EdgeLinkTests {
    /// Enrolls unit 0 of the world and returns its device token.
    static func enroll(_ world: TestWorld, _ listener: EdgeListener) async throws -> String {
        let (code, _) = try await world.parts.edges.issueEnrollmentCodeFromConsole(unitId: world.unit)
        return try await EdgeEnrollment.enroll(
            server: listener.url, tls: try PinnedTLS(pin: listener.pin), code: code, label: nil
        ).deviceToken
    }

    @Test("an enrollment code works once, over TLS 1.3 with the server's key pinned", arguments: Backend.available)
    func enrollmentCodeOnce(_ backend: Backend) async throws {
        try await TestWorld.with(backend, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            defer { Task { await listener.stop() } }
            let (code, _) = try await world.parts.edges.issueEnrollmentCodeFromConsole(unitId: world.unit)
            let tls = try PinnedTLS(pin: listener.pin)
            let first = try await EdgeEnrollment.enroll(
                server: listener.url, tls: tls, code: code.lowercased(), label: "test controller")
            #expect(first.unitId == world.unit)
            #expect(first.deviceToken.hasPrefix("cby_device_"))
            await #expect(throws: EdgeLinkError.self) {
                try await EdgeEnrollment.enroll(server: listener.url, tls: tls, code: code, label: nil)
            }
            await #expect(throws: EdgeLinkError.self) {
                try await EdgeEnrollment.enroll(server: listener.url, tls: tls, code: "AAAA-BBBB-CCCC-DDDD", label: nil)
            }
            // The device credential works on the API; once revoked it does not.
            let unitView = try await world.test { client in
                try await client.call(.get, "/api/v1/units/\(world.unit)", token: first.deviceToken)
            }
            #expect(unitView.status == 200)
            let enrolled = try await world.parts.store.read { s in try await s.unit(world.unit)?.edgeEnrolledAt }
            #expect(enrolled != nil)
            await listener.stop()
        }
    }

    /// Whether a request over `tls` fails.
    static func refused(_ tls: PinnedTLS, _ url: URL) async -> Bool {
        do {
            _ = try await tls.request(url: url, method: .GET, json: nil)
            return false
        } catch {
            return true
        }
    }

    @Test("a certificate whose key is not the pinned one is refused, even when a CA vouches for it")
    func pinRefusesOtherKeys() async throws {
        try await TestWorld.with(.sqlite, start: Date()) { world in
            // A CA and a server certificate it issued: any client trusting the CA would accept it.
            let caKey = P256.Signing.PrivateKey()
            let caName = try DistinguishedName { CommonName("test CA") }
            let serverKey = P256.Signing.PrivateKey()
            let now = Date()
            let serverCert = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey), notValidBefore: now - 60,
                notValidAfter: now + 3600,
                issuer: caName, subject: try DistinguishedName { CommonName("127.0.0.1") },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
                }, issuerPrivateKey: .init(caKey))
            let certPath = world.dir + "/ca-issued.pem"
            let keyPath = world.dir + "/ca-issued-key.pem"
            try serverCert.serializeAsPEM().pemString.write(toFile: certPath, atomically: true, encoding: .utf8)
            try serverKey.pemRepresentation.write(toFile: keyPath, atomically: true, encoding: .utf8)
            let listener = try await EdgeListener.start(world, certificate: certPath, key: keyPath)
            let health = URL(string: "https://127.0.0.1:\(listener.port)/healthz")!
            // Pinned to the CA's key (or any other key): refused.
            let caPin = SHA256.hash(data: caKey.publicKey.derRepresentation).map { String(format: "%02x", $0) }.joined()
            #expect(await Self.refused(try PinnedTLS(pin: caPin), health))
            #expect(await Self.refused(try PinnedTLS(pin: String(repeating: "ab", count: 32)), health))
            // Pinned to the server's own key: accepted, though no CA is trusted at all.
            #expect(
                listener.pin
                    == SHA256.hash(data: serverKey.publicKey.derRepresentation).map { String(format: "%02x", $0) }
                    .joined())
            let ok = try await PinnedTLS(pin: listener.pin).request(url: health, method: .GET, json: nil)
            #expect(ok.status == 200)
            await listener.stop()
        }
    }

    @Test("journaled events apply exactly once; a gap or a broken chain raises an alert", arguments: Backend.available)
    func eventsOnce(_ backend: Backend) async throws {
        try await TestWorld.with(backend, start: Date()) { world in
            let edges = world.parts.edges
            func event(_ seq: Int64, previous: String, kind: EdgeEventKind = .serviceDoor) -> EdgeEvent {
                var e = EdgeEvent(
                    seq: seq, occurredAt: Int64(Date().timeIntervalSince1970 * 1000), kind: kind,
                    detail: ["open": "true"], previousHash: previous)
                e.hash = EdgeJournalHash.hash(previous: previous, event: e)
                return e
            }
            let e1 = event(1, previous: EdgeEvent.genesisHash)
            let before = try await world.counts().audit
            #expect(try await edges.apply(unitId: world.unit, event: e1, photo: nil).isNew)
            #expect(try await edges.apply(unitId: world.unit, event: e1, photo: nil).isNew == false)
            let after = try await world.counts().audit
            #expect(after == before + 1)
            // Event 2 never arrives: event 3 raises a gap alert.
            let e2 = event(2, previous: e1.hash)
            let e3 = event(3, previous: e2.hash)
            _ = try await edges.apply(unitId: world.unit, event: e3, photo: nil)
            var kinds = try await world.parts.store.read { s in try await s.alerts(unit: world.unit) }.map(\.kind)
            #expect(kinds == ["edge.sequence_gap"])
            // An event that does not continue the chain.
            let forged = event(4, previous: String(repeating: "1", count: 64))
            _ = try await edges.apply(unitId: world.unit, event: forged, photo: nil)
            kinds = try await world.parts.store.read { s in try await s.alerts(unit: world.unit) }.map(\.kind)
            #expect(kinds.contains("edge.chain_broken"))
            // A photo that is not what the event names is refused, and nothing is stored.
            let e5 = { () -> EdgeEvent in
                var e = EdgeEvent(
                    seq: 5, occurredAt: 1, kind: .codeRejected, detail: ["method": "pin"],
                    photoSHA256: String(repeating: "0", count: 64), previousHash: forged.hash)
                e.hash = EdgeJournalHash.hash(previous: forged.hash, event: e)
                return e
            }()
            await #expect(throws: DomainError.self) {
                _ = try await edges.apply(unitId: world.unit, event: e5, photo: Data([1, 2, 3]))
            }
            #expect(try await world.parts.store.read { s in try await s.deviceEvent(unit: world.unit, seq: 5) } == nil)
        }
    }

    /// Drops a parcel off at unit 0 through the API and waits until the unit's controller holds its code; returns the PIN.
    static func deposit(_ world: TestWorld, _ unit: TestUnit, tracking: String) async throws -> (
        pin: String, parcel: String
    ) {
        world.catchUpWithWallClock()
        let r = try await world.test { client in
            try await client.call(
                .post, "/api/v1/units/\(world.unit)/dropoffs", token: world.manifest.courierToken,
                json:
                    #"{"trackingNumber":"\#(tracking)","recipientId":"\#(world.manifest.recipients[0].id)","size":"S"}"#
            )
        }
        #expect(r.status == 201)
        let parcel = try #require(r.body.str("parcelId"))
        try await eventually("the parcel is deposited") {
            try await world.parts.store.read { s in try await s.parcel(parcel)?.state.rawValue } == "deposited"
        }
        try await world.parts.outbox.deliverDue()
        let pin = try #require(try world.notifications().last { $0["parcelId"] == parcel }?["pin"])
        try await eventually("the unit holds the new code") { await unit.controller.condition().liveCodes >= 1 }
        return (pin, parcel)
    }

    @Test(
        "a PIN opens its door while the server is unreachable; after the sync the parcel is picked up and the PIN is dead",
        arguments: Backend.available)
    func offlinePickup(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await Self.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            let (pin, parcel) = try await Self.deposit(world, unit, tracking: "OFF1")

            await unit.disconnect()
            #expect(!unit.link.isOnline)
            #expect(await unit.controller.pickup(code: "0000000000", method: .pin) == .rejected)
            let opened = await unit.controller.pickup(code: pin, method: .pin)
            guard opened.isOpened else {
                Issue.record("the PIN did not open its door offline: \(opened)")
                return
            }
            #expect(unit.bus.unlocks.count >= 2)
            // Used once at the unit, it is dead there at once.
            #expect(await unit.controller.pickup(code: pin, method: .pin) == .rejected)
            #expect(try await world.parts.store.read { s in try await s.parcel(parcel)?.state.rawValue } == "deposited")

            unit.connect()
            try await eventually("the server applied the offline pickup") {
                try await world.parts.store.read { s in try await s.parcel(parcel)?.state.rawValue } == "picked_up"
            }
            try await eventually("every journaled event is acknowledged") {
                let c = await unit.controller.condition()
                return c.journalAcked == c.journalSeq
            }
            // Nowhere else either: the API refuses the same PIN.
            let again = try await world.test { client in
                try await client.call(
                    .post, "/api/v1/units/\(world.unit)/pickups", token: world.device, json: #"{"code":"\#(pin)"}"#)
            }
            #expect(again.status == 403)
            let events = try await world.parts.store.read { s in try await s.auditEvents(parcel: parcel) }.map(\.type)
            #expect(events.contains("pickup.succeeded"))
            // The rejected code and the pickup both carry a still, stored by its SHA-256.
            let stored = try await world.parts.store.read { s in try await s.deviceEvents(unit: world.unit) }
            let withPhoto = stored.compactMap { try? JSONDecoder().decode(EdgeEvent.self, from: Data($0.body.utf8)) }
                .filter { $0.kind == .pickup }
            let sha = try #require(withPhoto.first?.photoSHA256)
            // The database holds the still sealed, naming the key it is sealed under; the API serves the JPEG.
            let row = try #require(try await world.parts.store.read { s in try await s.evidence(sha256: sha) })
            #expect(!row.bytes.starts(with: [0xFF, 0xD8]) && KeyedSealer.keyId(of: row.bytes) != nil)
            let served = try await world.test { client in
                try await client.call(.get, "/api/v1/evidence/\(sha)", token: world.manifest.adminToken)
            }
            #expect(served.status == 200)
            let photo = served.data
            #expect(photo.starts(with: [0xFF, 0xD8]))
            #expect(Hex.sha256(photo) == sha)
            // Nor does the unit's journal hold it in clear, in its file or its write-ahead log.
            for file in [unit.journalPath, unit.journalPath + "-wal"] {
                let bytes = FileManager.default.contents(atPath: file) ?? Data()
                #expect(bytes.range(of: photo.prefix(64)) == nil, "\(file) holds the still in clear")
            }
            #expect(try await unit.journal.verifyChain() == nil)
            await unit.stop()
            await listener.stop()
        }
    }

    @Test(
        "a tamper signal locks every board at once, offline too, and only an administrator's release opens the unit again",
        arguments: Backend.available)
    func tamperLockdown(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await Self.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            let (pin, _) = try await Self.deposit(world, unit, tracking: "TAMP1")

            await unit.disconnect()
            unit.bus.clearRecords()
            unit.sensors.raise(.tamper(.pry, detail: "test"))
            try await eventually("every board is locked") {
                Set(unit.bus.lockAlls.map(\.board)).isSuperset(of: [0, 1])
            }
            #expect(await unit.controller.condition().lockedDown)
            #expect(await unit.controller.pickup(code: pin, method: .pin) == .lockedDown)
            #expect(unit.bus.unlocks.isEmpty)

            unit.connect()
            try await eventually("the server holds the unit in lockdown") {
                try await world.parts.store.read { s in try await s.unit(world.unit)?.lockedDownAt } != nil
            }
            let alerts = try await world.parts.store.read { s in try await s.alerts(unit: world.unit) }.map(\.kind)
            #expect(alerts.contains("tamper"))
            // An open command during lockdown is refused and logged.
            world.catchUpWithWallClock()
            try await world.parts.edges.openDoorFromConsole(
                unitId: world.unit,
                compartmentId: try await world.parts.edges.state(unitId: world.unit).compartments[0].id,
                reason: .removal)
            try await eventually("the refused open is in the audit log") {
                try await world.parts.store.read { s in try await s.auditEvents(from: 0, limit: 1000) }.contains {
                    $0.type == "door.open_refused"
                }
            }
            #expect(unit.bus.unlocks.isEmpty)

            // Released from the server: the unit opens again.
            _ = try await world.parts.edges.releaseLockdownFromConsole(unitId: world.unit)
            try await eventually("the unit is released") { await !unit.controller.condition().lockedDown }
            let afterRelease = await unit.controller.pickup(code: pin, method: .pin)
            guard afterRelease.isOpened else {
                Issue.record(
                    "the PIN did not open after the release: \(afterRelease), \(await unit.controller.condition())")
                return
            }
            await unit.stop()
            await listener.stop()
        }
    }

    @Test(
        "a lock that does not answer takes its compartment out of service and raises an alert",
        arguments: Backend.available)
    func lockFault(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await Self.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            let state = try await world.parts.edges.state(unitId: world.unit)
            let onBoard1 = try #require(state.compartments.first { $0.board == 1 })
            unit.bus.setUnresponsive(board: 1)
            world.catchUpWithWallClock()
            try await world.parts.edges.openDoorFromConsole(
                unitId: world.unit, compartmentId: onBoard1.id, reason: .removal)
            try await eventually("the compartment is out of service") {
                try await world.parts.store.read { s in try await s.compartment(onBoard1.id)?.state.rawValue }
                    == "out_of_service"
            }
            let alerts = try await world.parts.store.read { s in try await s.alerts(unit: world.unit) }
            #expect(alerts.contains { $0.kind == "compartment_fault" && $0.compartmentId == onBoard1.id })
            // The unit learns it from the server's next state (an older state may still be on its way).
            try await eventually("the unit lists the compartment out of service") {
                await unit.controller.condition().outOfService == [onBoard1.label]
            }
            // Other boards still work.
            let onBoard0 = try #require(state.compartments.first { $0.board == 0 })
            world.catchUpWithWallClock()
            try await world.parts.edges.openDoorFromConsole(
                unitId: world.unit, compartmentId: onBoard0.id, reason: .removal)
            try await eventually("board 0 unlocks") { unit.bus.unlocks.contains { $0.address.board == 0 } }
            // Repaired: an administrator puts the compartment back in service, and the unit hears of it over the link.
            let back = try await world.test { c in
                try await c.call(
                    .post, "/api/v1/compartments/\(onBoard1.id)/service", token: world.manifest.adminToken,
                    json: #"{"inService":true}"#)
            }
            #expect(back.status == 200)
            try await eventually("the unit has the compartment back in service") {
                await unit.controller.condition().outOfService.isEmpty
            }
            await unit.stop()
            await listener.stop()
        }
    }

    @Test(
        "a lockdown ordered on the server locks every board at the unit, which confirms without a tamper of its own",
        arguments: Backend.available)
    func staffLockdownReachesTheUnit(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await Self.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            let (pin, _) = try await Self.deposit(world, unit, tracking: "STAFFLOCK1")
            unit.bus.clearRecords()
            world.catchUpWithWallClock()
            _ = try await world.parts.edges.lockDownFromConsole(unitId: world.unit, reason: "intrusion next door")
            try await eventually("every board is locked") {
                Set(unit.bus.lockAlls.map(\.board)).isSuperset(of: [0, 1])
            }
            #expect(await unit.controller.condition().lockedDown)
            #expect(await unit.controller.pickup(code: pin, method: .pin) == .lockedDown)
            try await eventually("the unit's confirmation is in the audit log") {
                try await world.parts.store.read { s in try await s.auditEvents(from: 0, limit: 1000) }.contains {
                    $0.type == "unit.locked_down_at_unit"
                }
            }
            let types = try await world.parts.store.read { s in try await s.auditEvents(from: 0, limit: 1000) }.map(
                \.type)
            #expect(!types.contains("unit.tamper"))
            #expect(unit.bus.unlocks.isEmpty)
            await unit.stop()
            await listener.stop()
        }
    }

    @Test(
        "a linked unit is seen however long it is quiet; cut off, it is reported offline, and its return resolves that",
        arguments: Backend.available)
    func offlineUnit(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await Self.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up on both ends") {
                unit.link.isOnline && world.parts.hub.connectedUnits.contains(world.unit)
            }
            let watch = UnitWatch(edges: world.parts.edges, offlineAfter: .seconds(300), logger: TestWorld.logger)
            world.clock.advance(400)
            #expect(try await watch.check().isEmpty)
            await unit.disconnect()
            try await eventually("the server lets the link go") {
                !world.parts.hub.connectedUnits.contains(world.unit)
            }
            world.clock.advance(301)
            #expect(try await watch.check() == [world.unit])
            unit.connect()
            try await eventually("the offline alert is resolved") {
                try await world.parts.store.read { s in try await s.alerts(unit: world.unit) }.contains {
                    $0.kind == "unit_offline" && $0.resolvedAt != nil
                }
            }
            await unit.stop()
            await listener.stop()
        }
    }

    @Test(
        "a storm of tamper signals from one unit is one alert that counts them; every signal is in the audit log",
        arguments: Backend.available)
    func tamperStorm(_ backend: Backend) async throws {
        try await TestWorld.with(backend, start: Date()) { world in
            let edges = world.parts.edges
            var previous = EdgeEvent.genesisHash
            for seq in Int64(1)...5 {
                var e = EdgeEvent(
                    seq: seq, occurredAt: Int64(Date().timeIntervalSince1970 * 1000), kind: .tamper,
                    detail: ["kind": "impact", "detail": "shaken", "first": String(seq == 1)], previousHash: previous)
                e.hash = EdgeJournalHash.hash(previous: previous, event: e)
                previous = e.hash
                #expect(try await edges.apply(unitId: world.unit, event: e, photo: nil).isNew)
            }
            let alerts = try await world.parts.store.read { s in try await s.alerts(unit: world.unit) }
            #expect(alerts.map(\.kind) == ["tamper"])
            #expect(alerts.first?.signals == 5)
            #expect(alerts.first?.lastSignalAt != nil)
            let tampers = try await world.parts.store.read { s in try await s.auditEvents(from: 0, limit: 1000) }.filter
            {
                $0.type == "unit.tamper"
            }
            #expect(tampers.count == 5)
            try await world.test { c in
                let r = try await c.call(.get, "/api/v1/alerts", token: world.manifest.adminToken)
                let listed = try #require(
                    (r.body["alerts"] as? [[String: Any]])?.first { $0["kind"] as? String == "tamper" })
                #expect(listed["signals"] as? Int == 5)
                #expect(listed["lastSignalAt"] is String)
            }
            // Resolved, the next signal is a new alert.
            let alert = try #require(alerts.first)
            _ = try await world.parts.store.write { s in try await s.resolveAlert(alert.id, by: "test", at: 1) }
            var e = EdgeEvent(
                seq: 6, occurredAt: Int64(Date().timeIntervalSince1970 * 1000), kind: .tamper,
                detail: ["kind": "pry", "detail": "again", "first": "false"], previousHash: previous)
            e.hash = EdgeJournalHash.hash(previous: previous, event: e)
            _ = try await edges.apply(unitId: world.unit, event: e, photo: nil)
            let after = try await world.parts.store.read { s in try await s.alerts(unit: world.unit) }
            #expect(after.filter { $0.resolvedAt == nil }.map(\.signals) == [1])
        }
    }

    @Test("concurrent appends to the journal are numbered without gaps and chained, and survive reopening")
    func journalConcurrentAppends() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-journal-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let journal = try await EdgeJournal.open(path: dir + "/journal.sqlite", logger: TestWorld.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask { try await journal.append(.mainsPower, detail: ["on": String(i % 2 == 0)]) }
            }
            try await group.waitForAll()
        }
        #expect(await journal.sequence == 200)
        #expect(try await journal.verifyChain() == nil)
        await journal.close()
        let reopened = try await EdgeJournal.open(path: dir + "/journal.sqlite", logger: TestWorld.logger)
        #expect(await reopened.sequence == 200)
        let next = try await reopened.append(.started)
        #expect(next.seq == 201)
        #expect(try await reopened.entries(after: 0, limit: 500).map(\.event.seq) == Array(1...201))
        await reopened.close()
    }
}

extension KioskPickupResult {
    var isOpened: Bool {
        if case .opened = self { return true }
        return false
    }
}
