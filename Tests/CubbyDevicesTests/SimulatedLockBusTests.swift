import CubbyDevices
import Testing

@Suite("Simulated lock bus")
struct SimulatedLockBusTests {
    let a = LockAddress(board: 0, channel: 3)

    @Test("a courier's visit: unlock, parcel in, door shut and latched")
    func depositVisit() async throws {
        let bus = SimulatedLockBus(boards: 1, closeAfter: .milliseconds(20))
        try await bus.unlock(a)
        #expect(bus.state(of: a) == .released)
        #expect(try await bus.lockStates(board: 0)[2] == false)

        try await waitUntil { bus.isLocked(a) }
        #expect(try await bus.lockStates(board: 0) == [Bool](repeating: true, count: 16))
        #expect(try await bus.itemStates(board: 0) == (1...16).map { $0 == 3 })
    }

    @Test("a recipient's visit takes the parcel out")
    func pickupVisit() async throws {
        let bus = SimulatedLockBus(
            boards: 2, closeAfter: .milliseconds(20), items: [LockAddress(board: 1, channel: 16)])
        let address = LockAddress(board: 1, channel: 16)
        #expect(try await bus.itemStates(board: 1)[15])
        try await bus.unlock(address)
        try await waitUntil { bus.isLocked(address) }
        #expect(!bus.hasItem(address))
        #expect(try await bus.itemStates(board: 1) == [Bool](repeating: false, count: 16))
    }

    @Test("without closeAfter the door stays unlatched until the test shuts it, and shutting changes no item")
    func manualClose() async throws {
        let bus = SimulatedLockBus(closeAfter: nil)
        try await bus.unlock(a)
        try await Task.sleep(for: .milliseconds(50))
        #expect(bus.state(of: a) == .released)
        bus.setItem(a, present: true)
        bus.close(a)
        #expect(bus.isLocked(a))
        #expect(bus.hasItem(a))
    }

    @Test("lock-all latches released channels, calls off the pending visit, and is recorded")
    func lockAllCancelsVisit() async throws {
        let bus = SimulatedLockBus(boards: 2, closeAfter: .milliseconds(300))
        let other = LockAddress(board: 1, channel: 3)
        try await bus.unlock(a)
        try await bus.unlock(other)
        try await bus.lockAll(board: 0)
        #expect(bus.isLocked(a))
        #expect(bus.state(of: other) == .released)

        try await Task.sleep(for: .milliseconds(600))
        #expect(!bus.hasItem(a), "the called-off visit must not put a parcel in")
        try await waitUntil { bus.isLocked(other) }
        #expect(bus.hasItem(other))
        #expect(bus.lockAlls.map(\.board) == [0])
    }

    @Test("a forced door reads unlatched, survives lock-all, and latches when shut")
    func forcedDoor() async throws {
        let bus = SimulatedLockBus(closeAfter: .milliseconds(10))
        let forcedAt = bus.forceOpen(a)
        #expect(bus.state(of: a) == .open)
        #expect(try await bus.lockStates(board: 0)[2] == false)

        try await bus.lockAll(board: 0)
        let record = try #require(bus.lockAlls.first)
        #expect(record.at >= forcedAt)
        #expect(bus.state(of: a) == .open)

        try await bus.unlock(a)
        try await Task.sleep(for: .milliseconds(50))
        #expect(bus.state(of: a) == .open, "an unlock does not shut a forced door")

        bus.close(a)
        #expect(try await bus.lockStates(board: 0)[2])
    }

    @Test("unlocks and lock-alls are logged in order with their instants")
    func records() async throws {
        let bus = SimulatedLockBus(boards: 4, closeAfter: nil)
        let before = ContinuousClock.now
        let addresses = (0..<4).map { LockAddress(board: UInt8($0), channel: UInt8(1 + $0)) }
        for address in addresses { try await bus.unlock(address) }
        for board in (0..<4).reversed() { try await bus.lockAll(board: UInt8(board)) }

        #expect(bus.unlocks.map(\.address) == addresses)
        #expect(bus.lockAlls.map(\.board) == [3, 2, 1, 0])
        let instants = bus.unlocks.map(\.at) + bus.lockAlls.map(\.at)
        #expect(instants.allSatisfy { $0 >= before })
        #expect(instants == instants.sorted())
        #expect(addresses.allSatisfy(bus.isLocked))

        bus.clearRecords()
        #expect(bus.unlocks.isEmpty && bus.lockAlls.isEmpty)
    }

    @Test("addresses off the bus are invalid; boards the bus lacks do not answer")
    func addressing() async throws {
        let bus = SimulatedLockBus(boards: 2, channelsPerBoard: 12)
        await #expect(throws: LockBusError.invalidAddress(board: 4, channel: 1)) {
            try await bus.unlock(LockAddress(board: 4, channel: 1))
        }
        await #expect(throws: LockBusError.invalidAddress(board: 0, channel: 0)) {
            try await bus.unlock(LockAddress(board: 0, channel: 0))
        }
        await #expect(throws: LockBusError.invalidAddress(board: 0, channel: 13)) {
            try await bus.unlock(LockAddress(board: 0, channel: 13))
        }
        await #expect(throws: LockBusError.self) { try await bus.lockStates(board: 2) }
        do {
            _ = try await bus.itemStates(board: 3)
            Issue.record("board 3 is not on a two-board bus")
        } catch let LockBusError.unresponsive(board, _, _) {
            #expect(board == 3)
        }
        #expect(try await bus.lockStates(board: 1) == [Bool](repeating: true, count: 16))
        #expect(bus.unlocks.isEmpty)
    }

    @Test("an unresponsive board fails every call until it answers again")
    func unresponsiveBoard() async throws {
        let bus = SimulatedLockBus(boards: 2, closeAfter: nil)
        bus.setUnresponsive(board: 1)
        await #expect(throws: LockBusError.self) { try await bus.unlock(LockAddress(board: 1, channel: 1)) }
        await #expect(throws: LockBusError.self) { try await bus.lockAll(board: 1) }
        try await bus.unlock(a)
        bus.setUnresponsive(board: 1, false)
        try await bus.unlock(LockAddress(board: 1, channel: 1))
        #expect(bus.unlocks.map(\.address) == [a, LockAddress(board: 1, channel: 1)])
    }

    private func waitUntil(_ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        // Generous: under a loaded test run the visit's task may wait long for a thread.
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within 60 s", sourceLocation: sourceLocation)
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
