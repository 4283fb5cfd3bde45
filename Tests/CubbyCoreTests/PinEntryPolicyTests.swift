import CubbyCore
import Foundation
import Testing

private let t0 = Date(timeIntervalSince1970: 1_800_000_000)
private let day: TimeInterval = 86_400

@Suite("PinEntryPolicy")
struct PinEntryPolicyTests {
    @Test("the standard policy is the documented one")
    func standardValues() {
        let p = PinEntryPolicy.standard
        #expect(p.pinLength == 10)
        #expect(p.freeFailures == 5)
        #expect(p.firstLockout == .seconds(30))
        #expect(p.maxLockout == .seconds(3600))
        #expect(p.dailyFailureBudget == 100)
    }

    @Test(
        "lockout after n consecutive failures",
        arguments: [
            (-1, 0), (0, 0), (1, 0), (2, 0), (3, 0), (4, 0),
            (5, 30), (6, 60), (7, 120), (8, 240), (9, 480), (10, 960), (11, 1920),
            (12, 3600), (13, 3600), (20, 3600), (40, 3600), (1000, 3600), (1_000_000, 3600),
        ]
    )
    func lockoutTable(n: Int, seconds: Int) {
        #expect(PinEntryPolicy.standard.lockout(afterConsecutiveFailures: n) == .seconds(seconds))
    }

    @Test("lockout doubles from one failure to the next until the cap")
    func lockoutDoubles() {
        let p = PinEntryPolicy.standard
        var previous = p.lockout(afterConsecutiveFailures: 5)
        for n in 6...40 {
            let d = p.lockout(afterConsecutiveFailures: n)
            #expect(d == min(previous * 2, p.maxLockout), "n = \(n)")
            #expect(d <= p.maxLockout)
            previous = d
        }
    }

    @Test("the standard policy's one-year bound is below 1/1000 (≈ 7.32e-4)")
    func guessingBoundStandard() {
        let b = PinEntryPolicy.standard.guessingBound(livePins: 200, days: 365)
        #expect(b < 0.001)
        #expect(b > 0.0007)
        // 366 windows × 100 guesses × 200 PINs over 10^10 minus the guesses.
        #expect(abs(b - 7.32e-4) < 1e-6)
    }

    @Test("an 8-digit policy with the same budget does not meet 1/1000")
    func guessingBoundEightDigits() {
        let p = PinEntryPolicy(pinLength: 8, dailyFailureBudget: 100)
        #expect(p.guessingBound(livePins: 200, days: 365) > 0.001)
    }

    @Test("the bound grows with PINs, days and budget")
    func guessingBoundMonotone() {
        let p = PinEntryPolicy.standard
        #expect(p.guessingBound(livePins: 400, days: 365) > p.guessingBound(livePins: 200, days: 365))
        #expect(p.guessingBound(livePins: 200, days: 730) > p.guessingBound(livePins: 200, days: 365))
        let bigger = PinEntryPolicy(dailyFailureBudget: 200)
        #expect(bigger.guessingBound(livePins: 200, days: 365) > p.guessingBound(livePins: 200, days: 365))
        #expect(p.guessingBound(livePins: 0, days: 365) == 0)
    }
}

@Suite("PinEntryLimiter")
struct PinEntryLimiterTests {
    let limiter = PinEntryLimiter(policy: .standard)

    // MARK: decide

