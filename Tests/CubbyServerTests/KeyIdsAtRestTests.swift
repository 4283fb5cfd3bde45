import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import SQLKit
import Testing

/// What a copy of the database shows: every sealed value starts with the id of the key that sealed it.
@Suite("every ciphertext at rest names its key")
struct KeyIdsAtRestTests {
    /// The non-null values of a column, as a copy of the database holds them.
    static func values(_ w: TestWorld, _ table: String, _ column: String, where condition: String = "") async throws
        -> [Data]
    {
        try await w.parts.store.read { s in
            try await s.toolHandle.raw(
                SQLQueryString(
                    "SELECT \(column) AS v FROM \(table) WHERE \(column) IS NOT NULL" + condition)
            ).all().map { try $0.decode(column: "v", as: Data.self) }
        }
    }

    @Test(
        "outbox payloads, TOTP and webhook secrets carry their key's id; fields under data keys one id per subject",
        arguments: Backend.available)
    func keyIds(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let keys = w.parts.keys
            let member = try await w.staffMember("keyed@example.org", .auditor)
            try await w.staff.setPhone(email: member.account.email, phone: "+15550100199")
            try await w.test { c in
                let drop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                    json: ParcelFlowTests.dropoffBody("KEYID1", w.manifest.recipients[0].id))
                #expect(drop.status == 201)
                let r = try await c.call(
                    .post, "/api/v1/webhooks", token: w.manifest.adminToken,
                    json: #"{"url": "https://hooks.example.org/cubby", "events": ["parcel.deposited"]}"#)
                #expect(r.status == 201)
            }

            await w.parts.simulator?.settle()  // the door closes; the parcel-ready message waits in the outbox
            let outbox = try await Self.values(w, "outbox_messages", "payload", where: " AND sealed")
            #expect(!outbox.isEmpty)
            #expect(outbox.allSatisfy { KeyedSealer.keyId(of: $0) == keys.outbox.keyIdHex })
            let totp = try await Self.values(w, "staff_accounts", "totp_secret")
            #expect(!totp.isEmpty)
            #expect(totp.allSatisfy { KeyedSealer.keyId(of: $0) == keys.accountSecrets.keyIdHex })
            let hooks = try await Self.values(w, "webhook_subscriptions", "secret")
            #expect(hooks.count == 1)
            #expect(hooks.allSatisfy { KeyedSealer.keyId(of: $0) == keys.webhookSecrets.keyIdHex })
            // The three keys are different keys.
            #expect(Set([keys.outbox.keyIdHex, keys.accountSecrets.keyIdHex, keys.webhookSecrets.keyIdHex]).count == 3)

            // Under data keys: every value names a key, each subject's its own; a member's email and phone share one.
            let contacts = try await Self.values(w, "recipients", "contact")
            let ids = contacts.compactMap { KeyedSealer.keyId(of: $0) }
            #expect(contacts.count >= 2 && ids.count == contacts.count && Set(ids).count == ids.count)
            let row = try await w.parts.store.read { s in
                try #require(
                    try await s.toolHandle.raw(
                        "SELECT email_sealed, contact FROM staff_accounts WHERE id = \(bind: member.account.id)"
                    ).first())
            }
            let email = try KeyedSealer.keyId(of: row.decode(column: "email_sealed", as: Data.self))
            let phone = try KeyedSealer.keyId(of: row.decode(column: "contact", as: Data.self))
            #expect(email != nil && email == phone)
            #expect(!ids.contains(email ?? ""))

            // Ring keys name the key derived from the root that seals them.
            let ring = try await Self.values(w, "key_ring", "sealed_key")
            #expect(!ring.isEmpty && Set(ring.compactMap { KeyedSealer.keyId(of: $0) }).count == 1)
        }
    }
}
