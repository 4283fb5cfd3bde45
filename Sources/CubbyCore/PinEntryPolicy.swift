#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The limits on PIN guessing at one locker unit, and the bound they give.
///
/// The numbers are chosen in docs/security.md: with 10-digit PINs, at most 100 failed PINs in any
/// rolling 24 hours and 200 live PINs at a unit, a year of guessing opens a compartment with
/// probability below 1/1000.
public struct PinEntryPolicy: Sendable, Hashable, Codable {
    /// Digits in a pickup PIN.
    public var pinLength: Int
    /// Consecutive failures allowed before the first lockout.
    public var freeFailures: Int
    /// Length of the first lockout; each further consecutive failure doubles it.
    public var firstLockout: Duration
    /// The longest lockout.
    public var maxLockout: Duration
    /// Failed PINs allowed in any rolling 24 hours; reaching it suspends PIN entry until an administrator resumes it.
    public var dailyFailureBudget: Int

    public init(
        pinLength: Int = 10, freeFailures: Int = 5, firstLockout: Duration = .seconds(30),
        maxLockout: Duration = .seconds(3600), dailyFailureBudget: Int = 100
    ) {
        self.pinLength = pinLength
        self.freeFailures = freeFailures
        self.firstLockout = firstLockout
        self.maxLockout = maxLockout
        self.dailyFailureBudget = dailyFailureBudget
    }

    /// The default policy.
    public static let standard = PinEntryPolicy()

    /// Lockout after the `consecutiveFailures`-th consecutive failure (zero while within the free failures).
    public func lockout(afterConsecutiveFailures n: Int) -> Duration {
        guard n >= freeFailures else { return .zero }
        let doublings = n - freeFailures
        var d = firstLockout
        for _ in 0..<min(doublings, 32) {
            d = d * 2
            if d >= maxLockout { return maxLockout }
        }
        return min(d, maxLockout)
    }

    /// Upper bound on the probability that an attacker opens any compartment at a unit with `livePins` live
    /// PINs by guessing for `days` days, given that no more than `dailyFailureBudget` failures fit in any
    /// 24 hours (union bound; `days + 1` windows cover a period that does not start at a window boundary).
    public func guessingBound(livePins: Int, days: Int) -> Double {
        let space = (0..<pinLength).reduce(1.0) { value, _ in value * 10 }
        let guesses = Double((days + 1) * dailyFailureBudget)
        return guesses * Double(livePins) / (space - guesses)
    }
}

/// The state of PIN entry at one unit, as stored.
public struct PinEntryState: Sendable, Hashable, Codable {
    /// Failed PINs since the last success.
    public var consecutiveFailures: Int
    /// PIN entry refused until then.
    public var lockedUntil: Date?
    /// Set when the daily budget was spent; cleared only by an administrator.
    public var suspended: Bool

    public init(consecutiveFailures: Int = 0, lockedUntil: Date? = nil, suspended: Bool = false) {
        self.consecutiveFailures = consecutiveFailures
        self.lockedUntil = lockedUntil
        self.suspended = suspended
    }
}

extension PinEntryState {
    /// The state as a unit reports it in a journaled event's detail (`pinConsecutiveFailures`, `pinLockedUntil` in
    /// milliseconds since 1970 when locked, `pinSuspended`), so the server shows the unit's own lockout.
    public var report: [String: String] {
        var detail = ["pinConsecutiveFailures": String(consecutiveFailures), "pinSuspended": String(suspended)]
        if let lockedUntil { detail["pinLockedUntil"] = String(lockedUntil.millisecondsSince1970) }
        return detail
    }

    /// The state a unit reported, or nil when the detail holds none (or holds it malformed).
    public init?(report detail: [String: String]) {
        guard let failures = detail["pinConsecutiveFailures"].flatMap({ Int($0) }), failures >= 0,
            let suspended = detail["pinSuspended"].flatMap({ Bool($0) })
        else { return nil }
        var until: Date? = nil
        if let text = detail["pinLockedUntil"] {
            guard let ms = Int64(text), ms >= 0 else { return nil }
            until = Date(millisecondsSince1970: ms)
        }
        self.init(consecutiveFailures: failures, lockedUntil: until, suspended: suspended)
    }
}

/// What the limiter says about a PIN attempt before the PIN is checked.
public enum PinEntryDecision: Sendable, Equatable {
    /// Check the PIN.
    case evaluate
    /// Refuse without checking; try again after `retryAfter`.
    case lockedOut(retryAfter: Duration, reason: LockoutReason)
}

/// Why PIN entry is refused.
public enum LockoutReason: String, Sendable, Codable {
    /// A temporary lockout after consecutive failures.
    case lockout = "locked_out"
    /// The budget of the last 24 hours is spent or an administrator has not yet resumed PIN entry.
    case suspended
}

/// The limiter's pure logic: given the stored state and the failure times of the last 24 hours.
public struct PinEntryLimiter: Sendable {
    public var policy: PinEntryPolicy

    public init(policy: PinEntryPolicy) { self.policy = policy }

    /// The rolling window in which failed PINs count against a unit's daily budget.
    public static let failureWindow: Int64 = Milliseconds.day

    /// Whether a PIN attempt at `now` may be evaluated. `recentFailures` are the failure times within 24 h, oldest first.
    public func decide(state: PinEntryState, recentFailures: [Date], now: Date) -> PinEntryDecision {
        if state.suspended {
            return .lockedOut(retryAfter: .seconds(3600), reason: .suspended)
        }
        if recentFailures.count >= policy.dailyFailureBudget {
            let index = recentFailures.count - policy.dailyFailureBudget
            let agesOut = recentFailures[index].addingTimeInterval(
                TimeInterval(Self.failureWindow / Milliseconds.second))
            return .lockedOut(
                retryAfter: .seconds(max(1, agesOut.timeIntervalSince(now).rounded(.up))), reason: .suspended)
        }
        if let until = state.lockedUntil, until > now {
            return .lockedOut(retryAfter: .seconds(max(1, until.timeIntervalSince(now).rounded(.up))), reason: .lockout)
        }
        return .evaluate
    }

    /// The state after a failed PIN at `now`; `failuresInWindow` counts failures in the last 24 h including this one.
    public func afterFailure(state: PinEntryState, failuresInWindow: Int, now: Date) -> PinEntryState {
        var next = state
        next.consecutiveFailures += 1
        let lock = policy.lockout(afterConsecutiveFailures: next.consecutiveFailures)
        next.lockedUntil = lock > .zero ? now.addingTimeInterval(lock.seconds) : nil
        if failuresInWindow >= policy.dailyFailureBudget { next.suspended = true }
        return next
    }

    /// The state after a correct PIN: the streak ends.
    public func afterSuccess(state: PinEntryState) -> PinEntryState {
        var next = state
        next.consecutiveFailures = 0
        next.lockedUntil = nil
        return next
    }

    /// The state after an administrator resumes PIN entry: suspension and lockout lifted, the 24 h budget still applies.
    public func afterResume(state: PinEntryState) -> PinEntryState {
        PinEntryState(consecutiveFailures: 0, lockedUntil: nil, suspended: false)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: TimeInterval {
        let c = components
        return TimeInterval(c.seconds) + TimeInterval(c.attoseconds) / 1e18
    }
}
