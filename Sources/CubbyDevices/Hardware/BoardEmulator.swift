import Dispatch
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Up to four lock boards answering Cubby's lock protocol on a serial device: the far end of a
/// pseudo-terminal pair, for tests and for running cubby-edge against a fake bus.
///
/// The emulator does not model doors: a channel reads unlatched from its unlock until `close(_:)`, its
/// auto-close or a lock-all. Faults can be switched on per board, and every request received is recorded with
/// its arrival time, so tests can count tries.
public final class BoardEmulator: Sendable {
    /// A way to spoil the next replies of a board.
    public enum ReplyFault: Sendable, Hashable, CaseIterable {
        /// The checksum byte is wrong.
        case badChecksum
        /// Only the first five bytes are sent.
        case truncated
        /// Noise bytes are sent instead of the reply.
        case noise
        /// Noise bytes are sent, then the good reply (a driver must still accept it).
        case noiseBeforeReply
        /// The reply names another board.
        case wrongAddress
        /// The reply answers another command.
        case wrongCommand
    }

    /// A request the emulator read from the line.
    public struct ReceivedFrame: Sendable, Hashable {
        /// The request as decoded.
        public var request: LockRequest
        /// When it was decoded.
        public var at: ContinuousClock.Instant
    }

    private let shared: Shared
    private let runner: Runner

    /// Opens `path` (raw 8N1 at `baudRate`) and starts answering as the boards at `boards` (0…3).
    public init(
        path: String,
        boards: Set<UInt8> = [0, 1, 2, 3],
        baudRate: Int = 9600,
        autoCloseAfter: Duration? = nil
    ) throws(LockBusError) {
        guard !boards.isEmpty, boards.allSatisfy(SerialLockBus.boardAddresses.contains) else {
            throw .device("emulated boards must have addresses 0…3, got \(boards.sorted())")
        }
        let port = try SerialPort(path: path, baudRate: baudRate)
        shared = Shared(boards: boards, autoCloseAfter: autoCloseAfter)
        runner = try Runner(port: port, shared: shared)
        let runner = runner
        startDetachedThread { runner.run() }
    }

    deinit {
        stop()
    }

    /// Stops answering and closes the device. Waits for the emulator's thread to finish.
    public func stop() {
        runner.stop()
    }

    // MARK: Channel state

    /// Whether the channel's latch holds.
    public func isLocked(_ address: LockAddress) -> Bool {
        shared.state.withLock { state in
            state.settle(now: .now)
            return state.boards[address.board]?.locked[Int(address.channel) - 1] ?? true
        }
    }

    /// Whether the channel's item sensor sees something.
    public func hasItem(_ address: LockAddress) -> Bool {
        shared.state.withLock { $0.boards[address.board]?.items[Int(address.channel) - 1] ?? false }
    }

    /// The door is pushed shut: the channel latches again.
    public func close(_ address: LockAddress) {
        shared.state.withLock { state in
            state.boards[address.board]?.locked[Int(address.channel) - 1] = true
            state.boards[address.board]?.autoCloseAt[Int(address.channel) - 1] = nil
        }
    }

    /// Puts an item into the compartment or takes it out.
    public func setItem(_ address: LockAddress, present: Bool) {
        shared.state.withLock { $0.boards[address.board]?.items[Int(address.channel) - 1] = present }
    }

    /// The latch gives way without a command (a forced door).
    public func forceOpen(_ address: LockAddress) {
        shared.state.withLock { state in
            state.boards[address.board]?.locked[Int(address.channel) - 1] = false
            state.boards[address.board]?.autoCloseAt[Int(address.channel) - 1] = nil
        }
    }

    // MARK: Faults

    /// A silent board receives requests but never answers (a cut cable, a dead board, a wrong DIP switch).
    public func setSilent(board: UInt8, _ silent: Bool = true) {
        shared.state.withLock { $0.boards[board]?.faults.silent = silent }
    }

    /// A refusing board answers every request with the refused status and does nothing.
    public func setRefusing(board: UInt8, _ refusing: Bool = true) {
        shared.state.withLock { $0.boards[board]?.faults.refusing = refusing }
    }