    @Test("a fresh state is evaluated")
    func freshEvaluates() {
        #expect(limiter.decide(state: PinEntryState(), recentFailures: [], now: t0) == .evaluate)
        let few = (0..<99).map { t0.addingTimeInterval(-Double($0) * 60) }.reversed()
        #expect(
            limiter.decide(state: PinEntryState(consecutiveFailures: 3), recentFailures: Array(few), now: t0)
                == .evaluate)
    }

    @Test("a lockout in the future refuses, rounding the wait up to whole seconds")
    func lockedOut() {
        let state = PinEntryState(consecutiveFailures: 5, lockedUntil: t0.addingTimeInterval(12.3))
        #expect(
            limiter.decide(state: state, recentFailures: [], now: t0)
                == .lockedOut(retryAfter: .seconds(13), reason: .lockout))
        let exact = PinEntryState(consecutiveFailures: 5, lockedUntil: t0.addingTimeInterval(30))
        #expect(
            limiter.decide(state: exact, recentFailures: [], now: t0)
                == .lockedOut(retryAfter: .seconds(30), reason: .lockout))
        let tiny = PinEntryState(consecutiveFailures: 5, lockedUntil: t0.addingTimeInterval(0.001))
        #expect(
            limiter.decide(state: tiny, recentFailures: [], now: t0)
                == .lockedOut(retryAfter: .seconds(1), reason: .lockout))
    }

    @Test("a lockout that has run out no longer refuses")
    func lockoutOver() {
        let past = PinEntryState(consecutiveFailures: 7, lockedUntil: t0.addingTimeInterval(-1))
        #expect(limiter.decide(state: past, recentFailures: [], now: t0) == .evaluate)
        let now = PinEntryState(consecutiveFailures: 7, lockedUntil: t0)
        #expect(limiter.decide(state: now, recentFailures: [], now: t0) == .evaluate)
    }

    @Test("a suspended unit refuses with reason suspended, even when no lockout is running")
    func suspended() {
        let state = PinEntryState(consecutiveFailures: 0, lockedUntil: nil, suspended: true)
        guard case .lockedOut(let retry, let reason) = limiter.decide(state: state, recentFailures: [], now: t0) else {
            Issue.record("suspended state was evaluated")
            return
        }
        #expect(reason == .suspended)
        #expect(retry > .zero)
        // Suspension outranks a running lockout.
        let both = PinEntryState(consecutiveFailures: 9, lockedUntil: t0.addingTimeInterval(100), suspended: true)
        guard case .lockedOut(_, let reason2) = limiter.decide(state: both, recentFailures: [], now: t0) else {
            Issue.record("suspended state was evaluated")
            return
        }
        #expect(reason2 == .suspended)
    }

    @Test("a spent daily budget refuses until the oldest counted failure is 24 h old")
    func budgetSpent() {
        // 100 failures, the oldest 20 h ago, the rest within the last hour.
        var failures = [t0.addingTimeInterval(-20 * 3600)]
        failures += (1..<100).map { t0.addingTimeInterval(-3600 + Double($0) * 30) }
        #expect(failures.count == 100)
        #expect(
            limiter.decide(state: PinEntryState(), recentFailures: failures, now: t0)
                == .lockedOut(retryAfter: .seconds(4 * 3600), reason: .suspended))
        // Fractional wait rounds up.
        failures[0] = t0.addingTimeInterval(-20 * 3600 - 0.5)
        #expect(
            limiter.decide(state: PinEntryState(), recentFailures: failures, now: t0)
                == .lockedOut(retryAfter: .seconds(4 * 3600), reason: .suspended))
        failures[0] = t0.addingTimeInterval(-20 * 3600 + 0.5)
        #expect(
            limiter.decide(state: PinEntryState(), recentFailures: failures, now: t0)
                == .lockedOut(retryAfter: .seconds(4 * 3600 + 1), reason: .suspended))
    }

    @Test("with more failures than the budget, the wait is until the count drops below it")
    func budgetOverspent() {
        // 103 failures at one-minute spacing, oldest 23 h ago; three have to age out, so the 4th counts.
        let failures = (0..<103).map { t0.addingTimeInterval(-23 * 3600 + Double($0) * 60) }
        #expect(
            limiter.decide(state: PinEntryState(), recentFailures: failures, now: t0)
                == .lockedOut(retryAfter: .seconds(3600 + 3 * 60), reason: .suspended))
    }

    @Test("a spent budget outranks a lockout, and 99 failures do not suspend")
    func budgetEdge() {
        let locked = PinEntryState(consecutiveFailures: 6, lockedUntil: t0.addingTimeInterval(60))
        let hundred = (0..<100).map { t0.addingTimeInterval(-Double(100 - $0)) }
        guard case .lockedOut(_, let reason) = limiter.decide(state: locked, recentFailures: hundred, now: t0) else {
            Issue.record("evaluated with a spent budget")
            return
        }
        #expect(reason == .suspended)
        #expect(
            limiter.decide(state: PinEntryState(), recentFailures: Array(hundred.dropFirst()), now: t0) == .evaluate)
    }

    // MARK: afterFailure / afterSuccess / afterResume

    @Test("afterFailure counts the streak and locks from the fifth consecutive failure")
    func afterFailureStreak() {
        var state = PinEntryState()
        var now = t0
        for n in 1...14 {
            state = limiter.afterFailure(state: state, failuresInWindow: n, now: now)
            #expect(state.consecutiveFailures == n)
            #expect(!state.suspended)
            let expected = PinEntryPolicy.standard.lockout(afterConsecutiveFailures: n)
            if n < 5 {
                #expect(state.lockedUntil == nil, "n = \(n)")
            } else {
                #expect(state.lockedUntil == now.addingTimeInterval(expected.seconds), "n = \(n)")
            }
            now = now.addingTimeInterval(7200)
        }
    }

    @Test("afterFailure sets exact lockouts at the 5th and 6th failure")
    func afterFailureExact() {
        let fourth = PinEntryState(consecutiveFailures: 4)
        let fifth = limiter.afterFailure(state: fourth, failuresInWindow: 5, now: t0)
        #expect(
            fifth == PinEntryState(consecutiveFailures: 5, lockedUntil: t0.addingTimeInterval(30), suspended: false))
        let later = t0.addingTimeInterval(31)
        let sixth = limiter.afterFailure(state: fifth, failuresInWindow: 6, now: later)
        #expect(
            sixth == PinEntryState(consecutiveFailures: 6, lockedUntil: later.addingTimeInterval(60), suspended: false))
    }

    @Test("afterFailure suspends when the failures in the window reach the budget")
    func afterFailureSuspends() {
        let s99 = limiter.afterFailure(state: PinEntryState(), failuresInWindow: 99, now: t0)
        #expect(!s99.suspended)
        let s100 = limiter.afterFailure(state: PinEntryState(), failuresInWindow: 100, now: t0)
        #expect(s100.suspended)
        let s150 = limiter.afterFailure(state: PinEntryState(), failuresInWindow: 150, now: t0)
        #expect(s150.suspended)
        // Once suspended it stays so, whatever the window says.
        let still = limiter.afterFailure(state: s100, failuresInWindow: 1, now: t0)
        #expect(still.suspended)
    }

    @Test("afterSuccess ends the streak and the lockout but not the suspension")
    func afterSuccess() {
        let state = PinEntryState(consecutiveFailures: 9, lockedUntil: t0.addingTimeInterval(500), suspended: true)
        let next = limiter.afterSuccess(state: state)
        #expect(next.consecutiveFailures == 0)
        #expect(next.lockedUntil == nil)
        #expect(next.suspended)
        let plain = limiter.afterSuccess(state: PinEntryState(consecutiveFailures: 3))
        #expect(plain == PinEntryState())
    }

    @Test("afterResume clears everything")
    func afterResume() {
        let state = PinEntryState(consecutiveFailures: 42, lockedUntil: t0.addingTimeInterval(3600), suspended: true)
        #expect(
            limiter.afterResume(state: state)
                == PinEntryState(consecutiveFailures: 0, lockedUntil: nil, suspended: false))
    }

    @Test("after a resume the rolling budget still applies")
    func resumeKeepsBudget() {
        let suspended = PinEntryState(consecutiveFailures: 0, suspended: true)
        let resumed = limiter.afterResume(state: suspended)
        let hundred = (0..<100).map { t0.addingTimeInterval(-Double(100 - $0)) }
        guard case .lockedOut(_, let reason) = limiter.decide(state: resumed, recentFailures: hundred, now: t0) else {
            Issue.record("evaluated with a spent budget after resume")
            return
        }
        #expect(reason == .suspended)
    }
}

