#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A command the lock boards understand: the third byte of a request.
///
/// A reply carries the same command with bit 7 set, so a request echoed back by the RS-485 adapter is never
/// mistaken for a board's answer.
public enum LockCommand: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Pulse one channel's solenoid open.
    case unlock = 0x31
    /// Read the 16 lock-state inputs (set bit: latched).
    case readLocks = 0x32
    /// Read the 16 item sensors (set bit: something in the compartment).
    case readItems = 0x33
    /// Cancel every pending or held unlock on the board.
    case lockAll = 0x34

    /// The command byte of a reply to this command.
    public var replyByte: UInt8 { rawValue | 0x80 }

    /// Whether a request with this command names one channel (the others use channel 0, the whole board).
    public var addressesChannel: Bool { self == .unlock }

    /// The command's name, for logs.
    public var description: String {
        switch self {
        case .unlock: "unlock"
        case .readLocks: "read locks"
        case .readItems: "read items"
        case .lockAll: "lock all"
        }
    }
}

/// What a board says about a request: the fifth byte of a reply.
public enum LockReplyStatus: UInt8, Sendable, Hashable, CaseIterable {
    /// Done (ASCII ACK).
    case ok = 0x06
    /// Not done: the board will not act on this channel (ASCII NAK).
    case refused = 0x15
}

/// A frame from the controller to one board: `02 board command channel 03 checksum`.
public struct LockRequest: Sendable, Hashable, CustomStringConvertible {
    /// Number of bytes in every request.
    public static let byteCount = 6

    /// The board's DIP-switch address.
    public var board: UInt8
    /// What the board is asked to do.
    public var command: LockCommand
    /// The channel for `unlock`, 0 for the board-wide commands.
    public var channel: UInt8

    /// A request as given; `LockRequest.unlock(_:)` and its siblings build the usual ones.
    public init(board: UInt8, command: LockCommand, channel: UInt8) {
        self.board = board
        self.command = command
        self.channel = channel
    }

    /// Asks a board to pulse one channel open.
    public static func unlock(_ address: LockAddress) -> LockRequest {
        LockRequest(board: address.board, command: .unlock, channel: address.channel)
    }

    /// Asks a board for its 16 lock states.
    public static func readLocks(board: UInt8) -> LockRequest {
        LockRequest(board: board, command: .readLocks, channel: 0)
    }

    /// Asks a board for its 16 item sensors.
    public static func readItems(board: UInt8) -> LockRequest {
        LockRequest(board: board, command: .readItems, channel: 0)
    }

    /// Asks a board to drop every pending or held unlock.
    public static func lockAll(board: UInt8) -> LockRequest {
        LockRequest(board: board, command: .lockAll, channel: 0)
    }

    /// Appends the frame's bytes to `buffer` (no allocation when it has room).
    public func encode(into buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(LockFrame.startByte)
        buffer.append(board)
        buffer.append(command.rawValue)
        buffer.append(channel)
        buffer.append(LockFrame.endByte)
        buffer.append(LockFrame.checksum(buffer[start...]))
    }

    /// The frame's bytes.
    public var bytes: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.byteCount)
        encode(into: &buffer)
        return buffer
    }

    /// Reads as `unlock board 1 channel 5`.
    public var description: String { "\(command) board \(board) channel \(channel)" }
}

/// A frame from one board back to the controller: `02 board command|0x80 channel status dataHigh dataLow 03 checksum`.
public struct LockReply: Sendable, Hashable, CustomStringConvertible {
    /// Number of bytes in every reply.
    public static let byteCount = 9

    /// The answering board's address (echoed from the request).
    public var board: UInt8
    /// The command answered (the request's, sent with bit 7 set).
    public var command: LockCommand
    /// The request's channel, echoed.
    public var channel: UInt8
    /// Whether the board did it.
    public var status: LockReplyStatus
    /// The 16-channel bitmap for the read commands (bit 0 is channel 1), 0 otherwise.
    public var data: UInt16

    /// A reply as given.
    public init(board: UInt8, command: LockCommand, channel: UInt8, status: LockReplyStatus, data: UInt16 = 0) {
        self.board = board
        self.command = command
        self.channel = channel
        self.status = status
        self.data = data
    }

    /// The reply a board gives to `request`.
    public init(answering request: LockRequest, status: LockReplyStatus, data: UInt16 = 0) {
        self.init(board: request.board, command: request.command, channel: request.channel, status: status, data: data)
    }

    /// Whether this reply answers `request`: same board, command and channel.
    public func answers(_ request: LockRequest) -> Bool {
        board == request.board && command == request.command && channel == request.channel
    }

    /// The bitmap as 16 flags, index 0 being channel 1.
    public var channelFlags: [Bool] { LockFrame.flags(from: data) }

    /// Appends the frame's bytes to `buffer`.
    public func encode(into buffer: inout [UInt8]) {
        let start = buffer.count
        buffer.append(LockFrame.startByte)
        buffer.append(board)
        buffer.append(command.replyByte)
        buffer.append(channel)
        buffer.append(status.rawValue)
        buffer.append(UInt8(truncatingIfNeeded: data >> 8))
        buffer.append(UInt8(truncatingIfNeeded: data))
        buffer.append(LockFrame.endByte)
        buffer.append(LockFrame.checksum(buffer[start...]))
    }

    /// The frame's bytes.
    public var bytes: [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(Self.byteCount)
        encode(into: &buffer)
        return buffer
    }

    /// Reads as `reply to unlock from board 1 channel 5: ok`.
    public var description: String {
        "reply to \(command) from board \(board) channel \(channel): \(status == .ok ? "ok" : "refused")"
            + (data == 0 ? "" : " data 0x\(String(data, radix: 16))")
    }
}

