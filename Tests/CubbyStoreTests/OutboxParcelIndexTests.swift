import CubbyStore
import Foundation
import SQLKit
import Testing

/// A pickup gives up its parcel's waiting reminders in its own transaction: the parcel's messages must be found through
/// an index, not by reading every message the outbox ever held (which grows with every notice sent).
@Suite("The outbox finds a parcel's messages through an index")
struct OutboxParcelIndexTests {
    @Test(arguments: StoreBackend.available)
    func parcelMessagesUseTheIndex(_ backend: StoreBackend) async throws {
        let (store, dir) = try await backend.open()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lookup = "SELECT id FROM outbox_messages WHERE parcel_id = 'p1' AND kind = 'reminder'"
        let plan: String
        do {
            try await Migrator.migrate(store)
            plan = try await store.write { s -> String in
                if backend == .postgres {
                    // The tables are nearly empty, so PostgreSQL would read them whole whatever their indexes; asked
                    // not to, it shows which index it can use.
                    try await s.toolHandle.raw("SET LOCAL enable_seqscan = off").run()
                    return try await s.toolHandle.raw(SQLQueryString("EXPLAIN " + lookup)).all()
                        .map { try $0.decode(column: "QUERY PLAN", as: String.self) }.joined(separator: "\n")
                }
                return try await s.toolHandle.raw(SQLQueryString("EXPLAIN QUERY PLAN " + lookup)).all()
                    .map { try $0.decode(column: "detail", as: String.self) }.joined(separator: "\n")
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        #expect(plan.contains("outbox_messages_parcel"), "plan: \(plan)")
    }
}
