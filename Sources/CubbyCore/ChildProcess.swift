import CCubbySpawn
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child process started with `posix_spawn`: the program the key command names, the demo's units, and the outside
/// tools the real-process tests run.
///
/// Foundation's `Process` is not used: on Linux its `run()` lists `/proc/self/fd` by copying 256 bytes out of each
/// directory entry, which reads past the end of glibc's buffer and now and then crashes the whole process
/// (swift-corelibs-foundation pull request 5472, not in the toolchain's release). Here the child closes every
/// descriptor from 3 up in one step (`posix_spawn_file_actions_addclosefrom_np`), starts with an empty signal mask and
/// with every signal's default action (a parent that ignores SIGPIPE does not hand that on), and never runs a shell.
///
/// The parent must not ignore SIGCHLD: a child's exit status is then gone before `wait` can read it.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    /// What one of the child's standard streams is.
    public enum Stream: Sendable {
        /// The parent's own.
        case inherit
        /// `/dev/null`.
        case null
        /// A copy of this descriptor (above 2); the caller keeps and closes its own.
        case descriptor(Int32)
    }

    public struct SpawnError: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// What `run` collected.
    public struct Output: Sendable {
        /// nil when the child outlived its timeout and was killed.
        public let termination: Termination?
        public let standardOutput: [UInt8]
        public let standardError: [UInt8]
        /// false when a process the child left behind still held its output open a while after it ended, or the output
        /// passed the limit: what was read is all there is.
        public let outputComplete: Bool

        public var standardOutputText: String { String(decoding: standardOutput, as: UTF8.self) }
        public var standardErrorText: String { String(decoding: standardError, as: UTF8.self) }
    }

    public let pid: pid_t
    public let executable: String
    private let ended = Mutex<Termination?>(nil)

    /// Starts `executable` (a path; no search of PATH) with `arguments` (argv[0] is the path) and `environment` (nil:
    /// this process's own).
    public init(
        executable: String, arguments: [String], environment: [String: String]? = nil,
        workingDirectory: String? = nil, standardInput: Stream = .inherit, standardOutput: Stream = .inherit,
        standardError: Stream = .inherit
    ) throws(SpawnError) {
        self.executable = executable
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        var nullDevice: Int32 = -1
        defer { if nullDevice >= 0 { close(nullDevice) } }
        for (stream, target) in [(standardInput, Int32(0)), (standardOutput, 1), (standardError, 2)] {
            switch stream {
            case .inherit:
                continue
            case .null:
                if nullDevice < 0 { nullDevice = open("/dev/null", O_RDWR | O_CLOEXEC) }
                guard nullDevice >= 0 else { throw SpawnError("cannot open /dev/null: \(Self.errorText(errno))") }
                posix_spawn_file_actions_adddup2(&actions, nullDevice, target)
            case .descriptor(let fd):
                guard fd > 2 else { throw SpawnError("a child's stream must be a descriptor above 2, not \(fd)") }
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        guard cubby_spawn_add_closefrom(&actions, 3) == 0 else {
            throw SpawnError("cannot prepare \(executable)'s start")
        }
        if let workingDirectory {
            guard cubby_spawn_add_chdir(&actions, workingDirectory) == 0 else {
                throw SpawnError("cannot prepare \(executable)'s start in \(workingDirectory)")
            }
        }

        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let variables = environment.map {
            $0.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { for pointer in variables ?? [] { free(pointer) } }

        var child: pid_t = 0
        var status: Int32 = ETXTBSY
        // ETXTBSY: a program just written is still open for writing in a child that another thread of this process
        // is starting at that moment (its copy of the descriptor lives until that child's exec closes it). The
        // window is short, so the start is tried again, for up to about a second.
        for attempt in 0..<100 where status == ETXTBSY {
            if attempt > 0 { usleep(10_000) }
            status =
                if let variables {
                    posix_spawn(&child, executable, &actions, &attributes, argv, variables)
                } else {
                    posix_spawn(&child, executable, &actions, &attributes, argv, environ)
                }
        }
        guard status == 0 else { throw SpawnError("cannot start \(executable): \(Self.errorText(status))") }
        pid = child
    }

    /// The child's end, once it has ended; never waits.
    public func poll() -> Termination? {
        if let known = ended.withLock({ $0 }) { return known }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { return record(status) }
        return ended.withLock { $0 }
    }

    /// Waits for the child's end.
    public func wait() -> Termination {
        while true {
            if let known = ended.withLock({ $0 }) { return known }
            var status: Int32 = 0
            let result = waitpid(pid, &status, 0)
            if result == pid { return record(status) }
            if result == -1, errno == EINTR { continue }
            // Another thread took the status (ECHILD): it records it in a moment.
            usleep(1000)
        }
    }

    /// Waits for the child's end at most `timeout`; nil if it is still running.
    public func wait(timeout: Duration) -> Termination? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let end = poll() { return end }
            if ContinuousClock.now >= deadline { return nil }
            usleep(5000)
        }
    }

    /// Waits for the child's end without holding a thread.
    public func exit() async -> Termination {
        while true {
            if let end = poll() { return end }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    public var isRunning: Bool { poll() == nil }

    /// Sends `signal` unless the child's end has been seen (its pid may then belong to another process).
    public func send(_ signal: Int32) {
        if poll() == nil { kill(pid, signal) }
    }

    private func record(_ status: Int32) -> Termination {
        let low = status & 0x7F
        let end: Termination = low == 0 ? .exited((status >> 8) & 0xFF) : .signaled(low)
        return ended.withLock { known in
            if known == nil { known = end }
            return known!
        }
    }

    /// A pipe whose two ends are closed on exec (a child gets one only as a standard stream).
    public static func pipe() throws(SpawnError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard cubby_pipe_cloexec(&ends) == 0 else { throw SpawnError("cannot make a pipe: \(errorText(errno))") }
        return (ends[0], ends[1])
    }

    /// Reads the pipe end `readEnd` to its end on a thread of its own, throwing what it reads away, and then closes
    /// it: for a child that goes on writing after the caller has what it needed, so that no write of the child's
    /// meets a closed pipe (EPIPE) and none blocks on a full one. The caller gives up `readEnd`.
    public static func discardOutput(from readEnd: Int32) {
        // A thread of its own through pthreads: the unit's program keeps to FoundationEssentials, which has no Thread.
        let argument = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        argument.initialize(to: readEnd)
        var thread = pthread_t()
        let started = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let box = raw.assumingMemoryBound(to: Int32.self)
                let fd = box.pointee
                box.deallocate()
                var sink = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(fd, &sink, sink.count)
                    if count < 0, errno == EINTR { continue }
                    if count <= 0 { break }
                }
                close(fd)
                return nil
            }, argument)
        if started == 0 {
            pthread_detach(thread)
        } else {
            argument.deallocate()
            close(readEnd)
        }
    }

    /// Runs `executable` to its end with `input` on its standard input (nothing: `/dev/null`), and collects its
    /// standard output and error (each up to `outputLimit` bytes). With a `timeout`, a child still running then is
    /// killed with SIGKILL. Once the child has ended, its output is waited for at most `grace`: a process it left
    /// behind may hold the pipes open.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        workingDirectory: String? = nil, input: [UInt8]? = nil, timeout: Duration? = nil,
        grace: Duration = .seconds(5), outputLimit: Int = 16 << 20
    ) throws(SpawnError) -> Output {
        // Writing to a child that stopped reading must be an error, not the end of this process.
        if input != nil { signal(SIGPIPE, SIG_IGN) }
        let output = try pipe()
        let errors: (read: Int32, write: Int32)
        do { errors = try pipe() } catch {
            close(output.read)
            close(output.write)
            throw error
        }
        var inputPipe: (read: Int32, write: Int32)? = nil
        if input != nil {
            do { inputPipe = try pipe() } catch {
                for fd in [output.read, output.write, errors.read, errors.write] { close(fd) }
                throw error
            }
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable: executable, arguments: arguments, environment: environment,
                workingDirectory: workingDirectory,
                standardInput: inputPipe.map { .descriptor($0.read) } ?? .null,
                standardOutput: .descriptor(output.write), standardError: .descriptor(errors.write))
        } catch {
            for fd in [output.read, output.write, errors.read, errors.write, inputPipe?.read, inputPipe?.write] {
                if let fd { close(fd) }
            }
            throw error
        }
        close(output.write)
        close(errors.write)
        if let inputPipe { close(inputPipe.read) }

        var collected: [[UInt8]] = [[], []]
        var open: [Int32?] = [output.read, errors.read]
        var pending = input ?? []
        var writeEnd: Int32? = inputPipe?.write
        if let writeEnd { _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK) }
        var end: Termination? = nil
        var endedAt: ContinuousClock.Instant? = nil
        var timedOut = false
        var complete = true
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var buffer = [UInt8](repeating: 0, count: 65536)
        defer {
            for fd in open { if let fd { close(fd) } }
            if let writeEnd { close(writeEnd) }
        }
        while true {
            if end == nil, let seen = child.poll() {
                end = seen
                endedAt = .now
            }
            let streamsOpen = open.contains { $0 != nil }
            if end != nil, !streamsOpen { break }
            if let endedAt, ContinuousClock.now - endedAt > grace {
                complete = false
                break
            }
            if end == nil, let deadline, ContinuousClock.now >= deadline {
                kill(child.pid, SIGKILL)
                _ = child.wait()
                timedOut = true
                complete = false
                break
            }
            var watched: [pollfd] = []
            for fd in open { if let fd { watched.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) } }
            if let writeEnd { watched.append(pollfd(fd: writeEnd, events: Int16(POLLOUT), revents: 0)) }
            waitForDescriptors(&watched, milliseconds: 50)
            for entry in watched where entry.revents != 0 {
                if entry.fd == writeEnd {
                    let written = pending.withUnsafeBytes { write(entry.fd, $0.baseAddress, $0.count) }
                    if written > 0 { pending.removeFirst(written) }
                    if pending.isEmpty || (written < 0 && errno != EAGAIN && errno != EINTR) {
                        close(entry.fd)
                        writeEnd = nil
                    }
                    continue
                }
                guard let index = open.firstIndex(of: entry.fd) else { continue }
                let count = read(entry.fd, &buffer, buffer.count)
                if count > 0 {
                    let room = max(0, outputLimit - collected[index].count)
                    collected[index].append(contentsOf: buffer.prefix(min(count, room)))
                    if count > room { complete = false }
                } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(entry.fd)
                    open[index] = nil
                }
            }
        }
        return Output(
            termination: timedOut ? nil : end, standardOutput: collected[0], standardError: collected[1],
            outputComplete: complete)
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// `poll(2)` on `descriptors` (a file-level function: `ChildProcess` has a `poll` of its own).
private func waitForDescriptors(_ descriptors: inout [pollfd], milliseconds: Int32) {
    _ = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
}
