import Foundation
import Testing

@testable import CubbyCore

@Suite("Child processes started with posix_spawn")
struct ChildProcessTests {
    @Test("standard output, standard error and the exit status come back apart")
    func output() throws {
        let result = try ChildProcess.run("/bin/sh", ["-c", "printf out; printf err >&2; exit 3"])
        #expect(result.termination == .exited(3))
        #expect(result.standardOutputText == "out")
        #expect(result.standardErrorText == "err")
        #expect(result.outputComplete)
    }

    @Test("input reaches standard input; without input it is /dev/null")
    func input() throws {
        let text = String(repeating: "0123456789abcdef", count: 16_384)  // 256 KiB: more than a pipe holds
        let echoed = try ChildProcess.run("/bin/cat", [], input: Array(text.utf8))
        #expect(echoed.termination == .exited(0))
        #expect(echoed.standardOutputText == text)
        let empty = try ChildProcess.run("/bin/cat", [])
        #expect(empty.termination == .exited(0))
        #expect(empty.standardOutput.isEmpty)
    }

    @Test("a child that does not read its input neither blocks nor ends the parent")
    func unreadInput() throws {
        let result = try ChildProcess.run(
            "/bin/sh", ["-c", "exit 0"], input: Array(repeating: 0x41, count: 1 << 20), timeout: .seconds(20))
        #expect(result.termination == .exited(0))
    }

    @Test("a child past its timeout is killed and reported as such")
    func timeout() throws {
        let started = ContinuousClock.now
        let result = try ChildProcess.run("/bin/sleep", ["30"], timeout: .milliseconds(300))
        #expect(result.termination == nil)
        #expect(!result.outputComplete)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a grandchild holding the output open is waited for only the grace period")
    func heldOutput() throws {
        let started = ContinuousClock.now
        let result = try ChildProcess.run(
            "/bin/sh", ["-c", "printf early; sleep 30 & exit 0"], grace: .milliseconds(300))
        #expect(result.termination == .exited(0))
        #expect(result.standardOutputText == "early")
        #expect(!result.outputComplete)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a child that goes on writing after its first line ends well once the rest is discarded")
    func discardedOutput() throws {
        let out = try ChildProcess.pipe()
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "echo READY; head -c 1048576 /dev/zero; echo done"],
            standardInput: .null, standardOutput: .descriptor(out.write))
        close(out.write)
        var seen: [UInt8] = []
        var byte: UInt8 = 0
        while !seen.contains(UInt8(ascii: "\n")), read(out.read, &byte, 1) == 1 { seen.append(byte) }
        #expect(String(decoding: seen, as: UTF8.self) == "READY\n")
        // Closing the read end here would end the child with SIGPIPE; leaving it unread, the child would block on
        // a full pipe after 64 KiB.
        ChildProcess.discardOutput(from: out.read)
        let end = child.wait(timeout: .seconds(20))
        if end == nil { child.send(SIGKILL) }
        #expect(end == .exited(0))
    }

    @Test("the child sees only descriptors 0, 1 and 2 of the parent's, the environment it is given, and its directory")
    func isolation() throws {
        let (read, write) = try ChildProcess.pipe()  // closed on exec; must not reach the child
        defer {
            close(read)
            close(write)
        }
        let keep = open("/dev/null", O_RDONLY)  // without O_CLOEXEC: still must not reach the child
        defer { close(keep) }
        let listing = try ChildProcess.run("/bin/sh", ["-c", "ls /proc/$$/fd"])
        #expect(listing.termination == .exited(0))
        let descriptors = Set(listing.standardOutputText.split(separator: "\n").compactMap { Int($0) })
        // The shell itself may hold one descriptor of its own (its script, 10 or above on some shells).
        #expect(descriptors.isSuperset(of: [0, 1, 2]))
        #expect(!descriptors.contains(Int(keep)))
        #expect(!descriptors.contains(Int(read)))
        #expect(!descriptors.contains(Int(write)))

        let directory = FileManager.default.temporaryDirectory.path
        let environment = try ChildProcess.run(
            "/bin/sh", ["-c", "printf '%s|%s' \"$CUBBY_CHILD_TEST\" \"$(pwd -P)\""],
            environment: ["CUBBY_CHILD_TEST": "yes", "PATH": "/usr/bin:/bin"], workingDirectory: directory)
        let resolved = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        #expect(environment.standardOutputText == "yes|\(resolved)")
    }

    @Test("ignored SIGPIPE and a blocked SIGTERM in the parent are not handed on")
    func signals() throws {
        signal(SIGPIPE, SIG_IGN)
        var term = sigset_t()
        sigemptyset(&term)
        sigaddset(&term, SIGTERM)
        var before = sigset_t()
        pthread_sigmask(SIG_BLOCK, &term, &before)
        let status = try ChildProcess.run("/bin/cat", ["/proc/self/status"])
        pthread_sigmask(SIG_SETMASK, &before, nil)
        let lines = status.standardOutputText.split(separator: "\n")
        let ignored = try #require(lines.first { $0.hasPrefix("SigIgn:") })
        let blocked = try #require(lines.first { $0.hasPrefix("SigBlk:") })
        // Bit n - 1 stands for signal n. Signals 32 and 33 are glibc's own, which every new program ignores.
        let standard: UInt64 = 0x7FFF_FFFF
        let ignoredMask = try #require(UInt64(ignored.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16))
        let blockedMask = try #require(UInt64(blocked.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16))
        #expect(ignoredMask & standard == 0, "SigIgn \(String(ignoredMask, radix: 16))")
        #expect(blockedMask & standard == 0, "SigBlk \(String(blockedMask, radix: 16))")
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(child.isRunning)
        child.send(SIGTERM)
        #expect(child.wait(timeout: .seconds(10)) == .signaled(SIGTERM))
        #expect(!child.isRunning)
        #expect(child.wait() == .signaled(SIGTERM))
    }

    @Test("a program that does not exist, or a stream below 3, is a clear error")
    func refusals() throws {
        #expect {
            _ = try ChildProcess(executable: "/nonexistent/cubby-tool", arguments: [])
        } throws: { error in
            "\(error)".contains("cannot start /nonexistent/cubby-tool") && "\(error)".contains("No such file")
        }
        #expect(throws: ChildProcess.SpawnError.self) {
            _ = try ChildProcess(executable: "/bin/true", arguments: [], standardOutput: .descriptor(1))
        }
    }

    @Test("many children started at once from many threads each answer for themselves")
    func concurrent() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let result = try ChildProcess.run("/bin/sh", ["-c", "printf \(i); exit \(i % 7)"])
                    #expect(result.termination == .exited(Int32(i % 7)))
                    #expect(result.standardOutputText == String(i))
                }
            }
            try await group.waitForAll()
        }
    }
}
