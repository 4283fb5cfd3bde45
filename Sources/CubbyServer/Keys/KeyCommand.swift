import CubbyCrypto
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One call of the key command (`CUBBY_KEK_COMMAND`): a real child process, started without a shell, given base64 on
/// standard input, answering base64 on standard output with exit status 0, killed (SIGKILL) when it takes longer
/// than its timeout.
struct KeyCommand: Sendable {
    /// The program (an absolute path) and its arguments; the verb is added last.
    let argv: [String]
    let timeout: Duration

    /// The command's answer to `verb` (`wrap` or `unwrap`) given `input`, trimmed of surrounding white space.
    func run(_ verb: String, input: String) async throws -> String {
        // Threads of their own: the waits block, and must neither hold up Dispatch's or the concurrency pool's
        // threads nor wait for one of them to be free.
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try self.runWaiting(verb, input: input) }) }.start()
        }
    }

    /// The same, blocking the calling thread (never one of the concurrency pool's: `run` starts a thread for it).
    func runWaiting(_ verb: String, input: String) throws -> String {
        let name = "the key command \(argv[0]) \(verb)"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst()) + [verb]
        let standardInput = Pipe()
        let standardOutput = Pipe()
        let standardError = Pipe()
        process.standardInput = standardInput
        process.standardOutput = standardOutput
        process.standardError = standardError
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do { try process.run() } catch {
            throw KeyFileError("\(name) cannot be started: \(error.localizedDescription)")
        }
        let output = CollectedOutput()
        let errors = CollectedOutput()
        output.collect(standardOutput.fileHandleForReading)
        errors.collect(standardError.fileHandleForReading)
        // A command that exits without reading its input must not end this process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let writer = standardInput.fileHandleForWriting
        try? writer.write(contentsOf: Data((input + "\n").utf8))
        try? writer.close()
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        guard finished.wait(timeout: .now() + seconds) == .success else {
            kill(process.processIdentifier, SIGKILL)
            _ = finished.wait(timeout: .now() + 2)
            throw KeyFileError("\(name) did not answer within \(Self.format(seconds)) seconds and was killed")
        }
        // A child the command left behind may hold the pipes open: wait for the output only a little.
        let answer = output.wait(seconds: 5)
        let said = errors.wait(seconds: 2).flatMap { Self.firstLine(of: $0) }.map { "; it said: \($0)" } ?? ""
        guard process.terminationReason == .exit else {
            throw KeyFileError("\(name) was killed by signal \(process.terminationStatus)\(said)")
        }
        guard process.terminationStatus == 0 else {
            throw KeyFileError("\(name) failed with exit status \(process.terminationStatus)\(said)")
        }
        guard let answer else { throw KeyFileError("\(name) exited but left its standard output open") }
        let text = String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw KeyFileError("\(name) answered nothing on standard output") }
        return text
    }

    /// The first non-empty line of a command's standard error, shortened, printable characters only.
    static func firstLine(of data: Data) -> String? {
        let text = String(decoding: data.prefix(4096), as: UTF8.self)
        guard let line = text.split(whereSeparator: \.isNewline).first else { return nil }
        let clean = String(line.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(200))
        return clean.isEmpty ? nil : clean
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// Everything a child wrote to one pipe, read to its end on a thread of its own.
///
/// `@unchecked Sendable`: `data` is written once, by the reading thread, before `done` is signalled, and read only
/// after a wait on `done` has succeeded.
private final class CollectedOutput: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    func collect(_ handle: FileHandle) {
        Thread {
            // At most 64 KiB is kept: a base64 key is far shorter.
            var collected = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                if collected.count < 65536 { collected.append(chunk.prefix(65536 - collected.count)) }
            }
            self.data = collected
            self.done.signal()
        }.start()
    }

    /// The bytes, or nil when the pipe was not closed within `seconds`.
    func wait(seconds: Double) -> Data? {
        done.wait(timeout: .now() + seconds) == .success ? data : nil
    }
}
