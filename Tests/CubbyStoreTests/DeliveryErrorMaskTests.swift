import CubbyStore
import Foundation
import SQLKit
import Testing

@Suite("Delivery errors: the outbox keeps a relay's error without the address or number it quoted")
struct DeliveryErrorMaskTests {
    @Test(
        "addresses and long digit runs are masked, the rest is kept",
        arguments: [
            (
                "550 5.1.1 <ana.lima@example.org>: Recipient address rejected",
                "550 5.1.1 [address] Recipient address rejected"
            ),
            ("gateway: +15550100199 unreachable (21614)", "gateway: +[number] unreachable (21614)"),
            ("number 555-0100-199 refused", "number 555-0100-199 refused"),
            ("to:bob@x,carol@y and 0044207946000", "[address] and [number]"),
            ("connection refused 127.0.0.1:2525 after 30000 ms", "connection refused 127.0.0.1:2525 after 30000 ms"),
            ("", ""),
        ])
    func masks(_ given: String, _ kept: String) {
        #expect(DeliveryErrorText.masked(given) == kept)
        #expect(DeliveryErrorText.masked(kept) == kept, "masking a masked text changes nothing")
    }

    @Test("an error is cut to its limit after masking")
    func limit() {
        let long = String(repeating: "x", count: 700)
        #expect(DeliveryErrorText.masked(long).count == DeliveryErrorText.limit)
        let quoted = "<" + String(repeating: "a", count: 600) + "@example.org> refused"
        #expect(DeliveryErrorText.masked(quoted) == "[address] refused")
    }

    @Test("a finished delivery's error is stored masked", arguments: StoreBackend.available)
    func storedMasked(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store)
        try await store.write { s in
            try await s.enqueueNotification(
                id: "m1", kind: "parcel.deposited", recipient: "r1", parcel: nil, payload: Data("sealed".utf8),
                channels: ["email"], at: 1000)
            let d = try #require(
                try await s.claimDeliveries(channel: "email", now: 1000, leaseUntil: 2000, token: "w", limit: 5).first)
            #expect(
                try await s.finishDelivery(
                    d, state: .failed, retryAt: 5000, error: "550 <ana.lima@example.org> unknown; sms +15550100199",
                    at: 1000))
        }
        let raw = try await store.read { s in
            try await s.toolHandle.raw("SELECT last_error FROM outbox_deliveries").all()
                .map { try $0.decode(column: "last_error", as: String.self) }
        }
        #expect(raw == ["550 [address] unknown; sms +[number]"])
        await store.close()
    }

    @Test("migration 36 masks the errors kept before, past a page of rows", arguments: StoreBackend.available)
    func migrationMasksOlderRows(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await Migrator.migrate(store, through: 35)
        // 1,203 deliveries: more than one page of the migration's walk; every 400th quotes an address.
        try await store.write { s in
            let db = s.toolHandle
            try await db.raw(
                "INSERT INTO outbox_messages (id, kind, payload, sealed, created_at) VALUES ('m', 'k', NULL, \(bind: false), 0)"
            ).run()
            for i in 0..<1203 {
                let error: String? =
                    i % 400 == 399 ? "550 <r\(i)@example.org> unknown" : i % 3 == 0 ? nil : "timeout after 30000 ms"
                try await db.raw(
                    """
                    INSERT INTO outbox_deliveries (message_id, channel, target, state, attempts, next_attempt_at,
                      last_error, created_at, updated_at)
                    VALUES ('m', 'email', \(bind: "t\(i)"), 'dead', 1, 0, \(bind: error), 0, 0)
                    """
                ).run()
            }
        }
        #expect(try await Migrator.migrate(store).contains(36))
        let errors = try await store.read { s in
            try await s.toolHandle.raw(
                "SELECT target, last_error FROM outbox_deliveries WHERE last_error IS NOT NULL"
            ).all().map {
                (try $0.decode(column: "target", as: String.self), try $0.decode(column: "last_error", as: String.self))
            }
        }
        #expect(errors.count == 803)
        #expect(errors.allSatisfy { !$0.1.contains("@") })
        let masked = errors.filter { $0.1 == "550 [address] unknown" }.map(\.0).sorted()
        #expect(masked == ["t1199", "t399", "t799"])
        #expect(errors.filter { $0.1 == "timeout after 30000 ms" }.count == 800)
        await store.close()
    }
}
