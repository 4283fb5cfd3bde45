import CubbyCrypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The couriers signed in at this screen, each behind a random 128-bit cookie, held only in memory.
///
/// A session ends after `idleTimeout` without a request, on "Done", or when the backend says the
/// sign-in is no longer valid. Ended sessions are handed back so the caller can sign them out at the
/// backend.
actor KioskCourierSessions {
    struct Session: Sendable {
        let token: String
        let courier: KioskCourier
        var lastSeen: ContinuousClock.Instant
        /// The value the drop-off form shown last carries; each value is accepted once.
        var formOnce: String
    }

    /// One screen has one courier at a time; a few more leave room for abandoned sign-ins.
    static let capacity = 8

    private var sessions: [Session] = []
    private let idleTimeout: Duration
    private let now: @Sendable () -> ContinuousClock.Instant

    init(idleTimeout: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.idleTimeout = idleTimeout
        self.now = now
    }

    /// A fresh session for `courier`; returns its token and the sessions pushed out to make room.
    func open(_ courier: KioskCourier) -> (token: String, ended: [KioskCourier]) {
        var ended = endIdle()
        while sessions.count >= Self.capacity {
            let oldest = sessions.indices.min { sessions[$0].lastSeen < sessions[$1].lastSeen }!
            ended.append(sessions.remove(at: oldest).courier)
        }
        let token = Self.randomToken()
        sessions.append(Session(token: token, courier: courier, lastSeen: now(), formOnce: Self.randomToken()))
        return (token, ended)
    }

    /// The live session behind `token`, marked as seen now.
    func touch(_ token: String) -> Session? {
        guard let index = index(of: token) else { return nil }
        sessions[index].lastSeen = now()
        return sessions[index]
    }

    /// Accepts the drop-off form's single-use value and issues the next one; nil when the value is
    /// not the current one (a second tap, or a form shown before the last drop-off).
    func claimForm(_ token: String, once: String) -> String? {
        guard let index = index(of: token) else { return nil }
        guard Self.constantTimeEquals(sessions[index].formOnce, once) else { return nil }
        let next = Self.randomToken()
        sessions[index].formOnce = next
        return next
    }

    /// Ends the session behind `token`, returning its courier.
    func end(_ token: String) -> KioskCourier? {
        guard let index = index(of: token) else { return nil }
        return sessions.remove(at: index).courier
    }

    /// Removes the sessions idle for longer than the timeout and returns their couriers.
    func endIdle() -> [KioskCourier] {
        let cutoff = now()
        var ended: [KioskCourier] = []
        sessions.removeAll { session in
            let idle = session.lastSeen.duration(to: cutoff) >= idleTimeout
            if idle { ended.append(session.courier) }
            return idle
        }
        return ended
    }

    /// Looks at every session and compares in constant time, so the time taken says nothing about the token.
    private func index(of token: String) -> Int? {
        guard Self.isWellFormed(token) else { return nil }
        var found: Int? = nil
        for (index, session) in sessions.enumerated() where Self.constantTimeEquals(session.token, token) {
            found = index
        }
        guard let found, sessions[found].lastSeen.duration(to: now()) < idleTimeout else { return nil }
        return found
    }

    static let tokenLength = 32

    static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == tokenLength && token.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// 128 bits from the system's cryptographically secure generator, as lowercase hex.
    static func randomToken() -> String { Hex.encode(SecretGenerator.bytes(16)) }

    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        KeyedHasher.constantTimeEquals(Array(a.utf8), Array(b.utf8))
    }
}
