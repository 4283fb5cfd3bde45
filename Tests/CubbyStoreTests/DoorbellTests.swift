import Foundation
import Testing

@testable import CubbyStore

/// The outbox worker's wake-up: a ring is never lost, whether it comes before or during a wait.
@Suite("outbox doorbell")
struct DoorbellTests {
    @Test("a ring while nobody waits ends the next wait at once, and only that one")
    func ringBeforeWait() async throws {
        let bell = Doorbell()
        bell.ring()
        bell.ring()
        // An hour's wait that returns: the ring was kept.
        await bell.wait(upTo: .seconds(3600))
        #expect(!bell.hasRung, "the kept ring is used up by that wait")
    }

    @Test("a ring during a wait ends it; a wake reaches every bell added, not one removed")
    func ringDuringWait() async throws {
        let wake = OutboxWake()
        let bell = Doorbell()
        let removed = Doorbell()
        wake.add(bell)
        wake.add(removed)
        wake.remove(removed)
        let waiting = Task { await bell.wait(upTo: .seconds(3600)) }
        wake.ring()
        await waiting.value
        // The removed bell kept no ring: a later ring of its own is what ends its wait.
        let other = Task { await removed.wait(upTo: .seconds(3600)) }
        removed.ring()
        await other.value
    }

    @Test("a commit that wrote to the outbox rings; one that rolled back does not")
    func commitRings() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-bell-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await SQLiteStore.open(path: dir + "/b.sqlite", logger: StoreBackend.logger)
        let bell = Doorbell()
        store.outboxWake.add(bell)
        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await store.write { s in
                try await s.markOutboxWritten()
                throw Refused()
            }
        }
        #expect(!bell.hasRung, "a rolled-back write rings nothing")
        try await store.write { s in try await s.markOutboxWritten() }
        #expect(bell.hasRung)
        await store.close()
    }
}
