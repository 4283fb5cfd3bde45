import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `cubby keys rotate` as a real process, killed with SIGKILL in the middle of re-wrapping a few thousand data keys:
/// every data key still opens, and running the command again finishes the rotation.
@Suite("cubby keys rotate, killed and run again", .serialized)
struct KeyRotationProcessTests {
    static let binary = ProvisioningCommandLineTests.binary

    /// Starts `cubby keys rotate` on the world's database with `extra` arguments.
    static func command(_ w: TestWorld, _ extra: [String]) throws -> ChildProcess {
        try ChildProcess(
            executable: binary,
            arguments: [
                "keys", "rotate", "--database", "\(w.settings.database)", "--keys", w.settings.keysPath,
                "--kek-file", w.dir + "/kek", "--log-level", "error",
            ] + extra,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CUBBY_") },
            standardInput: .null, standardOutput: .null, standardError: .null)
    }

    static func rewrapped(_ w: TestWorld) async throws -> Int {
        try await w.parts.store.read { s in try await s.openKeyRotation()?.rewrapped ?? 0 }
    }

    @Test(
        "SIGKILL halfway, then again: every data key readable throughout, the old key destroyed at the end",
        arguments: Backend.available)
    func killedAndResumed(_ backend: Backend) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) else { return }
        try await TestWorld.with(backend) { w in
            _ = try await KeyRotationTests.manyRecipients(w, 3000)
            let before = try await KeyRotation(store: w.parts.store, keys: w.parts.keys).status()
            let total = before.totals.values.reduce(0, +)
            let old = try #require(before.primary)
            let slow = try Self.command(
                w,
                [
                    "--batch-size", "10", "--pause-ms", "25", "--propagation-seconds", "0", "--grace-seconds", "0",
                    "--lease-seconds", "1",
                ])
            let deadline = ContinuousClock.now + .seconds(60)
            while try await Self.rewrapped(w) < 200, ContinuousClock.now < deadline, slow.isRunning {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(slow.isRunning, "the rotation finished before it could be killed")
            slow.send(SIGKILL)
            #expect(slow.wait() == .signaled(SIGKILL))
            let halfway = try await KeyRotation(store: w.parts.store, keys: w.parts.keys).status()
            #expect(halfway.totals[old, default: 0] > 0)
            #expect(halfway.rotation?.phase != "done")
            #expect(
                try await KeyRotationTests.openEverything(w)
                    == halfway.dataKeys.values.flatMap(\.values).reduce(0, +))

            try await Task.sleep(for: .milliseconds(1100))  // the killed run's claim lapses
            let again = try Self.command(w, ["--propagation-seconds", "0", "--grace-seconds", "0"])
            #expect(await again.exit() == .exited(0))
            let after = try await KeyRotation(store: w.parts.store, keys: w.parts.keys).status()
            let newKey = try #require(after.primary)
            #expect(newKey != old)
            #expect(after.totals == [newKey: total])
            #expect(after.ring.first { $0.id == old }?.sealedKey == nil)
            #expect(after.rotation?.phase == "done")
            #expect(
                try await KeyRotationTests.openEverything(w)
                    == after.dataKeys.values.flatMap(\.values).reduce(0, +))
        }
    }
}
