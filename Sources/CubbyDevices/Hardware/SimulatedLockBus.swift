import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Lock boards in memory, with a simulated person at every door: the demo's bus and most tests'.
///
/// An unlock releases the channel's latch. If `closeAfter` is set, a person then uses the compartment: after
/// that delay they put a parcel in (if it was empty) or take it out (if it held one) and push the door shut,
/// which latches it. A lock-all before that sends the person away: the latch holds again and nothing changes
/// inside. A forced door (`forceOpen(_:)`) stays open until `close(_:)`; lock-all cannot latch an open door.
public final class SimulatedLockBus: LockBus {
    /// What a channel's door and latch are doing.
    public enum ChannelState: Sendable, Hashable {
        /// Shut and latched.
        case locked
        /// Unlocked by command and not yet shut again; reads as unlatched.
        case released
        /// Open without a command (forced); reads as unlatched.
        case open
    }

    /// One unlock the bus carried out.
    public struct UnlockRecord: Sendable, Hashable {
        /// The channel unlocked.
        public var address: LockAddress
        /// When the unlock reached the bus.
        public var at: ContinuousClock.Instant
    }

    /// One lock-all the bus carried out.
    public struct LockAllRecord: Sendable, Hashable {
        /// The board locked.
        public var board: UInt8
        /// When the lock-all reached the bus.
        public var at: ContinuousClock.Instant
    }

    /// Boards on the bus, at addresses 0 up to `boardCount - 1`.
    public let boardCount: Int
    /// How long the simulated person keeps an unlocked door; nil: until the test calls `close(_:)`.
    public let closeAfter: Duration?

    private let state: Mutex<State>

    /// A bus of `boards` boards (1…4) with `channelsPerBoard` channels (1…16) each, every door shut and locked.
    ///
    /// - Parameter items: compartments that start with something in them.
    public init(
        boards: Int = 1,
        channelsPerBoard: Int = 16,
        closeAfter: Duration? = .seconds(2),
        items: Set<LockAddress> = []
    ) {
        precondition((1...4).contains(boards), "a bus holds 1…4 boards")
        precondition((1...16).contains(channelsPerBoard), "a board has 1…16 channels")
        boardCount = boards
        self.closeAfter = closeAfter
        var channels: [LockAddress: Channel] = [:]
        for board in 0..<boards {
            for channel in 1...channelsPerBoard {
                let address = LockAddress(board: UInt8(board), channel: UInt8(channel))
                channels[address] = Channel(item: items.contains(address))
            }
        }
        state = Mutex(State(channels: channels))
    }

    deinit {
        state.withLock { state in
            for channel in state.channels.values { channel.visit?.cancel() }
        }
    }

    // MARK: LockBus

    /// Releases the latch and, with `closeAfter` set, sends a person to use the compartment.
    public func unlock(_ address: LockAddress) async throws {
        let now = ContinuousClock.now
        try check(address)
        try state.withLock { state throws(LockBusError) in
            try state.checkResponsive(address.board)
            guard var channel = state.channels[address] else {
                throw LockBusError.invalidAddress(board: address.board, channel: address.channel)
            }
            state.unlocks.append(UnlockRecord(address: address, at: now))
            guard channel.state != .open else { return }
            channel.state = .released
            channel.visit?.cancel()
            channel.visitNumber &+= 1
            channel.visit = closeAfter.map { delay in
                let visit = channel.visitNumber
                return Task { [weak self] in
                    try? await Task.sleep(for: delay)
                    guard !Task.isCancelled else { return }
                    self?.finishVisit(at: address, visit: visit)
                }
            }
            state.channels[address] = channel
        }
    }

    /// Latches every released channel on the board, calls off their visits, and records the lock-all.
    public func lockAll(board: UInt8) async throws {
        let now = ContinuousClock.now
        try check(LockAddress(board: board, channel: 1))
        try state.withLock { state throws(LockBusError) in
            try state.checkResponsive(board)
            state.lockAlls.append(LockAllRecord(board: board, at: now))
            for (address, channel) in state.channels where address.board == board && channel.state == .released {
                channel.visit?.cancel()
                state.channels[address]?.visit = nil
                state.channels[address]?.state = .locked
            }
        }
    }

    /// `true` for each channel that is shut and latched (and for channels not wired).
    public func lockStates(board: UInt8) async throws -> [Bool] {
        try readBoard(board) { $0.state == .locked }
    }

