import CubbyCore
import CubbyDevices
import Foundation
import Testing

@Suite(
    "Serial lock bus against emulated boards on a pseudo-terminal pair",
    .enabled(if: PseudoTerminalPair.canRun, "socat is not installed (set CI=true to make this a failure)"))
struct SerialLockBusTests {
    @Test("unlock, read and lock all on four boards")
    func fourBoards() async throws {
        try await withBus { bus, emulator in
            for board in UInt8(0)...3 {
                let address = LockAddress(board: board, channel: 2 + board * 4)
                emulator.setItem(address, present: true)
                let start = ContinuousClock.now
                try await bus.unlock(address)
                let frame = try #require(emulator.receivedFrames(board: board).last)
                #expect(frame.request == .unlock(address))
                #expect(frame.at - start < .seconds(2))

                #expect(try await bus.lockStates(board: board) == (1...16).map { $0 != address.channel })
                #expect(try await bus.itemStates(board: board) == (1...16).map { $0 == address.channel })
            }

            emulator.close(LockAddress(board: 0, channel: 2))
            #expect(try await bus.lockStates(board: 0) == [Bool](repeating: true, count: 16))
            try await bus.lockAll(board: 3)
            #expect(emulator.isLocked(LockAddress(board: 3, channel: 14)))
            #expect(try await bus.lockStates(board: 3) == [Bool](repeating: true, count: 16))
            #expect(try await bus.lockStates(board: 2)[9] == false)

            let stats = bus.statistics
            #expect(stats.transactions == 16)
            #expect(stats.tries == 16)
            #expect(stats.retries == 0)
            #expect(emulator.receivedFrames.count == 16)
        }
    }

    @Test(
        "other line speeds work end to end, and the emulator hands over what it heard once", arguments: [19200, 115200])
    func otherSpeeds(baud: Int) async throws {
        try await withBus(baudRate: baud) { bus, emulator in
            let address = LockAddress(board: 2, channel: 16)
            try await bus.unlock(address)
            #expect(!emulator.isLocked(address))
            try await bus.lockAll(board: 2)
            #expect(emulator.isLocked(address))
            #expect(emulator.takeReceivedFrames().map(\.request) == [.unlock(address), .lockAll(board: 2)])
            #expect(emulator.takeReceivedFrames().isEmpty, "frames are handed over once")
            _ = try await bus.lockStates(board: 0)
            #expect(emulator.takeReceivedFrames().map(\.request) == [.readLocks(board: 0)])
        }
        #expect(throws: LockBusError.self) { try SerialLockBus(path: "/dev/null", baudRate: 12345) }
        #expect(SerialPort.supportedBaudRates.contains(baud))
    }

    @Test(
        "one spoilt reply costs one retry, then the request succeeds",
        arguments: [BoardEmulator.ReplyFault.badChecksum, .truncated, .noise, .wrongAddress, .wrongCommand])
    func spoiltReplyThenSuccess(fault: BoardEmulator.ReplyFault) async throws {
        try await withBus(replyTimeout: .milliseconds(500)) { bus, emulator in
            emulator.spoilNextReplies(board: 1, with: fault)
            let address = LockAddress(board: 1, channel: 9)
            try await bus.unlock(address)
            #expect(!emulator.isLocked(address))
            #expect(emulator.receivedFrames(board: 1).map(\.request) == [.unlock(address), .unlock(address)])
            let stats = bus.statistics
            #expect(stats.tries == 2)
            #expect(stats.retries == 1)
            #expect(stats.failedTries == 1)
            #expect(stats.unresponsive == 0)
            if fault == .wrongAddress || fault == .wrongCommand {
                #expect(stats.strayReplies == 1)
            } else if fault != .truncated {
                #expect(stats.garbledFrames >= 1)
            }
        }
    }

    @Test("noise in front of a good reply does not cost a retry")
    func noiseBeforeReply() async throws {
        try await withBus(replyTimeout: .milliseconds(500)) { bus, emulator in
            emulator.spoilNextReplies(board: 2, with: .noiseBeforeReply)
            let items = try await bus.itemStates(board: 2)
            #expect(items == [Bool](repeating: false, count: 16))
            #expect(emulator.receivedFrames.count == 1)
            #expect(bus.statistics.retries == 0)
            #expect(bus.statistics.garbledFrames >= 1)
        }
    }

    @Test("two spoilt replies, then the third try succeeds")
    func twoSpoiltReplies() async throws {
        try await withBus(replyTimeout: .milliseconds(500)) { bus, emulator in
            emulator.spoilNextReplies(board: 0, with: .badChecksum)
            emulator.spoilNextReplies(board: 0, with: .wrongAddress)
            try await bus.lockAll(board: 0)
            #expect(emulator.receivedFrames.count == 3)
            #expect(bus.statistics.retries == 2)
        }
    }

