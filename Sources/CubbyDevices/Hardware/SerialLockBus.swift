import Dispatch
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The lock boards on an RS-485 bus, driven through a serial device (docs/hardware.md has the protocol).
///
/// The bus is half-duplex, so one transaction runs at a time: a request, then its reply. A try fails when no
/// reply arrives in time, the reply is garbled, or a frame from another board or for another command comes
/// back; the request is then resent on a flushed line, up to `tries` times, before
/// `LockBusError.unresponsive` is thrown. The blocking serial calls run on a dispatch queue of their own, so
/// a slow or silent board never holds a thread of Swift's cooperative pool.
public final class SerialLockBus: LockBus {
    /// Counters since the bus was opened, for tests and for the unit's health report.
    public struct Statistics: Sendable, Equatable {
        /// Calls that reached the bus (invalid addresses never do).
        public var transactions = 0
        /// Requests written, first tries and retries together.
        public var tries = 0
        /// Requests written again after a failed try.
        public var retries = 0
        /// Tries that ended without an acceptable reply (silence, garbage, or the wrong frame).
        public var failedTries = 0
        /// Replies that were well formed but came from another board or answered another command.
        public var strayReplies = 0
        /// Frames or bytes the decoder dropped: noise, bad checksums, bad end bytes.
        public var garbledFrames = 0
        /// Replies with the refused status.
        public var refusals = 0
        /// Transactions that ended in `LockBusError.unresponsive`.
        public var unresponsive = 0

        /// All zero.
        public init() {}
    }

    /// Board addresses the DIP switches can set.
    public static let boardAddresses: ClosedRange<UInt8> = 0...3
    /// Channels on each board.
    public static let channelNumbers: ClosedRange<UInt8> = 1...16

    private let queue: DispatchQueue
    private let line: Line

    /// Opens the serial device and sets it to raw 8N1 at `baudRate`.
    ///
    /// - Parameters:
    ///   - replyTimeout: per try; at 9600 baud a reply takes about 10 ms on the wire, so the default leaves
    ///     ample room for a board's own processing time.
    ///   - tries: sends per request, at least 1.
    public init(
        path: String,
        baudRate: Int = 9600,
        replyTimeout: Duration = .milliseconds(150),
        tries: Int = 3
    ) throws(LockBusError) {
        guard replyTimeout > .zero else { throw .device("reply timeout must be positive") }
        guard tries >= 1 else { throw .device("a request needs at least one try") }
        self.line = Line(port: try SerialPort(path: path, baudRate: baudRate), replyTimeout: replyTimeout, tries: tries)
        self.queue = DispatchQueue(label: "cubby.lock-bus", qos: .userInitiated)
    }

    /// The counters so far.
    public var statistics: Statistics {
        line.statistics.withLock { $0 }
    }

    /// Sends the unlock frame and waits for the board's acknowledgement.
    public func unlock(_ address: LockAddress) async throws {
        try Self.validate(board: address.board, channel: address.channel)
        _ = try await transact(.unlock(address))
    }

    /// Sends the lock-all frame and waits for the board's acknowledgement.
    public func lockAll(board: UInt8) async throws {
        try Self.validate(board: board, channel: nil)
        _ = try await transact(.lockAll(board: board))
    }

    /// Asks the board for its lock-state bitmap; `true` is latched.
    public func lockStates(board: UInt8) async throws -> [Bool] {
        try Self.validate(board: board, channel: nil)
        return try await transact(.readLocks(board: board)).channelFlags
    }

    /// Asks the board for its item-sensor bitmap; `true` is something inside.
    public func itemStates(board: UInt8) async throws -> [Bool] {
        try Self.validate(board: board, channel: nil)
        return try await transact(.readItems(board: board)).channelFlags
    }

    /// Closes the serial device once the transaction in progress (if any) has ended.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [line] in
                line.port.close()
                continuation.resume()
            }
        }
    }

    /// Runs one transaction on the bus queue and returns the board's reply (status `ok`).
    private func transact(_ request: LockRequest) async throws(LockBusError) -> LockReply {
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<LockReply, LockBusError>, Never>) in
            queue.async { [line] in
                continuation.resume(returning: line.perform(request))
            }
        }
        return try result.get()
    }

    private static func validate(board: UInt8, channel: UInt8?) throws(LockBusError) {
        guard boardAddresses.contains(board), channel.map(channelNumbers.contains) ?? true else {
            throw .invalidAddress(board: board, channel: channel ?? 0)
        }
    }
}

