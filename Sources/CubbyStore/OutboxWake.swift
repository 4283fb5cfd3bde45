import Synchronization

/// Wakes the outbox's workers when a transaction that wrote to the outbox commits, so a message goes out at once
/// instead of at the next poll. A store rings it after the commit returns (never before: a rolled-back message is
/// never sent); on PostgreSQL the same transaction also notifies `OutboxNotifyChannel.name`, which wakes the workers
/// of every other server process on the database.
public final class OutboxWake: Sendable {
    private let bells = Mutex<[ObjectIdentifier: Doorbell]>([:])

    public init() {}

    /// Adds a bell that rings with every outbox commit from now on.
    public func add(_ bell: Doorbell) {
        bells.withLock { $0[ObjectIdentifier(bell)] = bell }
    }

    public func remove(_ bell: Doorbell) {
        _ = bells.withLock { $0.removeValue(forKey: ObjectIdentifier(bell)) }
    }

    /// Rings every bell.
    public func ring() {
        for bell in bells.withLock({ Array($0.values) }) { bell.ring() }
    }
}

/// One waiter's wake-up: `wait(upTo:)` returns when the bell rings or the time is up. A ring while nobody waits is
/// kept, and ends the next wait at once, so no ring is lost between two waits.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    public init() {}

    /// Whether a ring is kept for the next wait.
    var hasRung: Bool { state.withLock { $0.rung } }

    public func ring() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.rung = true
            return nil
        }
        waiter?.resume()
    }

    /// Waits until the bell rings (or rang since the last wait), `timeout` passes, or the task is cancelled.
    public func wait(upTo timeout: Duration) async {
        if state.withLock({ s in
            defer { s.rung = false }
            return s.rung
        }) {
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.waitForRing() }
            _ = await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.rung || Task.isCancelled {
                        s.rung = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}

/// What a transaction wrote that matters once it commits; a repository marks it, the store acts on it after COMMIT.
public final class CommitMarks: Sendable {
    let outbox = Atomic<Bool>(false)
    let alert = Atomic<Bool>(false)

    init() {}

    func markOutbox() { outbox.store(true, ordering: .releasing) }
    func markAlert() { alert.store(true, ordering: .releasing) }

    /// Whether the transaction raised an alert.
    var raisedAlert: Bool { alert.load(ordering: .acquiring) }

    /// Whether the transaction wrote a message (or made a delivery due) in the outbox.
    var wroteOutbox: Bool { outbox.load(ordering: .acquiring) }
}

/// The PostgreSQL notification channel on which a commit that wrote to the outbox is announced (empty payload), so
/// every server process's outbox worker looks for due deliveries at once.
public enum OutboxNotifyChannel {
    public static let name = "cubby_outbox"
}
