import CubbyCore
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
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let result: ChildProcess.Output
        do {
            // A child the command left behind may hold the pipes open: its output is waited for only a little.
            result = try ChildProcess.run(
                argv[0], Array(argv.dropFirst()) + [verb], input: Array((input + "\n").utf8), timeout: timeout,
                grace: .seconds(5), outputLimit: 65536)
        } catch {
            throw KeyFileError("\(name) cannot be started: \(error.message)")
        }
        let said = Self.firstLine(of: Data(result.standardError)).map { "; it said: \($0)" } ?? ""
        switch result.termination {
        case nil:
            throw KeyFileError("\(name) did not answer within \(Self.format(seconds)) seconds and was killed")
        case .signaled(let signal):
            throw KeyFileError("\(name) was killed by signal \(signal)\(said)")
        case .exited(let status) where status != 0:
            throw KeyFileError("\(name) failed with exit status \(status)\(said)")
        case .exited:
            break
        }
        guard result.outputComplete else { throw KeyFileError("\(name) exited but left its standard output open") }
        let text = result.standardOutputText.trimmingCharacters(in: .whitespacesAndNewlines)
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