    /// Holds each of the board's replies back for `delay`.
    public func setReplyDelay(board: UInt8, _ delay: Duration) {
        shared.state.withLock { $0.boards[board]?.faults.replyDelay = delay }
    }

    /// Spoils the board's next `count` replies with `fault` (queued behind faults already pending).
    public func spoilNextReplies(board: UInt8, with fault: ReplyFault, count: Int = 1) {
        shared.state.withLock { state in
            state.boards[board]?.faults.pending.append(contentsOf: repeatElement(fault, count: max(0, count)))
        }
    }

    // MARK: Records

    /// Every request received so far, in order.
    public var receivedFrames: [ReceivedFrame] {
        shared.state.withLock { $0.received }
    }

    /// The requests received so far for one board.
    public func receivedFrames(board: UInt8) -> [ReceivedFrame] {
        shared.state.withLock { $0.received.filter { $0.request.board == board } }
    }

    /// The requests received since the last call, forgetting them: for a long-running emulator that
    /// reports what it hears without keeping it all.
    public func takeReceivedFrames() -> [ReceivedFrame] {
        shared.state.withLock { state in
            defer { state.received.removeAll(keepingCapacity: true) }
            return state.received
        }
    }

    /// Bytes or frames the emulator's decoder dropped (noise, bad checksums).
    public var garbledFrames: Int {
        shared.state.withLock { $0.garbledFrames }
    }
}

// MARK: - Internals

extension BoardEmulator {
    fileprivate struct Faults {
        var silent = false
        var refusing = false
        var replyDelay: Duration = .zero
        var pending: [ReplyFault] = []
    }

    fileprivate struct Board {
        var locked = [Bool](repeating: true, count: 16)
        var items = [Bool](repeating: false, count: 16)
        var autoCloseAt = [ContinuousClock.Instant?](repeating: nil, count: 16)
        var faults = Faults()
    }

    fileprivate struct State {
        var boards: [UInt8: Board]
        var autoCloseAfter: Duration?
        var received: [ReceivedFrame] = []
        var garbledFrames = 0
        var stopping = false

        /// Latches the channels whose auto-close time has come.
        mutating func settle(now: ContinuousClock.Instant) {
            for address in boards.keys {
                for index in 0..<16 {
                    if let due = boards[address]!.autoCloseAt[index], due <= now {
                        boards[address]!.locked[index] = true
                        boards[address]!.autoCloseAt[index] = nil
                    }
                }
            }
        }

        /// Records `request` and works out the bytes to answer with and when; nil for no answer.
        mutating func handle(_ request: LockRequest, now: ContinuousClock.Instant) -> (
            bytes: [UInt8], due: ContinuousClock.Instant
        )? {
            received.append(ReceivedFrame(request: request, at: now))
            settle(now: now)
            guard var board = boards[request.board], !board.faults.silent else { return nil }
            defer { boards[request.board] = board }

            var reply = LockReply(answering: request, status: .ok)
            if board.faults.refusing {
                reply.status = .refused
            } else {
                switch request.command {
                case .unlock:
                    if SerialLockBus.channelNumbers.contains(request.channel) {
                        let index = Int(request.channel) - 1
                        board.locked[index] = false
                        board.autoCloseAt[index] = autoCloseAfter.map { now + $0 }
                    } else {
                        reply.status = .refused
                    }
                case .readLocks:
                    reply.data = LockFrame.bitmap(from: board.locked)
                case .readItems:
                    reply.data = LockFrame.bitmap(from: board.items)
                case .lockAll:
                    board.locked = [Bool](repeating: true, count: 16)
                    board.autoCloseAt = [ContinuousClock.Instant?](repeating: nil, count: 16)
                }
            }

            var bytes = reply.bytes
            if !board.faults.pending.isEmpty {
                bytes = Self.spoil(reply, bytes, with: board.faults.pending.removeFirst())
            }
            return (bytes, now + board.faults.replyDelay)
        }

        private static let noise: [UInt8] = [0xFF, 0x02, 0x09, 0x55, 0xAA, 0x00, 0x7E]

        private static func spoil(_ reply: LockReply, _ bytes: [UInt8], with fault: ReplyFault) -> [UInt8] {
            switch fault {
            case .badChecksum:
                var spoiled = bytes
                spoiled[spoiled.count - 1] ^= 0x5A
                return spoiled
            case .truncated:
                return Array(bytes.prefix(5))
            case .noise:
                return noise
            case .noiseBeforeReply:
                return noise + bytes
            case .wrongAddress:
                var other = reply
                other.board = (reply.board + 1) & 0x03
                return other.bytes
            case .wrongCommand:
                var other = reply
                let all = LockCommand.allCases
                other.command = all[(all.firstIndex(of: reply.command)! + 1) % all.count]
                return other.bytes
            }
        }
    }

