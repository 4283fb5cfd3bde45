import CubbyStore
import Foundation
import SQLKit
import Testing

@Suite("Outbox migration: the one-channel outbox's undelivered notifications become deliveries")
struct OutboxMigrationTests {
    @Test(arguments: StoreBackend.available)
    func undeliveredNotificationsCarryOver(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store, through: 14)
        let sealed = Data([1, 2, 3, 4])
        try await store.write { s in
            let db = s.toolHandle
            try await db.raw(
                """
                INSERT INTO outbox (notification_id, kind, recipient_id, parcel_id, payload, created_at, available_at,
                  attempts, delivered_at, last_error)
                VALUES ('n-fresh', 'parcel.deposited', 'r1', 'p1', \(bind: sealed), 1000, 1000, 0, NULL, NULL),
                  ('n-retried', 'resident.sign_in_code', 'r2', NULL, \(bind: sealed), 2000, 9000, 3, NULL, 'disk full'),
                  ('n-done', 'parcel.deposited', 'r3', 'p3', NULL, 3000, 3000, 1, 3500, NULL)
                """
            ).run()
        }
        let applied = try await Migrator.migrate(store)
        #expect(applied.contains(16))
        let rows = try await store.read { s in try await s.deliveries() }
        #expect(rows.map(\.messageId) == ["n-fresh", "n-retried"], "a delivered notification is not carried over")
        #expect(rows.allSatisfy { $0.channel == "recipient" })
        #expect(rows.map(\.target) == ["r1", "r2"])
        #expect(rows.map(\.state) == ["pending", "failed"])
        #expect(rows.map(\.attempts) == [0, 3] && rows[1].lastError == "disk full" && rows[1].nextAttemptAt == 9000)
        let claimed = try await store.write { s in
            try await s.claimDeliveries(channel: "recipient", now: 5000, leaseUntil: 6000, token: "w", limit: 10)
        }
        #expect(claimed.map(\.messageId) == ["n-fresh"], "the retried one is not due yet")
        #expect(claimed.first?.payload == sealed && claimed.first?.sealed == true)
        #expect(claimed.first?.kind == "parcel.deposited" && claimed.first?.attempts == 1)
        #expect(try await store.read { s in try await s.pendingNotificationCount() } == 2)
        await store.close()
    }
}