/// One frame on the bus, in either direction.
public enum LockFrame: Sendable, Hashable {
    /// Controller to board.
    case request(LockRequest)
    /// Board to controller.
    case reply(LockReply)

    /// First byte of every frame (ASCII STX).
    public static let startByte: UInt8 = 0x02
    /// Second-to-last byte of every frame (ASCII ETX).
    public static let endByte: UInt8 = 0x03

    /// The checksum byte: XOR of every byte before it, start and end bytes included.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt8 {
        bytes.reduce(0, ^)
    }

    /// A bitmap from 16 per-channel flags (index 0 is channel 1, bit 0). Flags past 16 are ignored.
    public static func bitmap(from flags: [Bool]) -> UInt16 {
        var map: UInt16 = 0
        for (index, flag) in flags.prefix(16).enumerated() where flag {
            map |= 1 << UInt16(index)
        }
        return map
    }

    /// The 16 per-channel flags of a bitmap.
    public static func flags(from bitmap: UInt16) -> [Bool] {
        (0..<16).map { bitmap & (1 << UInt16($0)) != 0 }
    }

    /// The frame's bytes.
    public var bytes: [UInt8] {
        switch self {
        case .request(let request): request.bytes
        case .reply(let reply): reply.bytes
        }
    }
}

/// Why the decoder dropped bytes instead of returning a frame.
public enum LockFrameProblem: Sendable, Hashable, CustomStringConvertible {
    /// Bytes that did not start a frame (line noise, the tail of a broken frame).
    case noise(byteCount: Int)
    /// A start byte followed by a command byte no frame has.
    case unknownCommand(UInt8)
    /// The byte where the end byte belongs was something else: a truncated, overlong or misaligned frame.
    case badEndByte(UInt8)
    /// The checksum did not match the bytes before it.
    case badChecksum(expected: UInt8, found: UInt8)
    /// A reply whose status byte is neither ACK nor NAK.
    case unknownStatus(UInt8)

    /// A phrase for a try's last problem.
    public var description: String {
        switch self {
        case .noise(let count): "\(count) byte\(count == 1 ? "" : "s") of noise"
        case .unknownCommand(let byte): "unknown command byte 0x\(String(byte, radix: 16))"
        case .badEndByte(let byte): "end byte 0x\(String(byte, radix: 16)) instead of 0x03"
        case .badChecksum(let expected, let found):
            "bad checksum 0x\(String(found, radix: 16)) (expected 0x\(String(expected, radix: 16)))"
        case .unknownStatus(let byte): "unknown status byte 0x\(String(byte, radix: 16))"
        }
    }
}

/// Cuts a byte stream from the bus into frames, skipping noise and broken frames.
///
/// Feed it whatever a read returned, then call `next()` until it returns nil. Every frame has a fixed length
/// given by its command byte, so after a bad frame the decoder drops only its start byte and looks for the
/// next start byte: a real frame right behind garbage is still found.
public struct LockFrameDecoder: Sendable {
    /// What `next()` found.
    public enum Output: Sendable, Hashable {
        /// A well-formed frame.
        case frame(LockFrame)
        /// Bytes dropped, and why.
        case rejected(LockFrameProblem)
    }

    private var buffer: [UInt8] = []
    private var head = 0

    /// An empty decoder.
    public init() {
        buffer.reserveCapacity(64)
    }

    /// Bytes received and not yet decoded or dropped.
    public var bufferedByteCount: Int { buffer.count - head }

    /// Adds received bytes.
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Forgets every buffered byte (after the serial input was flushed).
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        head = 0
    }

    /// The next frame or rejection in the buffered bytes; nil when a frame needs more bytes (or none are left).
    public mutating func next() -> Output? {
        let available = buffer.count - head
        guard available > 0 else { return nil }

        var skipped = 0
        while head + skipped < buffer.count, buffer[head + skipped] != LockFrame.startByte {
            skipped += 1
        }
        if skipped > 0 {
            head += skipped
            return .rejected(.noise(byteCount: skipped))
        }

        guard available >= 3 else { return nil }
        let commandByte = buffer[head + 2]
        let isReply: Bool
        let command: LockCommand
        if let requestCommand = LockCommand(rawValue: commandByte) {
            isReply = false
            command = requestCommand
        } else if commandByte & 0x80 != 0, let replyCommand = LockCommand(rawValue: commandByte & 0x7F) {
            isReply = true
            command = replyCommand
        } else {
            head += 1
            return .rejected(.unknownCommand(commandByte))
        }

        let length = isReply ? LockReply.byteCount : LockRequest.byteCount
        guard available >= length else { return nil }

        let end = buffer[head + length - 2]
        guard end == LockFrame.endByte else {
            head += 1
            return .rejected(.badEndByte(end))
        }
        let expected = LockFrame.checksum(buffer[head..<(head + length - 1)])
        let found = buffer[head + length - 1]
        guard expected == found else {
            head += 1
            return .rejected(.badChecksum(expected: expected, found: found))
        }

        let board = buffer[head + 1]
        let channel = buffer[head + 3]
        if !isReply {
            head += length
            return .frame(.request(LockRequest(board: board, command: command, channel: channel)))
        }
        guard let status = LockReplyStatus(rawValue: buffer[head + 4]) else {
            let statusByte = buffer[head + 4]
            head += 1
            return .rejected(.unknownStatus(statusByte))
        }
        let data = UInt16(buffer[head + 5]) << 8 | UInt16(buffer[head + 6])
        head += length
        return .frame(.reply(LockReply(board: board, command: command, channel: channel, status: status, data: data)))
    }

    private mutating func compact() {
        if head == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 256 {
            buffer.removeFirst(head)
            head = 0
        }
    }
}