    /// The boards' state, shared by the emulator's thread and its callers.
    fileprivate final class Shared: Sendable {
        let state: Mutex<State>

        init(boards: Set<UInt8>, autoCloseAfter: Duration?) {
            state = Mutex(
                State(
                    boards: Dictionary(uniqueKeysWithValues: boards.map { ($0, Board()) }),
                    autoCloseAfter: autoCloseAfter
                ))
        }
    }

    /// The emulator's thread: reads requests, sends replies when they are due.
    ///
    /// `@unchecked Sendable` is safe because `port`, `decoder` and `outgoing` are used only by the thread
    /// running `run()`; other threads only call `stop()`, which touches the `Mutex`-guarded state, writes to
    /// the wake-up pipe (a system call, safe from any thread) and waits on a semaphore. The pipe is closed
    /// only in `deinit`, so it is still open whenever `stop()` writes to it, even after `run()` has ended.
    fileprivate final class Runner: @unchecked Sendable {
        private let port: SerialPort
        private let shared: Shared
        private let wakeRead: Int32
        private let wakeWrite: Int32
        private let finished = DispatchSemaphore(value: 0)
        private var decoder = LockFrameDecoder()
        private var outgoing: [(bytes: [UInt8], due: ContinuousClock.Instant)] = []

        init(port: SerialPort, shared: Shared) throws(LockBusError) {
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else {
                throw .device("board emulator: cannot create a pipe: \(String(cString: strerror(errno)))")
            }
            self.port = port
            self.shared = shared
            wakeRead = fds[0]
            wakeWrite = fds[1]
        }

        deinit {
            closeDescriptor(wakeRead)
            closeDescriptor(wakeWrite)
        }

        func stop() {
            let first = shared.state.withLock { state in
                defer { state.stopping = true }
                return !state.stopping
            }
            guard first else { return }
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
            finished.wait()
        }

        func run() {
            defer {
                port.close()
                finished.signal()
            }
            while !shared.state.withLock({ $0.stopping }) {
                sendDueReplies()
                var entries = [
                    pollfd(fd: port.fileDescriptor, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                ]
                let timeout: Int32
                if let next = outgoing.map(\.due).min() {
                    timeout = Int32(clamping: max(0, (next - .now).roundedUpMilliseconds))
                } else {
                    timeout = -1
                }
                let ready = poll(&entries, 2, timeout)
                if ready < 0, errno != EINTR { return }
                if entries[1].revents != 0 { continue }
                if entries[0].revents & Int16(POLLIN) != 0 {
                    receive()
                } else if entries[0].revents != 0 {
                    // The bus end of the pseudo-terminal is not open: wait for it without spinning.
                    usleep(5_000)
                }
            }
        }

        private func receive() {
            let bytes: [UInt8]
            do {
                bytes = try port.read(until: .now)
            } catch {
                return
            }
            decoder.append(contentsOf: bytes)
            while let output = decoder.next() {
                switch output {
                case .rejected:
                    shared.state.withLock { $0.garbledFrames += 1 }
                case .frame(.reply):
                    continue
                case .frame(.request(let request)):
                    if let answer = shared.state.withLock({ $0.handle(request, now: .now) }) {
                        outgoing.append(answer)
                    }
                }
            }
            sendDueReplies()
        }

        private func sendDueReplies() {
            let now = ContinuousClock.now
            while let index = outgoing.firstIndex(where: { $0.due <= now }) {
                let reply = outgoing.remove(at: index)
                try? port.write(reply.bytes)
            }
        }
    }
}