// MARK: - A year of guessing

/// How the attacker's year goes.
enum YearScenario: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// The standard policy; the attacker guesses as fast as the limiter lets it.
    case standard
    /// No consecutive-failure lockouts at all: only the daily budget stands between attacker and PINs.
    case noLockouts
    /// The standard policy, with a resident's correct PIN after each of the attacker's failures,
    /// which ends the streak every time.
    case streakResetBySuccess

    var testDescription: String { rawValue }

    var policy: PinEntryPolicy {
        switch self {
        case .standard, .streakResetBySuccess: .standard
        case .noLockouts: PinEntryPolicy(freeFailures: 1_000_000_000)
        }
    }
}

struct YearResult {
    var evaluatedFailures = 0
    var resumes = 0
    var maxInWindow = 0
    var steps = 0
}

/// Drives the limiter for `days` simulated days: an attacker retries as soon as allowed, an administrator
/// resumes PIN entry as soon as it is suspended. The caller-side bookkeeping (the failure times of the last
/// 24 hours) is done here, as the store would.
func simulateYear(_ scenario: YearScenario, days: Int) -> YearResult {
    let limiter = PinEntryLimiter(policy: scenario.policy)
    let end = t0.addingTimeInterval(Double(days) * day)
    var now = t0
    var state = PinEntryState()
    var window: [Date] = []
    var result = YearResult()
    while now < end, result.steps < 5_000_000 {
        result.steps += 1
        while let first = window.first, now.timeIntervalSince(first) >= day { window.removeFirst() }
        switch limiter.decide(state: state, recentFailures: window, now: now) {
        case .evaluate:
            // The attacker's guess is wrong.
            result.evaluatedFailures += 1
            window.append(now)
            result.maxInWindow = max(result.maxInWindow, window.count)
            state = limiter.afterFailure(state: state, failuresInWindow: window.count, now: now)
            if scenario == .streakResetBySuccess,
                limiter.decide(state: state, recentFailures: window, now: now) == .evaluate
            {
                state = limiter.afterSuccess(state: state)
            }
        case .lockedOut(let retryAfter, _):
            if state.suspended {
                state = limiter.afterResume(state: state)
                result.resumes += 1
            } else {
                #expect(retryAfter >= .seconds(1))
                now = now.addingTimeInterval(retryAfter.seconds)
            }
        }
    }
    return result
}

