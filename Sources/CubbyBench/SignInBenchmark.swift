import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Logging

/// `cubby bench signin`: how long a failed staff sign-in takes for each kind of failure, with the
/// production password hasher: an unknown email must cost about what a wrong password or a wrong code costs.
public struct SignInBenchmark: Sendable {
    /// The timings of one kind of failure.
    public struct Kind: Sendable {
        /// "unknown email", "wrong password" or "wrong code".
        public var label: String
        /// Median time of a failed sign-in, in milliseconds.
        public var p50: Double
        /// 90th-percentile time, in milliseconds.
        public var p90: Double
        /// The median over the wrong-password median.
        public var ratioToWrongPassword: Double
    }

    /// The kinds measured and their table.
    public struct Report: Sendable {
        /// Unknown email, wrong password, wrong code, in that order.
        public var kinds: [Kind]
        /// The table, ready to print.
        public var text: String
    }

    /// `sqlite` (a fresh file in a temporary directory) or a postgres:// URL.
    public var database: String
    /// Attempts of each kind.
    public var attempts: Int

    /// A benchmark of the given shape.
    public init(database: String, attempts: Int) {
        self.database = database
        self.attempts = attempts
    }

    /// Times the failed sign-ins, reporting the first line through `progress`, and returns the table.
    public func run(progress: @escaping @Sendable (String) -> Void) async throws -> Report {
        let logger = benchLogger()
        let workspace = try await BenchWorkspace.make(database: database, dir: nil, name: "signin", logger: logger)
        defer { workspace.remove() }
        var settings = ServerSettings(
            database: workspace.location, keysPath: workspace.dir + "/keys.json", simulateUnits: false)
        // The bench's key file lives and dies in its temporary directory: no key-encryption key protects it.
        settings.insecurePlaintextKeys = true
        let parts = try await buildParts(settings: settings, logger: logger)
        do {
            let report = try await measure(parts, progress: progress)
            await parts.store.close()
            return report
        } catch {
            await parts.store.close()
            throw error
        }
    }

    func measure(_ parts: CubbyServerParts, progress: @Sendable (String) -> Void) async throws -> Report {
        let staff = parts.staff
        progress(
            "cubby bench signin: \(database), PBKDF2-HMAC-SHA256 \(staff.hasher.iterations) iterations, \(attempts) attempts per kind"
        )
        let manifest = try await DemoSeed(parts: parts).seed(server: "bench")
        let password = "violet tram under lantern"
        let (account, link) = try await staff.createAccount(
            organization: manifest.organizationId, email: "bench@example.org", role: .superAdmin, sites: nil,
            actor: .system)
        let (_, otp) = try await staff.choosePassword(token: link, password: password, confirmation: password)
        _ = try await staff.confirmAuthenticator(token: link, code: otp.code(at: Date()))
        // A well-formed code that matches no step within the drift window for the whole run.
        let near = Set((-2...Int64(attempts / 10 + 4)).map { otp.hotp(counter: UInt64(otp.step(at: Date()) + $0)) })
        let wrongCode = (0..<1_000_000).lazy.map { String(format: "%06d", $0) }.first { !near.contains($0) }!

        let kinds: [(String, String, String, String)] = [
            ("unknown email", "nobody@example.org", password, "123456"),
            ("wrong password", "bench@example.org", "not the password at all", "123456"),
            ("wrong code", "bench@example.org", password, wrongCode),
        ]
        var times: [String: [Double]] = [:]
        for round in 0..<attempts {
            // Interleaved, so drift of the machine affects every kind alike.
            for (n, (label, email, pw, code)) in kinds.enumerated() {
                let start = ContinuousClock.now
                do {
                    _ = try await staff.signIn(
                        email: email, password: pw, factor: .totp(code),
                        address: "10.\(n).\(round / 250).\(round % 250)")
                    throw BenchFailure("a sign-in with a wrong factor succeeded")
                } catch StaffError.signInFailed {}
                let elapsed = ContinuousClock.now - start
                times[label, default: []].append(
                    Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                // Keep the account out of its delays, so every attempt takes the full path.
                try await parts.store.write { s in
                    guard var a = try await s.staffAccount(id: account.id) else { return }
                    a.failedSignins = 0
                    a.nextSigninAt = nil
                    try await s.saveStaffAccount(a)
                }
            }
        }
        func pct(_ xs: [Double], _ p: Double) -> Double {
            let s = xs.sorted()
            return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
        }
        let base = pct(times["wrong password"]!, 0.5)
        var lines = ["kind              p50 ms   p90 ms   p50 / wrong-password p50"]
        var measured: [Kind] = []
        for (label, _, _, _) in kinds {
            let xs = times[label]!
            let kind = Kind(
                label: label, p50: pct(xs, 0.5), p90: pct(xs, 0.9), ratioToWrongPassword: pct(xs, 0.5) / base)
            measured.append(kind)
            lines.append(
                label.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: " %7.1f  %7.1f   %.2f", kind.p50, kind.p90, kind.ratioToWrongPassword))
        }
        return Report(kinds: measured, text: lines.joined(separator: "\n"))
    }
}
