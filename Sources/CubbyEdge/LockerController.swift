import Crypto
import CubbyCore
import CubbyCrypto
import CubbyDevices
import CubbyKiosk
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The controller of one locker unit: checks codes locally (online or offline), drives the lock
/// board, watches doors and sensors, locks the unit down on a tamper signal, carries out the server's
/// commands, and journals everything before it is sent.
public actor LockerController: KioskBackend {
    let journal: EdgeJournal
    let bus: any LockBus
    let camera: any Camera
    let logger: Logger
    var uplink: (any EdgeUplink)?

    /// The unit as the server last described it (kept in the journal for offline starts).
    var unit: EdgeUnitState?
    var lockedDown = false
    var pinEntry = PinEntryState()
    var used: Set<String> = []
    var doors: [LockAddress: Bool] = [:]
    /// Doors recently unlocked on purpose: an opening there is expected.
    var expectedOpen: [LockAddress: ContinuousClock.Instant] = [:]
    var executed: [String] = []
    var watchers: [Task<Void, Never>] = []
    /// The simulated bus, whose item sensors follow the server's parcels when the unit starts.
    var simulatedBus: SimulatedLockBus?
    var itemsSeeded = false

    /// How long after an unlock the door may open without being called forced.
    static let openGrace: Duration = .seconds(15)
    static let pollInterval: Duration = .milliseconds(100)

    public init(journal: EdgeJournal, bus: any LockBus, camera: any Camera, logger: Logger) {
        self.journal = journal
        self.bus = bus
        self.camera = camera
        self.logger = logger
    }

    /// Loads what the journal kept, records the start, and begins watching doors and sensors.
    public func start(uplink: (any EdgeUplink)?, sensors: (any SensorPanel)?) async throws {
        self.uplink = uplink
        if let text = try await journal.get("unitState") {
            unit = try? JSONDecoder().decode(EdgeUnitState.self, from: Data(text.utf8))
        }
        lockedDown = try await journal.get("lockedDown") == "true"
        if let text = try await journal.get("pinEntry") {
            pinEntry = (try? JSONDecoder().decode(PinEntryState.self, from: Data(text.utf8))) ?? PinEntryState()
        }
        used = try await journal.usedParcels()
        if lockedDown { await lockAllBoards() }
        try await record(.started, detail: ["lockedDown": String(lockedDown)])
        watchers.append(Task { await self.watchDoors() })
        if let sensors {
            watchers.append(
                Task {
                    for await signal in sensors.signals { await self.sensed(signal) }
                })
        }
    }

    /// Runs on simulated hardware: compartments holding parcels get their item sensors set from the server's state.
    public func simulate(on bus: SimulatedLockBus) {
        simulatedBus = bus
    }

    public func stop() {
        for w in watchers { w.cancel() }
        watchers.removeAll()
    }

    /// Journals an event (after it is on disk the uplink is woken).
    @discardableResult
    func record(
        _ kind: EdgeEventKind, compartmentId: String? = nil, parcelId: String? = nil, detail: [String: String] = [:],
        photo: Data? = nil
    ) async throws -> EdgeEvent {
        let event = try await journal.append(
            kind, compartmentId: compartmentId, parcelId: parcelId, detail: detail, photo: photo)
        uplink?.eventsAppended()
        return event
    }

    func still(_ caption: String) async -> Data? {
        try? await camera.still(caption: caption, at: Date())
    }

    var online: Bool { uplink?.isOnline ?? false }

    // MARK: state from the server

    /// Takes the server's description of the unit: its compartments, live codes and keys.
    public func apply(state: EdgeUnitState) async {
        unit = state
        if let sim = simulatedBus, !itemsSeeded {
            itemsSeeded = true
            for code in state.codes {
                if let c = state.compartments.first(where: { $0.id == code.compartmentId }) {
                    sim.setItem(LockAddress(board: c.board, channel: c.channel), present: true)
                }
            }
        }
        if let data = try? JSONEncoder().encode(state) {
            try? await journal.set("unitState", String(decoding: data, as: UTF8.self))
        }
        let dead = used.subtracting(state.codes.map(\.parcelId))
        if (try? await journal.forgetUsed(dead)) != nil { used.subtract(dead) }
        // The state's lockdown flag is informational: a state sent before a release may arrive after it, so
        // only the `lockdown` and `release` commands (stored and acknowledged in order) change the unit's lockdown.
    }

    func linkChanged(up: Bool) async {
        try? await record(.network, detail: ["up": String(up)])
    }

    // MARK: kiosk

    /// The unit's condition for operators and tests.
    public struct Condition: Codable, Sendable {
        public var unitId: String?
        public var lockedDown: Bool
        public var online: Bool
        public var liveCodes: Int
        public var journalSeq: Int64
        public var journalAcked: Int64
        public var outOfService: [String]
    }

    public func condition() async -> Condition {
        Condition(
            unitId: unit?.unitId, lockedDown: lockedDown, online: online, liveCodes: unit?.codes.count ?? 0,
            journalSeq: await journal.sequence, journalAcked: await journal.acknowledged,
            outOfService: unit?.compartments.filter(\.outOfService).map(\.label) ?? [])
    }

    public func status() async -> KioskStatus {
        KioskStatus(
            unitName: unit?.unitName ?? "Cubby locker", lockedDown: lockedDown, online: online,
            pinLength: unit?.pinPolicy.pinLength ?? 10)
    }

    public func pickup(code raw: String, method: KioskCodeMethod) async -> KioskPickupResult {
        let code = PresentedCode(raw)
        guard !lockedDown else {
            try? await record(.openRefused, detail: ["reason": "lockdown", "via": "kiosk"])
            return .lockedDown
        }
        guard let unit else { return .rejected }
        let now = Date()
        let nowMs = now.millisecondsSince1970
        let digits: String
        switch code {
        case .qr(let token):
            if let match = matchQR(token, unit: unit, nowMs: nowMs) { return await open(match, method: "qr") }
            return await rejected(method: "qr")
        case .pin(let typed):
            digits = typed
        }
        let methodName = method.rawValue
        let limiter = PinEntryLimiter(policy: unit.pinPolicy)
        let failures = ((try? await journal.pinFailures(since: nowMs - PickupCodeRules.failureWindow)) ?? []).map {
            Date(millisecondsSince1970: $0)
        }
        if case .lockedOut(let retry, let reason) = limiter.decide(state: pinEntry, recentFailures: failures, now: now)
        {
            try? await record(
                .codeLockedOut,
                detail: pinEntry.report.merging(["method": methodName, "reason": reason.rawValue]) { _, new in new })
            return .lockedOut(retryAfterSeconds: max(1, Int(retry.components.seconds)))
        }
        if let match = matchPIN(digits, unit: unit, nowMs: nowMs) {
            let before = pinEntry
            pinEntry = limiter.afterSuccess(state: before)
            if pinEntry != before { await savePinEntry() }
            return await open(match, method: methodName)
        }
        try? await journal.recordPinFailure(at: nowMs)
        pinEntry = limiter.afterFailure(state: pinEntry, failuresInWindow: failures.count + 1, now: now)
        await savePinEntry()
        return await rejected(method: methodName, pinEntry: pinEntry)
    }

    /// The unit's own PIN-entry limiter state.
    public func pinEntryState() -> PinEntryState { pinEntry }

    func savePinEntry() async {
        if let data = try? JSONEncoder().encode(pinEntry) {
            try? await journal.set("pinEntry", String(decoding: data, as: UTF8.self))
        }
    }

    /// The unit's live codes as the shared code rules see them.
    static func liveCodes(_ unit: EdgeUnitState) -> [LivePickupCode] {
        unit.codes.compactMap { code in
            guard let hash = Data(base64Encoded: code.pinHash) else { return nil }
            return LivePickupCode(
                parcelId: code.parcelId, compartmentId: code.compartmentId, pinHash: [UInt8](hash),
                qrNonce: code.qrNonce,
                expiresAt: code.expiresAt)
        }
    }

    func matchPIN(_ digits: String, unit: EdgeUnitState, nowMs: Int64) -> LivePickupCode? {
        guard let key = UnitPinKey(base64: unit.pinKey) else { return nil }
        let used = self.used
        return PickupCodeRules(pinLength: unit.pinPolicy.pinLength).matchPIN(
            digits, hash: key.hash(pin: digits), among: Self.liveCodes(unit), now: nowMs
        ) { !used.contains($0.parcelId) }
    }

    func matchQR(_ token: String, unit: EdgeUnitState, nowMs: Int64) -> LivePickupCode? {
        func signer(_ base64: String) -> QRTokenSigner? {
            guard let raw = Data(base64Encoded: base64),
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
            else { return nil }
            return QRTokenSigner(publicKey: key)
        }
        guard let current = signer(unit.qrPublicKey) else { return nil }
        // Tokens signed by a key rotated out stay good here until its overlap ends, as at the server.
        let earlier = (unit.qrEarlierKeys ?? []).compactMap { k in signer(k.publicKey).map { (key: $0, until: k.until) }
        }
        let rules = PickupCodeRules(pinLength: unit.pinPolicy.pinLength)
        guard
            let claims = rules.verifyQR(
                token, keys: QRKeySet(current: current, earlier: earlier), unitId: unit.unitId, now: nowMs)
        else {
            return nil
        }
        let used = self.used
        return rules.matchQR(claims, among: Self.liveCodes(unit), now: nowMs) { !used.contains($0.parcelId) }
    }

    /// A code was refused; a refused PIN's event carries the unit's PIN-entry state after it.
    func rejected(method: String, pinEntry: PinEntryState? = nil) async -> KioskPickupResult {
        let photo = await still("code rejected")
        let detail = (pinEntry?.report ?? [:]).merging(["method": method, "offline": String(!online)]) { _, new in new }
        try? await record(.codeRejected, detail: detail, photo: photo)
        return .rejected
    }

    /// A code matched: journal the pickup (on disk first), mark the code used, then open the door.
    func open(_ code: LivePickupCode, method: String) async -> KioskPickupResult {
        guard let compartment = unit?.compartments.first(where: { $0.id == code.compartmentId }) else {
            return .rejected
        }
        let photo = await still("pickup \(compartment.label)")
        let nowMs = Date().millisecondsSince1970
        do {
            try await record(
                .pickup, compartmentId: compartment.id, parcelId: code.parcelId,
                detail: ["method": method, "offline": String(!online)], photo: photo)
            try await journal.markUsed(parcelId: code.parcelId, at: nowMs)
            used.insert(code.parcelId)
        } catch {
            logger.error("pickup not journaled; door stays shut", metadata: ["error": "\(error)"])
            return .rejected
        }
        guard await unlock(compartment) else { return .rejected }
        return .opened(compartmentLabel: compartment.label)
    }

    /// Unlocks a compartment; a lock that does not answer takes the compartment out of service with an alert.
    func unlock(_ compartment: EdgeCompartment) async -> Bool {
        let address = LockAddress(board: compartment.board, channel: compartment.channel)
        expectedOpen[address] = .now
        do {
            try await bus.unlock(address)
            return true
        } catch {
            expectedOpen[address] = nil
            markOutOfService(compartment.id)
            _ = try? await record(.compartmentFault, compartmentId: compartment.id, detail: ["problem": "\(error)"])
            return false
        }
    }

    func markOutOfService(_ id: String) {
        guard var u = unit, let i = u.compartments.firstIndex(where: { $0.id == id }) else { return }
        u.compartments[i].outOfService = true
        unit = u
    }

    public func courierSignIn(credential: String) async -> KioskCourier? {
        guard !lockedDown, credential.hasPrefix("cby_courier_"), let uplink,
            let name = await uplink.courierCheck(token: credential)
        else { return nil }
        return KioskCourier(handle: credential, displayName: name)
    }

    public func dropoff(courier: KioskCourier, trackingNumber: String, recipientId: String, size: String) async
        -> KioskDropoffResult
    {
        guard !lockedDown else { return .lockedDown }
        guard let uplink, uplink.isOnline else { return .offline }
        return await uplink.dropoff(
            token: courier.handle, trackingNumber: trackingNumber, recipientId: recipientId, size: size)
    }

    public func courierSignOut(_ courier: KioskCourier) async {}

    // MARK: commands

    /// Carries out a server command once; returns the outcome sent back.
    public func execute(_ command: EdgeCommand) async -> String {
        if executed.contains(command.id) { return "done" }
        executed.append(command.id)
        if executed.count > 500 { executed.removeFirst(100) }
        let outcome: String
        // What the acknowledgement carries besides the outcome.
        var report: [String: String] = [:]
        switch command.kind {
        case .open:
            if Date().millisecondsSince1970 > command.expiresAt {
                outcome = "expired"
            } else if lockedDown {
                try? await record(
                    .openRefused, compartmentId: command.compartmentId,
                    detail: ["reason": "lockdown", "commandId": command.id])
                outcome = "refused"
            } else if let c = unit?.compartments.first(where: { $0.id == command.compartmentId }) {
                outcome = await unlock(c) ? "done" : "fault"
            } else {
                outcome = "unknown_compartment"
            }
        case .lockdown:
            // Staff locked the unit down from the server: every board locks now; no tamper is journaled, since none
            // was sensed. The command's done event is the unit's confirmation.
            lockedDown = true
            await lockAllBoards()
            try? await journal.set("lockedDown", "true")
            outcome = "done"
        case .resumePinEntry:
            if Date().millisecondsSince1970 > command.expiresAt {
                outcome = "expired"
            } else {
                if let unit { pinEntry = PinEntryLimiter(policy: unit.pinPolicy).afterResume(state: pinEntry) }
                await savePinEntry()
                // The server takes this state as the unit's own, after every refused code journaled before it.
                report = pinEntry.report
                outcome = "done"
            }
        case .release:
            if lockedDown {
                lockedDown = false
                try? await journal.set("lockedDown", "false")
                try? await record(.lockdownReleased, detail: ["commandId": command.id])
            }
            outcome = "done"
        }
        try? await record(
            .commandDone, compartmentId: command.compartmentId,
            detail: report.merging(["commandId": command.id, "kind": command.kind.rawValue, "outcome": outcome]) {
                _, new in new
            })
        return outcome
    }

    // MARK: lockdown

    /// Locks every compartment now (no round trip), then journals the tamper signal with a still.
    public func lockDown(kind: String, detail: String, compartmentId: String?) async {
        let first = !lockedDown
        lockedDown = true
        await lockAllBoards()
        try? await journal.set("lockedDown", "true")
        let photo = await still("tamper \(kind)")
        try? await record(
            .tamper, compartmentId: compartmentId,
            detail: ["kind": kind, "detail": String(detail.prefix(200)), "first": String(first)], photo: photo)
    }

    func lockAllBoards() async {
        let boards = Set((unit?.compartments ?? []).map(\.board)).union([0])
        // Every board at once; a board that does not answer keeps its latches as they are.
        await withTaskGroup(of: Void.self) { group in
            for board in boards {
                group.addTask { [bus] in try? await bus.lockAll(board: board) }
            }
        }
        expectedOpen.removeAll()
    }

    func sensed(_ signal: SensorSignal) async {
        switch signal {
        case .tamper(let kind, let detail):
            await lockDown(kind: kind.rawValue, detail: detail, compartmentId: nil)
        case .serviceDoor(let open):
            try? await record(.serviceDoor, detail: ["open": String(open)])
        case .mainsPower(let on):
            try? await record(.mainsPower, detail: ["on": String(on)])
        case .network(let up):
            try? await record(.network, detail: ["up": String(up), "source": "sensor"])
        }
    }

    // MARK: doors

    /// Polls lock and item sensors; reports doors opening and closing, and calls an unexpected opening a forced door.
    func watchDoors() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.pollInterval)
            await pollDoors()
        }
    }

    func pollDoors() async {
        guard let unit else { return }
        for board in Set(unit.compartments.map(\.board)).sorted() {
            guard let locked = try? await bus.lockStates(board: board) else { continue }
            var items: [Bool]? = nil
            for c in unit.compartments where c.board == board && Int(c.channel) <= locked.count {
                let address = LockAddress(board: board, channel: c.channel)
                let isLocked = locked[Int(c.channel) - 1]
                let was = doors[address] ?? true
                doors[address] = isLocked
                guard was != isLocked else { continue }
                if !isLocked {
                    if let at = expectedOpen[address], ContinuousClock.now - at < Self.openGrace {
                        try? await record(.doorOpened, compartmentId: c.id)
                    } else {
                        await lockDown(
                            kind: TamperKind.forcedDoor.rawValue,
                            detail: "compartment \(c.label) opened without an unlock", compartmentId: c.id)
                    }
                } else {
                    expectedOpen[address] = nil
                    if items == nil { items = try? await bus.itemStates(board: board) }
                    let item = items.map { Int(c.channel) <= $0.count ? $0[Int(c.channel) - 1] : false } ?? false
                    let photo = await still("closed \(c.label)")
                    try? await record(
                        .doorClosed, compartmentId: c.id, detail: ["itemPresent": String(item)], photo: photo)
                }
            }
        }
    }
}