extension SerialLockBus {
    /// The serial line and its decoder.
    ///
    /// `@unchecked Sendable` is safe because `port`, `decoder` and `writeBuffer` are touched only from the bus's
    /// serial dispatch queue (every use is inside a `queue.async` block), and `statistics` is a `Mutex`.
    fileprivate final class Line: @unchecked Sendable {
        let port: SerialPort
        let replyTimeout: Duration
        let tries: Int
        let statistics = Mutex(Statistics())
        private var decoder = LockFrameDecoder()
        private var writeBuffer: [UInt8]

        init(port: SerialPort, replyTimeout: Duration, tries: Int) {
            self.port = port
            self.replyTimeout = replyTimeout
            self.tries = tries
            writeBuffer = []
            writeBuffer.reserveCapacity(LockRequest.byteCount)
        }

        /// How one try ended.
        private enum TryOutcome {
            case answered(LockReply)
            case failed(String)
        }

        /// Sends `request` until a board answers it or the tries are used up. Blocks; call on the bus queue.
        func perform(_ request: LockRequest) -> Result<LockReply, LockBusError> {
            statistics.withLock { $0.transactions += 1 }
            var lastProblem = "no reply"
            for attempt in 1...tries {
                do throws(LockBusError) {
                    // A late reply to an earlier try (or transaction) must not pass for this one's.
                    try port.flushInput()
                    decoder.reset()
                    writeBuffer.removeAll(keepingCapacity: true)
                    request.encode(into: &writeBuffer)
                    try port.write(writeBuffer)
                    statistics.withLock {
                        $0.tries += 1
                        if attempt > 1 { $0.retries += 1 }
                    }
                    switch try awaitReply(to: request, deadline: .now + replyTimeout) {
                    case .answered(let reply) where reply.status == .refused:
                        statistics.withLock { $0.refusals += 1 }
                        return .failure(.refused(board: request.board, channel: request.channel))
                    case .answered(let reply):
                        return .success(reply)
                    case .failed(let problem):
                        statistics.withLock { $0.failedTries += 1 }
                        lastProblem = problem
                    }
                } catch {
                    return .failure(error)
                }
            }
            statistics.withLock { $0.unresponsive += 1 }
            return .failure(.unresponsive(board: request.board, attempts: tries, lastProblem: lastProblem))
        }

        /// Reads until a reply to `request` arrives, a frame that is not one arrives, or `deadline` passes.
        ///
        /// Garbage is skipped, since a good reply may still follow it; a well-formed wrong frame ends the try at
        /// once, since the board answers each request only once.
        private func awaitReply(to request: LockRequest, deadline: ContinuousClock.Instant) throws(LockBusError)
            -> TryOutcome
        {
            var problem: String?
            while true {
                let received = try port.read(until: deadline) { bytes throws(LockBusError) in
                    decoder.append(contentsOf: bytes)
                    return bytes.count
                }
                if received == 0 {
                    if let problem { return .failed(problem) }
                    if decoder.bufferedByteCount > 0 {
                        return .failed(
                            "incomplete reply (\(decoder.bufferedByteCount) of \(LockReply.byteCount) bytes)")
                    }
                    return .failed("no reply within \(replyTimeout.roundedUpMilliseconds) ms")
                }
                while let output = decoder.next() {
                    switch output {
                    case .rejected(let rejection):
                        statistics.withLock { $0.garbledFrames += 1 }
                        problem = "garbled reply: \(rejection)"
                    case .frame(.request):
                        // The adapter's echo of our own request.
                        continue
                    case .frame(.reply(let reply)):
                        if reply.answers(request) { return .answered(reply) }
                        statistics.withLock { $0.strayReplies += 1 }
                        return .failed("\(reply) instead of a reply to \(request)")
                    }
                }
            }
        }
    }
}