@Suite("PIN guessing over a simulated year")
struct PinGuessingYearTests {
    @Test("evaluated failed guesses in a year stay within 366 × budget", arguments: YearScenario.allCases)
    func year(scenario: YearScenario) {
        let budget = scenario.policy.dailyFailureBudget
        let r = simulateYear(scenario, days: 365)
        #expect(r.steps < 5_000_000, "the simulation did not finish")
        #expect(r.evaluatedFailures <= 366 * budget)
        #expect(r.maxInWindow <= budget, "more than \(budget) failures in one 24 h window")
        // And the bound the docs compute from it holds for the failures actually evaluated.
        let space = pow(10.0, Double(scenario.policy.pinLength))
        let attained = Double(r.evaluatedFailures) * 200 / (space - Double(r.evaluatedFailures))
        #expect(attained <= scenario.policy.guessingBound(livePins: 200, days: 365))
        #expect(attained < 0.001)
    }

    @Test("without lockouts the attacker does spend the whole budget, so the simulation really tests it")
    func budgetIsTheBindingLimit() {
        for scenario in [YearScenario.noLockouts, .streakResetBySuccess] {
            let r = simulateYear(scenario, days: 365)
            #expect(r.evaluatedFailures >= 365 * 100, "\(scenario): \(r.evaluatedFailures)")
            #expect(r.maxInWindow == 100)
            #expect(r.resumes >= 364, "\(scenario): the administrator should have resumed about once a day")
        }
    }

    @Test("with the standard policy the lockouts alone keep the attacker well under the budget")
    func lockoutsSlowTheAttacker() {
        let r = simulateYear(.standard, days: 365)
        #expect(r.evaluatedFailures > 0)
        // Once the lockout reaches its one-hour cap, about 24 guesses a day get through.
        #expect(r.evaluatedFailures < 365 * 30)
    }
}
