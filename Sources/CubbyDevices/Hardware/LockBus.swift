#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where a compartment's lock and sensors sit: a board on the bus (its DIP-switch address) and one of its channels.
public struct LockAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Board address on the RS-485 bus, 0…3.
    public var board: UInt8
    /// Channel on the board, 1…16.
    public var channel: UInt8

    /// A board address and a channel on it.
    public init(board: UInt8, channel: UInt8) {
        self.board = board
        self.channel = channel
    }

    /// Reads as `board 1 channel 5`, the form used in logs and alerts.
    public var description: String { "board \(board) channel \(channel)" }
}

/// The lock boards of one locker unit: unlock one channel, lock all, read lock and item sensors.
///
/// Implementations: the simulator (the default) and the RS-485 serial driver. Another board family is
/// one more implementation.
public protocol LockBus: Sendable {
    /// Pulses one channel's lock open; the door then opens on its spring and latches again when pushed shut.
    func unlock(_ address: LockAddress) async throws
    /// Cancels every pending or held unlock on a board, so every latch on it holds.
    func lockAll(board: UInt8) async throws
    /// Reads the lock (door) states of a board's 16 channels.
    func lockStates(board: UInt8) async throws -> [Bool]
    /// Reads the item sensors of a board's 16 channels.
    func itemStates(board: UInt8) async throws -> [Bool]
}

/// Why the bus could not do what was asked.
public enum LockBusError: Error, Equatable, CustomStringConvertible {
    /// The board did not answer correctly after every try (silent, garbled or wrong replies).
    case unresponsive(board: UInt8, attempts: Int, lastProblem: String)
    /// The board answered that the command failed.
    case refused(board: UInt8, channel: UInt8)
    /// An address outside the bus (board 0…3, channel 1…16).
    case invalidAddress(board: UInt8, channel: UInt8)
    /// The serial device could not be opened or configured.
    case device(String)

    /// A sentence for logs and alerts.
    public var description: String {
        switch self {
        case .unresponsive(let b, let n, let why): "lock board \(b) did not answer after \(n) tries (\(why))"
        case .refused(let b, let c): "lock board \(b) refused channel \(c)"
        case .invalidAddress(let b, let c): "no lock at board \(b) channel \(c)"
        case .device(let m): m
        }
    }
}