    @Test("a silent board is declared unresponsive after exactly three frames")
    func silentBoard() async throws {
        try await withBus(replyTimeout: .milliseconds(100)) { bus, emulator in
            emulator.setSilent(board: 2)
            await expectUnresponsive(board: 2, attempts: 3, problem: "no reply") {
                _ = try await bus.lockStates(board: 2)
            }
            try await waitForFrames(emulator, count: 3)
            #expect(emulator.receivedFrames.map(\.request) == [LockRequest](repeating: .readLocks(board: 2), count: 3))
            #expect(bus.statistics.unresponsive == 1)

            emulator.setSilent(board: 2, false)
            #expect(try await bus.lockStates(board: 2).count == 16)
        }
    }

    @Test("the number of tries is configurable")
    func configuredTries() async throws {
        try await withBus(replyTimeout: .milliseconds(100), tries: 5) { bus, emulator in
            emulator.setSilent(board: 0)
            await expectUnresponsive(board: 0, attempts: 5, problem: "no reply") {
                try await bus.lockAll(board: 0)
            }
            try await waitForFrames(emulator, count: 5)
        }
    }

    @Test("a board answering after the timeout is unresponsive; one answering within it is fine")
    func slowBoard() async throws {
        try await withBus(replyTimeout: .milliseconds(100)) { bus, emulator in
            emulator.setReplyDelay(board: 3, .seconds(2))
            await expectUnresponsive(board: 3, attempts: 3, problem: "no reply") {
                try await bus.unlock(LockAddress(board: 3, channel: 1))
            }
            try await waitForFrames(emulator, count: 3)
        }
        try await withBus(replyTimeout: .seconds(2)) { bus, emulator in
            emulator.setReplyDelay(board: 3, .milliseconds(50))
            try await bus.unlock(LockAddress(board: 3, channel: 1))
            #expect(emulator.receivedFrames.count == 1)
        }
    }

    @Test("replies from the wrong board never pass for the right one")
    func wrongAddressEveryTime() async throws {
        try await withBus(replyTimeout: .milliseconds(300)) { bus, emulator in
            emulator.spoilNextReplies(board: 1, with: .wrongAddress, count: 3)
            await expectUnresponsive(board: 1, attempts: 3, problem: "from board 2") {
                _ = try await bus.itemStates(board: 1)
            }
            #expect(emulator.receivedFrames.count == 3)
            #expect(bus.statistics.strayReplies == 3)
        }
    }

