import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import Testing

/// `cubby keys rotate`: data keys re-wrapped under a new key of the key ring, online, resumable, with the old key
/// destroyed at the end; and `cubby keys reseal`, a new key-encryption key for the key file.
@Suite("key rotation")
struct KeyRotationTests {
    static func quick(batch: Int = 1000) -> KeyRotation.Options {
        var o = KeyRotation.Options()
        o.batchSize = batch
        o.propagation = .zero
        o.grace = .zero
        return o
    }

    static func admin(_ w: TestWorld) throws -> Principal {
        Principal(
            role: .superAdmin, credentialId: .make(),
            organizationId: try #require(OrganizationID(uuidString: w.manifest.organizationId)),
            siteIds: [try #require(SiteID(uuidString: w.manifest.siteId))])
    }

    static func rotation(_ w: TestWorld) -> KeyRotation { KeyRotation(store: w.parts.store, keys: w.parts.keys) }

    /// A recipient written before the key ring existed: its data key wrapped by the key file's root (format 1).
    static func legacyRecipient(_ w: TestWorld, name: String) async throws -> String {
        let id = EntityID.make()
        let env = w.parts.keys.envelope
        let wrapped = try env.legacyWrappedDataKey(subject: id)
        let contact = try env.seal(
            try JSONEncoder().encode(["name": name]), wrappedKey: wrapped, subject: id, field: "contact")
        let at = w.clock.now.millisecondsSince1970
        try await w.parts.store.write { s in
            try await s.insertRecipient(
                RecipientRecord(
                    id: id, organizationId: w.manifest.organizationId, siteId: w.manifest.siteId,
                    needsAccessible: false, dataKey: wrapped, contact: contact, createdAt: at))
        }
        return id
    }

    /// `count` recipients with ring-wrapped data keys, written straight to the database.
    static func manyRecipients(_ w: TestWorld, _ count: Int) async throws -> [String] {
        let keys = w.parts.keys
        let org = w.manifest.organizationId
        let site = w.manifest.siteId
        let at = w.clock.now.millisecondsSince1970
        return try await w.parts.store.write { s in
            let wrapping = try await keys.primaryRingKey(s)
            var rows: [RecipientRecord] = []
            for i in 0..<count {
                let id = EntityID.make()
                let wrapped = try keys.envelope.newWrappedDataKey(subject: id, under: wrapping)
                let contact = try keys.envelope.seal(
                    try JSONEncoder().encode(["name": "Person \(i)"]), wrappedKey: wrapped, subject: id,
                    field: "contact")
                rows.append(
                    RecipientRecord(
                        id: id, organizationId: org, siteId: site, needsAccessible: false, dataKey: wrapped,
                        contact: contact, createdAt: at))
            }
            try await s.insertRecipients(rows)
            return rows.map(\.id)
        }
    }

    /// Every recipient's and staff member's sealed contact data opens with a process's keys that knew nothing of the
    /// ring before (as another server process would); how many opened.
    static func openEverything(_ w: TestWorld, fresh: Bool = true) async throws -> Int {
        let keys = fresh ? LockerKeys(try await ServerKeyFile.open(w.settings).keys) : w.parts.keys
        return try await w.parts.store.read { s in
            var n = 0
            for r in try await s.recipients(organization: w.manifest.organizationId) {
                guard let key = r.dataKey, let sealed = r.contact else { continue }
                try await keys.ensureWrappingKey(s, for: key)
                _ = try keys.envelope.open(sealed, wrappedKey: key, subject: r.id, field: "contact")
                n += 1
            }
            // Staff members' data keys seal their emails (and phones).
            for a in try await s.staffAccounts(organization: w.manifest.organizationId) {
                guard let key = a.dataKey, let sealed = a.emailSealed else { continue }
                try await keys.ensureWrappingKey(s, for: key)
                _ = try keys.envelope.open(sealed, wrappedKey: key, subject: a.id, field: "email")
                n += 1
            }
            return n
        }
    }

    static func ring(_ w: TestWorld) async throws -> [RingKeyRow] {
        try await w.parts.store.read { s in try await s.ringKeys() }
    }

    @Test(
        "a rotation re-wraps recipients' and staff members' data keys, old rows included; contact, consent and phone still open; the old key is destroyed",
        arguments: Backend.available)
    func rotate(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let p = try Self.admin(w)
            let r = try await w.parts.recipients.create(
                p,
                RecipientDraft(
                    siteId: w.manifest.siteId, name: "Ada Quill", email: "ada@example.org", phone: "+16175550123"))
            try await w.parts.recipients.setPreferences(
                p, id: r.id, [PreferenceChoice(.reminder, .sms, on: false)], source: .console,
                origin: "the front desk")
            _ = try await w.staffMember("oncall@example.org", .admin, sites: [w.manifest.siteId])
            try await w.staff.setPhone(email: "oncall@example.org", phone: "+15550100199")
            let account = try #require(
                try await w.parts.store.read { s in try await s.staffAccount(email: "oncall@example.org") })
            let legacy = try await Self.legacyRecipient(w, name: "Old Row")

            let before = try await Self.ring(w)
            let old = try #require(before.first { $0.state == "primary" })
            let status = try await Self.rotation(w).status()
            #expect(status.totals[old.id, default: 0] >= 2)
            #expect(status.totals[""] == 1)

            let out = try await Self.rotation(w).run(Self.quick())
            #expect(out.finished)
            #expect(out.skipped == 0)
            #expect(out.destroyed == [old.id])
            let total = status.totals.values.reduce(0, +)
            #expect(out.rewrapped == total)

            let after = try await Self.ring(w)
            let retired = try #require(after.first { $0.id == old.id })
            #expect(retired.state == "retired")
            #expect(retired.sealedKey == nil)
            #expect(after.first { $0.state == "primary" }?.id == out.newKey)
            #expect(try await Self.rotation(w).status().totals == [out.newKey: total])
            #expect(!w.parts.keys.ring.knows(try #require(RingKeyID(hex: old.id))))

            // What was sealed before opens after, through the flows and through a process that just started.
            let got = try await w.parts.recipients.get(p, id: r.id)
            #expect(got.email == "ada@example.org")
            #expect(got.phone == "+16175550123")
            let history = try await w.parts.recipients.preferences(p, id: r.id).history
            #expect(history.contains { $0.1 == "the front desk" })
            #expect(try await w.parts.onCall.contact(account: account.id)?.phone == "+15550100199")
            #expect(try await w.parts.recipients.get(p, id: legacy).name == "Old Row")
            #expect(try await Self.openEverything(w) == status.dataKeys.values.flatMap(\.values).reduce(0, +))

            // New data keys are wrapped by the new primary.
            let next = try await w.parts.recipients.create(p, RecipientDraft(siteId: w.manifest.siteId, name: "Bo"))
            let wrapped = try #require(try await w.parts.store.read { s in try await s.recipient(next.id) }?.dataKey)
            #expect(try EnvelopeCipher.wrappingKeyID(wrapped)?.hex == out.newKey)

            let types = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }.map(
                \.type)
            #expect(types.filter { $0 == "keys.rotation_started" }.count == 1)
            #expect(types.filter { $0 == "keys.rotated" }.count == 1)

            // A second rotation moves everything on again and destroys the first rotation's key.
            let second = try await Self.rotation(w).run(Self.quick())
            #expect(second.destroyed == [out.newKey])
            #expect(try await Self.rotation(w).status().totals == [second.newKey: total + 1])
            #expect(try await w.parts.recipients.get(p, id: r.id).email == "ada@example.org")
        }
    }

    @Test(
        "a rotation stopped halfway leaves every data key readable; a second run while the first holds it is refused, after its claim lapses it resumes and finishes",
        arguments: Backend.available)
    func interrupted(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let ids = try await Self.manyRecipients(w, 60)
            let total = try await Self.rotation(w).status().totals.values.reduce(0, +)
            let old = try #require(try await Self.ring(w).first { $0.state == "primary" }).id
            var o = Self.quick(batch: 7)
            o.stopAfterBatches = 3
            o.lease = .seconds(60)
            let first = try await Self.rotation(w).run(o)
            #expect(!first.finished)
            #expect(first.rewrapped == 21)
            let mixed = try await Self.rotation(w).status().totals
            #expect(mixed[old] == total - 21)
            #expect(mixed[first.newKey] == 21)
            #expect(try await Self.openEverything(w) == total)

            // The first run's claim still holds: a second says so and changes nothing.
            await #expect(throws: KeyRotationBusy.self) { try await Self.rotation(w).run(Self.quick()) }
            #expect(try await Self.rotation(w).status().totals == mixed)

            // Its claim lapses (the process died): the next run takes the rotation over and finishes it.
            try await w.parts.store.write { s in
                var r = try #require(try await s.openKeyRotation())
                r.leaseUntil = 0
                try await s.saveKeyRotation(r)
            }
            let second = try await Self.rotation(w).run(Self.quick(batch: 7))
            #expect(second.resumed)
            #expect(second.finished)
            #expect(second.rotationId == first.rotationId)
            #expect(second.newKey == first.newKey)
            #expect(second.rewrapped == total)
            #expect(second.destroyed == [old])
            #expect(try await Self.rotation(w).status().totals == [first.newKey: total])
            #expect(try await Self.openEverything(w) == total)
            #expect(ids.count == 60)
        }
    }

    @Test("recipients created while a rotation runs are all readable after it", arguments: Backend.available)
    func concurrentWrites(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            _ = try await Self.manyRecipients(w, 200)
            let p = try Self.admin(w)
            let desk = w.parts.recipients
            let site = w.manifest.siteId
            let rotation = Self.rotation(w)
            async let rotated = rotation.run(Self.quick(batch: 10))
            var made: [String] = []
            for i in 0..<40 {
                made.append(try await desk.create(p, RecipientDraft(siteId: site, name: "During \(i)")).id)
            }
            let out = try await rotated
            #expect(out.finished)
            #expect(out.skipped == 0)
            let totals = try await Self.rotation(w).status().totals
            #expect(totals.keys.sorted() == [out.newKey])
            for (i, id) in made.enumerated() { #expect(try await desk.get(p, id: id).name == "During \(i)") }
            #expect(try await Self.openEverything(w) == totals[out.newKey])
        }
    }

    @Test(
        "a data key naming a key the ring does not hold is a clear error, not a crash; a malformed one too",
        arguments: Backend.available)
    func unknownKey(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let p = try Self.admin(w)
            let r = try await w.parts.recipients.create(p, RecipientDraft(siteId: w.manifest.siteId, name: "Cy"))
            let stored = try #require(try await w.parts.store.read { s in try await s.recipient(r.id) })
            let original = try #require(stored.dataKey)
            let stranger = RingKeyID(bytes: Data(SecretGenerator.bytes(8)))
            var relabelled = original
            relabelled.replaceSubrange(1..<9, with: stranger.bytes)
            let forged = relabelled
            try await w.parts.store.write { s in
                _ = try await s.rewrapDataKeys(.recipients, [(r.id, original, forged)])
            }
            await #expect(throws: EnvelopeError.unknownWrappingKey(stranger.hex)) {
                try await w.parts.recipients.get(p, id: r.id)
            }
            try await w.parts.store.write { s in
                _ = try await s.rewrapDataKeys(.recipients, [(r.id, forged, Data(forged.prefix(20)))])
            }
            await #expect(throws: EnvelopeError.malformedWrappedKey(20)) {
                try await w.parts.recipients.get(p, id: r.id)
            }
            // A rotation leaves such rows as they were, counts them, and keeps what they still name.
            let out = try await Self.rotation(w).run(Self.quick())
            #expect(out.finished)
            #expect(out.skipped == 1)
        }
    }

    @Test("reseal puts the key file under a new KEK; with the old KEK deleted the server starts and everything opens")
    func reseal() async throws {
        try await TestWorld.with(.sqlite) { w in
            let p = try Self.admin(w)
            let r = try await w.parts.recipients.create(
                p, RecipientDraft(siteId: w.manifest.siteId, name: "Dee", email: "dee@example.org"))
            let newKEK = w.dir + "/new-kek"
            try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: newKEK)
            let before = try Data(contentsOf: URL(fileURLWithPath: w.settings.keysPath))
            // A wrong current KEK changes nothing.
            var wrong = w.settings
            let bogus = w.dir + "/bogus-kek"
            try PrivateFile.write(Data(SecretGenerator.bytes(32)), to: bogus)
            wrong.keyProvider = .kekFile(bogus)
            await #expect(throws: (any Error).self) { try await ServerKeyFile.reseal(wrong, to: .kekFile(newKEK)) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: w.settings.keysPath)) == before)

            let (from, to) = try await ServerKeyFile.reseal(w.settings, to: .kekFile(newKEK))
            #expect(from == "file")
            #expect(to == "file")
            try FileManager.default.removeItem(atPath: w.dir + "/kek")
            var moved = w.settings
            moved.keyProvider = .kekFile(newKEK)
            let parts = try await buildParts(settings: moved, logger: TestWorld.logger)
            do {
                let desk = RecipientDesk(ledger: parts.desk.ledger, keys: parts.keys)
                #expect(try await desk.get(p, id: r.id).email == "dee@example.org")
                await parts.store.close()
            } catch {
                await parts.store.close()
                throw error
            }
            // The old settings no longer open the key file.
            await #expect(throws: (any Error).self) { try await ServerKeyFile.open(w.settings) }
        }
    }
}