    /// `true` for each compartment with something in it.
    public func itemStates(board: UInt8) async throws -> [Bool] {
        try readBoard(board) { $0.item }
    }

    // MARK: Hooks for tests and the demo

    /// A door opens without an unlock command, as a crowbar opens it. Returns when it happened.
    @discardableResult
    public func forceOpen(_ address: LockAddress) -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        state.withLock { state in
            guard state.channels[address] != nil else { return }
            state.channels[address]?.visit?.cancel()
            state.channels[address]?.visit = nil
            state.channels[address]?.state = .open
        }
        return now
    }

    /// Someone pushes the door shut: it latches. A pending simulated visit is called off.
    public func close(_ address: LockAddress) {
        state.withLock { state in
            guard state.channels[address] != nil else { return }
            state.channels[address]?.visit?.cancel()
            state.channels[address]?.visit = nil
            state.channels[address]?.state = .locked
        }
    }

    /// Puts something into a compartment, or takes it out, without touching the door.
    public func setItem(_ address: LockAddress, present: Bool) {
        state.withLock { $0.channels[address]?.item = present }
    }

    /// Makes a board stop answering (every call on it throws `.unresponsive`), or answer again.
    public func setUnresponsive(board: UInt8, _ unresponsive: Bool = true) {
        state.withLock { state in
            if unresponsive {
                state.unresponsiveBoards.insert(board)
            } else {
                state.unresponsiveBoards.remove(board)
            }
        }
    }

    /// The channel's state; `.locked` for a channel that is not wired.
    public func state(of address: LockAddress) -> ChannelState {
        state.withLock { $0.channels[address]?.state ?? .locked }
    }

    /// Whether the channel's latch holds.
    public func isLocked(_ address: LockAddress) -> Bool {
        state(of: address) == .locked
    }

    /// Whether the compartment holds something.
    public func hasItem(_ address: LockAddress) -> Bool {
        state.withLock { $0.channels[address]?.item ?? false }
    }

    /// Every unlock carried out, in order.
    public var unlocks: [UnlockRecord] {
        state.withLock { $0.unlocks }
    }

    /// Every lock-all carried out, in order.
    public var lockAlls: [LockAllRecord] {
        state.withLock { $0.lockAlls }
    }

    /// Forgets the unlock and lock-all records.
    public func clearRecords() {
        state.withLock { state in
            state.unlocks.removeAll()
            state.lockAlls.removeAll()
        }
    }

    // MARK: Internals

    private struct Channel {
        var state: ChannelState = .locked
        var item: Bool
        var visit: Task<Void, Never>?
        var visitNumber = 0
    }

    private struct State {
        var channels: [LockAddress: Channel]
        var unlocks: [UnlockRecord] = []
        var lockAlls: [LockAllRecord] = []
        var unresponsiveBoards: Set<UInt8> = []

        func checkResponsive(_ board: UInt8) throws(LockBusError) {
            if unresponsiveBoards.contains(board) {
                throw .unresponsive(board: board, attempts: 3, lastProblem: "no reply (simulated)")
            }
        }
    }

    /// Rejects addresses no bus has, and boards this bus lacks (as a real bus would: nobody answers).
    private func check(_ address: LockAddress) throws(LockBusError) {
        guard SerialLockBus.boardAddresses.contains(address.board),
            SerialLockBus.channelNumbers.contains(address.channel)
        else {
            throw .invalidAddress(board: address.board, channel: address.channel)
        }
        guard Int(address.board) < boardCount else {
            throw .unresponsive(board: address.board, attempts: 3, lastProblem: "no board at this address (simulated)")
        }
    }

    private func readBoard(_ board: UInt8, _ flag: (Channel) -> Bool) throws(LockBusError) -> [Bool] {
        try check(LockAddress(board: board, channel: 1))
        return try state.withLock { state throws(LockBusError) in
            try state.checkResponsive(board)
            return (1...16).map { channel in
                flag(state.channels[LockAddress(board: board, channel: UInt8(channel))] ?? Channel(item: false))
            }
        }
    }

    private func finishVisit(at address: LockAddress, visit: Int) {
        state.withLock { state in
            guard var channel = state.channels[address], channel.visitNumber == visit, channel.state == .released else {
                return
            }
            channel.item.toggle()
            channel.state = .locked
            channel.visit = nil
            state.channels[address] = channel
        }
    }
}