    @Test("a refusal is reported at once, without retries")
    func refusal() async throws {
        try await withBus { bus, emulator in
            emulator.setRefusing(board: 1)
            let address = LockAddress(board: 1, channel: 4)
            await #expect(throws: LockBusError.refused(board: 1, channel: 4)) {
                try await bus.unlock(address)
            }
            #expect(emulator.isLocked(address))
            #expect(emulator.receivedFrames.count == 1)
            #expect(bus.statistics.refusals == 1)
        }
    }

    @Test("addresses off the bus are rejected without sending anything")
    func invalidAddresses() async throws {
        try await withBus { bus, emulator in
            await #expect(throws: LockBusError.invalidAddress(board: 4, channel: 1)) {
                try await bus.unlock(LockAddress(board: 4, channel: 1))
            }
            await #expect(throws: LockBusError.invalidAddress(board: 0, channel: 17)) {
                try await bus.unlock(LockAddress(board: 0, channel: 17))
            }
            await #expect(throws: LockBusError.invalidAddress(board: 1, channel: 0)) {
                try await bus.unlock(LockAddress(board: 1, channel: 0))
            }
            await #expect(throws: LockBusError.invalidAddress(board: 9, channel: 0)) {
                try await bus.lockAll(board: 9)
            }
            await #expect(throws: LockBusError.invalidAddress(board: 255, channel: 0)) {
                _ = try await bus.lockStates(board: 255)
            }
            try await Task.sleep(for: .milliseconds(50))
            #expect(emulator.receivedFrames.isEmpty)
            #expect(bus.statistics.transactions == 0)
        }
    }

    @Test("concurrent calls take turns on the half-duplex bus")
    func concurrentCalls() async throws {
        try await withBus(replyTimeout: .seconds(1)) { bus, emulator in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<32 {
                    group.addTask {
                        let board = UInt8(index % 4)
                        if index % 2 == 0 {
                            try await bus.unlock(LockAddress(board: board, channel: UInt8(1 + index / 2)))
                        } else {
                            #expect(try await bus.itemStates(board: board).count == 16)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(emulator.receivedFrames.count == 32)
            #expect(bus.statistics.tries == 32)
            #expect(emulator.garbledFrames == 0)
        }
    }

    @Test("an unlocked channel latches again after the emulator's auto-close delay")
    func autoClose() async throws {
        try await withBus(autoCloseAfter: .milliseconds(30)) { bus, emulator in
            let address = LockAddress(board: 0, channel: 1)
            try await bus.unlock(address)
            let deadline = ContinuousClock.now + .seconds(30)
            while !(try await bus.lockStates(board: 0)[0]), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(emulator.isLocked(address))
        }
    }

    @Test("a closed bus reports a device error")
    func closedBus() async throws {
        try await withBus { bus, _ in
            await bus.close()
            await #expect(throws: LockBusError.self) { try await bus.lockAll(board: 0) }
        }
    }
}

@Suite("Serial port errors")
struct SerialPortErrorTests {
    @Test("a missing device names the path and the system's reason")
    func missingDevice() throws {
        let error = #expect(throws: LockBusError.self) { try SerialLockBus(path: "/nonexistent/ttyUSB9") }
        guard case .device(let message)? = error else {
            Issue.record("expected a device error, got \(String(describing: error))")
            return
        }
        #expect(message.contains("/nonexistent/ttyUSB9"))
        #expect(message.contains("No such file or directory"))
    }

    @Test("a file that is not a terminal is refused")
    func notATerminal() throws {
        #expect(throws: LockBusError.self) { try SerialPort(path: "/dev/null") }
    }

    @Test("bad settings are refused before the device is opened")
    func badSettings() throws {
        #expect(throws: LockBusError.self) { try SerialPort(path: "/dev/null", baudRate: 12345) }
        #expect(throws: LockBusError.self) { try SerialLockBus(path: "/dev/null", tries: 0) }
        #expect(throws: LockBusError.self) { try SerialLockBus(path: "/dev/null", replyTimeout: .zero) }
    }
}

// MARK: - Helpers

/// Runs `body` with a serial bus on one end of a fresh socat pseudo-terminal pair and emulated boards 0…3
/// on the other, and takes it all down afterwards.
private func withBus(
    replyTimeout: Duration = .milliseconds(300),
    tries: Int = 3,
    baudRate: Int = 9600,
    autoCloseAfter: Duration? = nil,
    _ body: (SerialLockBus, BoardEmulator) async throws -> Void
) async throws {
    let pair = try PseudoTerminalPair()
    defer { pair.stop() }
    let emulator = try BoardEmulator(path: pair.boardPath, baudRate: baudRate, autoCloseAfter: autoCloseAfter)
    defer { emulator.stop() }
    let bus = try SerialLockBus(path: pair.busPath, baudRate: baudRate, replyTimeout: replyTimeout, tries: tries)
    try await body(bus, emulator)
    await bus.close()
}

/// Expects `body` to throw `.unresponsive` for `board` after `attempts` tries, with a last problem mentioning `problem`.
private func expectUnresponsive(
    board: UInt8,
    attempts: Int,
    problem: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected board \(board) to be unresponsive", sourceLocation: sourceLocation)
    } catch let LockBusError.unresponsive(actualBoard, actualAttempts, lastProblem) {
        #expect(actualBoard == board, sourceLocation: sourceLocation)
        #expect(actualAttempts == attempts, sourceLocation: sourceLocation)
        #expect(lastProblem.contains(problem), "last problem: \(lastProblem)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected .unresponsive, got \(error)", sourceLocation: sourceLocation)
    }
}

/// Waits (up to 30 s) until the emulator has seen `count` frames, then checks it saw no more.
private func waitForFrames(
    _ emulator: BoardEmulator,
    count: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while emulator.receivedFrames.count < count, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(10))
    }
    #expect(emulator.receivedFrames.count == count, sourceLocation: sourceLocation)
}

/// Two linked pseudo-terminals made by a socat child process, as `DIR/bus` and `DIR/board`.
final class PseudoTerminalPair {
    /// Where socat is, if it is on the PATH.
    static let socatPath: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":")
            .map { "\($0)/socat" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Run the tests if socat is here, and in CI always, so that a CI machine without socat fails loudly.
    static var canRun: Bool {
        socatPath != nil || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    let directory: URL
    let busPath: String
    let boardPath: String
    private let process: ChildProcess

    init() throws {
        guard let socat = Self.socatPath else {
            throw SetupError(
                description: "socat is required for the serial lock bus tests: install it (apt-get install socat)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-pty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        busPath = directory.appendingPathComponent("bus").path
        boardPath = directory.appendingPathComponent("board").path

        let log = directory.appendingPathComponent("socat.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logFD = open(log.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard logFD >= 0 else { throw SetupError(description: "cannot open \(log.path)") }
        defer { close(logFD) }
        process = try ChildProcess(
            executable: socat,
            arguments: ["-d", "-d", "pty,raw,echo=0,link=\(busPath)", "pty,raw,echo=0,link=\(boardPath)"],
            standardInput: .null, standardOutput: .null, standardError: .descriptor(logFD))

        let deadline = ContinuousClock.now + .seconds(10)
        while !(FileManager.default.fileExists(atPath: busPath) && FileManager.default.fileExists(atPath: boardPath)) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                stop()
                throw SetupError(description: "socat did not create the pseudo-terminal pair: \(output)")
            }
            usleep(5_000)
        }
    }

    func stop() {
        process.send(SIGKILL)
        _ = process.wait()
        try? FileManager.default.removeItem(at: directory)
    }
}
