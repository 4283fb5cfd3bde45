import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyEdge
import CubbyKiosk
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Logging
import Testing

@Suite("Rotating the keys that sign checkpoints and QR tokens")
struct SigningKeyRotationTests {
    static func keys(_ w: TestWorld) async throws -> ServerKeys {
        try await ServerKeyFile.open(w.settings).keys
    }

    static func rotate(
        _ w: TestWorld, _ purposes: [SigningKeyPurpose], overlap: Duration?
    ) async throws -> [SigningKeyRotation.Rotated] {
        try await SigningKeyRotation.rotate(
            log: w.parts.auditLog, keys: try await keys(w), purposes: purposes, overlap: overlap,
            clock: w.clock.serverClock)
    }

    /// Drops a parcel off at the test unit and returns its QR token.
    static func qrToken(_ w: TestWorld, _ tracking: String) async throws -> String {
        try await w.test { c in
            let r = try await c.call(
                .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                json: ParcelFlowTests.dropoffBody(tracking, w.manifest.recipients[0].id, "S"))
            #expect(r.status == 201)
        }
        try await w.settle()
        let note = try w.notifications().last { $0["kind"] == "parcel.deposited" && $0["trackingNumber"] == tracking }
        return try #require(note?["qr"])
    }

    static func pickup(_ w: TestWorld, _ code: String) async throws -> Int {
        try await w.test { c in
            try await c.call(.post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(code)"}"#)
                .status
        }
    }

    static func orgLog(_ w: TestWorld) throws -> AuditLogID {
        .organization(try #require(OrganizationID(uuidString: w.manifest.organizationId)))
    }

    @Test(
        "QR: tokens by the old key pick up during the overlap, new tokens are signed by the new key, and after the overlap the old key's tokens are refused",
        arguments: Backend.available)
    func qrTokensAcrossRotation(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let oldKey = try await Self.keys(w).qrSigningKey.publicKey
            let early = try await Self.qrToken(w, "QRA")
            let late = try await Self.qrToken(w, "QRB")
            #expect(QRTokenSigner(publicKey: oldKey).verify(early) != nil)

            let rotated = try await Self.rotate(w, [.qr], overlap: .seconds(3600))
            #expect(rotated.count == 1 && rotated[0].purpose == .qr)
            let newKey = try Curve25519.Signing.PublicKey(rawRepresentation: rotated[0].newPublicKey)
            // The key file is the same: the new key lives in the database.
            #expect(try await Self.keys(w).qrSigningKey.publicKey.rawRepresentation == oldKey.rawRepresentation)

            #expect(try await Self.pickup(w, early) == 200, "a token by the old key opens during the overlap")
            let fresh = try await Self.qrToken(w, "QRC")
            #expect(QRTokenSigner(publicKey: newKey).verify(fresh) != nil, "new tokens are signed by the new key")
            #expect(QRTokenSigner(publicKey: oldKey).verify(fresh) == nil)

            // A unit learns both keys, each with its end.
            let states = UnitStates(
                store: w.parts.store, keys: w.parts.keys, policy: .standard, clock: w.clock.serverClock,
                hub: w.parts.hub, logger: TestWorld.logger)
            let state = try await states.state(unitId: w.unit)
            #expect(state.qrPublicKey == newKey.rawRepresentation.base64EncodedString())
            #expect(state.qrEarlierKeys?.map(\.publicKey) == [oldKey.rawRepresentation.base64EncodedString()])
            #expect(state.qrEarlierKeys?.first?.until == rotated[0].overlapUntil)

            // Two hours on: the parcels are still waiting (a week's lifetime), but the old key's overlap is over.
            w.clock.advance(7200)
            #expect(try await Self.pickup(w, late) == 403, "the old key's token is refused after the overlap")
            #expect(try await Self.pickup(w, fresh) == 200)
            #expect(try await states.state(unitId: w.unit).qrEarlierKeys == nil)

            let events = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
            let rotation = try #require(events.last { $0.type == "log.key_rotated" })
            #expect(rotation.organizationId == nil, "a QR rotation is recorded in the deployment's log")
            #expect(rotation.actorRole == "console")
        }
    }

    @Test("the default overlap outlasts every QR token already issued")
    func defaultOverlap() async throws {
        try await TestWorld.with(.sqlite) { w in
            _ = try await Self.qrToken(w, "QRD")
            let overlap = try await w.parts.store.read { s in
                try await SigningKeyRotation.defaultOverlap(s, now: w.clock.now.millisecondsSince1970)
            }
            #expect(overlap >= .seconds(604_800), "the sites' pickup lifetime is a week")
            let latest = try await w.parts.store.read { s in try await s.qrTokenLifetimes().latestExpiry }
            #expect(
                w.clock.now.millisecondsSince1970 + Int64(overlap.components.seconds) * 1000 >= (latest ?? 0))
        }
    }

    @Test(
        "checkpoints: two signatures during the overlap, the new key's alone after it; audit verify follows the history",
        arguments: Backend.available)
    func checkpointsAcrossRotation(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let log = w.parts.auditLog
            let org = try Self.orgLog(w)
            _ = try await log.latestCheckpoint(org)
            let genesis = log.publicKey
            let origin = try await log.identity(org).origin
            let originBefore = origin

            let rotated = try await Self.rotate(w, [.checkpoint], overlap: .seconds(3600))
            #expect(rotated[0].logs >= 2, "the deployment's log and the organization's")
            let newKey = try Curve25519.Signing.PublicKey(rawRepresentation: rotated[0].newPublicKey)
            #expect(try await log.identity(org).origin == originBefore, "the origin never changes")

            for target in [org, AuditLogID.deployment] {
                let o = try await log.identity(target).origin
                let note = try SignedNote(parsing: try await log.latestCheckpoint(target).note)
                #expect(note.signatures.count == 2, "signed by both keys during the overlap")
                try NoteVerifier(keyName: o, publicKey: genesis).verify(note)
                try NoteVerifier(keyName: o, publicKey: newKey).verify(note)
            }
            let served = try await log.identity(org).verifierKey
            #expect(served == (try NoteVerifier(keyName: origin, publicKey: newKey)).verifierKey)

            try await AuditLogTests.events(
                w.parts.store, 3, tag: "after", organization: UUID(uuidString: w.manifest.organizationId))
            w.clock.advance(7200)
            try await log.checkpointIfDue()
            let after = try SignedNote(parsing: try await log.latestCheckpoint(org).note)
            #expect(after.signatures.count == 1, "after the overlap only the new key signs")
            try NoteVerifier(keyName: origin, publicKey: newKey).verify(after)

            // A second rotation with no overlap: the first checkpoint over it still carries the old key's signature.
            _ = try await Self.rotate(w, [.checkpoint], overlap: .seconds(0))
            let handover = try SignedNote(parsing: try await log.latestCheckpoint(org).note)
            #expect(handover.signatures.count == 2)

            // An organization created after the rotations: its genesis names the key in force.
            let b = try await DemoSeed(parts: w.parts).seed(
                server: "http://test", organizationName: "Lakeside Living", siteName: "Lakeside North",
                superAdminEmail: "ops@lakeside.example")
            let logB = AuditLogID.organization(try #require(OrganizationID(uuidString: b.organizationId)))
            _ = try await log.latestCheckpoint(logB)
            try await log.checkpointIfDue()

            let reports = try await AuditVerifier.all(store: w.parts.store, publicKey: genesis)
            for r in reports { #expect(r.ok, "\(r.log): \(r.problem?.description ?? "")") }
            let orgReport = try #require(reports.first { $0.log == org })
            #expect(orgReport.keys.count == 3)
            #expect(reports.contains { $0.log == logB && $0.ok })

            // The forensic bundle carries the history: it verifies from the key file's key and from the new one.
            let built = try await ForensicBundleBuilder(log: log, store: w.parts.store, keys: w.parts.keys).build(
                org, organization: nil, from: 0, to: .max)
            #expect(built.bundle.files[EvidenceBundle.keyHistoryFile] != nil)
            let pinnedGenesis = try NoteVerifier(keyName: origin, publicKey: genesis).verifierKey
            let fromGenesis = try built.bundle.verify(pinnedKey: pinnedGenesis)
            #expect(fromGenesis.rotations == 2)
            #expect(try built.bundle.verify(pinnedKey: built.verifierKey).rotations == 0)
            var stripped = built.bundle
            stripped.files[EvidenceBundle.keyHistoryFile] = nil
            #expect(throws: BundleError.self) { try stripped.verify(pinnedKey: pinnedGenesis) }
            #expect(try stripped.verify(pinnedKey: built.verifierKey).events == built.events, "an old-style bundle")

            // The later organization's bundle carries the deployment log's rotations that came before it opened.
            let originB = try await log.identity(logB).origin
            let builtB = try await ForensicBundleBuilder(log: log, store: w.parts.store, keys: w.parts.keys).build(
                logB, organization: nil, from: 0, to: .max)
            let fromGenesisB = try builtB.bundle.verify(
                pinnedKey: try NoteVerifier(keyName: originB, publicKey: genesis).verifierKey)
            #expect(fromGenesisB.rotations == 2)

            // The API serves the history a witness follows.
            try await w.test { c in
                let r = try await c.call(.get, "/api/v1/audit/key", token: w.manifest.auditorToken)
                #expect(r.status == 200)
                #expect(r.body.str("key") == built.verifierKey)
                let history = try #require(r.body["history"] as? [[String: Any]])
                #expect(history.count == 2)
                let data = try JSONSerialization.data(withJSONObject: history)
                let steps = try JSONDecoder().decode([LogKeyRotation].self, from: data)
                let followed = try LogKeyRotation.follow(
                    from: NoteVerifier(keyName: origin, publicKey: genesis), history: steps)
                #expect(followed.current.verifierKey == built.verifierKey)
            }
        }
    }

    @Test(
        "a forged rotation, a checkpoint by an unknown key and one by a retired key fail verification",
        arguments: Backend.available)
    func forgeries(_ backend: Backend) async throws {
        for forgery in ["rotation", "unknown", "retired"] {
            try await TestWorld.with(backend) { w in
                let log = w.parts.auditLog
                let org = try Self.orgLog(w)
                let orgId = UUID(uuidString: w.manifest.organizationId)
                _ = try await log.latestCheckpoint(org)
                let origin = try await log.identity(org).origin
                let genesis = log.publicKey
                var signer = Curve25519.Signing.PrivateKey()
                if forgery == "rotation" {
                    // Someone with the database but not the key writes a rotation to a key of theirs.
                    let attacker = signer
                    try await w.parts.store.write { s in
                        try await s.appendAudit(
                            AuditRecord(
                                occurredAt: w.clock.now, event: .logKeyRotated, actor: .console, organizationId: orgId,
                                detail: [
                                    "purpose": "checkpoint",
                                    "oldPublicKey": genesis.rawRepresentation.base64EncodedString(),
                                    "newPublicKey": attacker.publicKey.rawRepresentation.base64EncodedString(),
                                ]))
                    }
                } else {
                    if forgery == "retired" {
                        _ = try await Self.rotate(w, [.checkpoint], overlap: .seconds(60))
                        w.clock.advance(120)
                        signer = try await Self.keys(w).checkpointSigningKey
                    }
                    try await AuditLogTests.events(w.parts.store, 2, tag: "f", organization: orgId)
                }
                try await log.sequence()
                // A checkpoint of the grown tree signed by that key alone, inserted behind the server's back.
                let state = try #require(try await w.parts.store.read { s in try await s.auditLog(org) })
                let root = try MerkleFrontier(serialized: [UInt8](state.frontier)).rootHash()
                let note = try NoteSigner(keyName: origin, privateKey: signer).sign(
                    try Checkpoint(origin: origin, size: UInt64(state.size), rootHash: root)
                ).serialized
                try await w.parts.store.write { s in
                    try await s.insertCheckpoint(org, size: state.size, root: Data(root.bytes), note: note, at: 0)
                }
                let reports = try await AuditVerifier.all(store: w.parts.store, publicKey: genesis, only: org)
                let report = try #require(reports.first { $0.log == org })
                let message = report.problem?.description ?? ""
                switch forgery {
                case "rotation": #expect(message.contains("is not vouched for"), "\(message)")
                case "unknown": #expect(message.contains("is not signed by the log's key for that size"), "\(message)")
                default: #expect(message.contains("signed only by the retired key"), "\(message)")
                }
            }
        }
    }

    @Test("the key file, its header and the logs signed before any rotation still load and verify")
    func keyFileUnchanged() async throws {
        try await TestWorld.with(.sqlite) { w in
            let before = try #require(FileManager.default.contents(atPath: w.settings.keysPath))
            let keys = try await Self.keys(w)
            _ = try await Self.rotate(w, [.checkpoint, .qr], overlap: nil)
            #expect(FileManager.default.contents(atPath: w.settings.keysPath) == before)
            let header = try await ServerKeyFile.checkpointPublicKey(path: w.settings.keysPath)
            #expect(header.rawRepresentation == keys.checkpointSigningKey.publicKey.rawRepresentation)
            // Another process (a fresh ring) opens the rotated keys under the same key-encryption key.
            let ring = SigningKeyRing(keys)
            try await w.parts.store.read { s in try await ring.refresh(s, now: 0) }
            #expect(ring.chain(.checkpoint).count == 2 && ring.chain(.qr).count == 2)
            #expect(
                ring.current(.qr).publicKey.rawRepresentation
                    == w.parts.keys.signing.current(.qr).publicKey.rawRepresentation)
            // A ring under another key-encryption key cannot open them, and says so.
            let stranger = SigningKeyRing(
                checkpoint: keys.checkpointSigningKey, qr: keys.qrSigningKey, kek: SymmetricKey(size: .bits256))
            await #expect(throws: (any Error).self) {
                try await w.parts.store.read { s in try await stranger.refresh(s, now: 0) }
            }
        }
    }

    @Test("cubby keys rotate-signing, then cubby audit verify, bundle and verify-bundle, as child processes")
    func commandLine() async throws {
        guard FileManager.default.isExecutableFile(atPath: ProvisioningCommandLineTests.binary) else { return }
        let world = try await TestWorld.make(.sqlite)
        let genesis = world.parts.auditLog.publicKey
        let origin = try await world.parts.auditLog.identity(try Self.orgLog(world)).origin
        // The child processes open the same SQLite file; this process lets go of it first.
        await world.parts.store.close()
        defer { try? FileManager.default.removeItem(atPath: world.dir) }
        guard case .sqlite(let path) = world.settings.database else { return }
        let common = [
            "--database", "sqlite:\(path)", "--keys", world.settings.keysPath, "--kek-file", world.dir + "/kek",
            "--log-level", "error",
        ]
        let cubby = ProvisioningCommandLineTests.cubby
        let (bad, _, badError) = try cubby(["keys", "rotate-signing", "--overlap", "soon"] + common)
        #expect(bad != 0 && badError.contains("--overlap"), "\(badError)")
        let (status, out, err) = try cubby(["keys", "rotate-signing", "--overlap", "1h"] + common)
        #expect(status == 0, "\(err)")
        #expect(out.contains("rotated the checkpoint key") && out.contains("rotated the qr key"), "\(out)")

        let (verified, report, verifyError) = try cubby(["audit", "verify"] + common)
        #expect(verified == 0, "\(report)\(verifyError)")
        #expect(report.contains("across 1 key rotations"), "\(report)")

        let zip = world.dir + "/bundle.zip"
        let (bundled, _, bundleError) = try cubby(
            ["audit", "bundle", "--out", zip, "--evidence", world.dir] + common)
        #expect(bundled == 0, "\(bundleError)")
        let first = try NoteVerifier(keyName: origin, publicKey: genesis).verifierKey
        let (checked, checkOut, _) = try cubby(["audit", "verify-bundle", zip, "--key", first])
        #expect(checked == 0, "\(checkOut)")
        let stranger = try NoteVerifier(keyName: origin, publicKey: Curve25519.Signing.PrivateKey().publicKey)
        let (refused, refusedOut, _) = try cubby(["audit", "verify-bundle", zip, "--key", stranger.verifierKey])
        #expect(refused == 1, "\(refusedOut)")
    }

    @Test(
        "a unit learns the new QR key and, offline, opens for a token by the old key during the overlap and for one by the new",
        arguments: Backend.available)
    func unitAcceptsBothKeys(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false, start: Date()) { world in
            let listener = try await EdgeListener.start(world)
            let token = try await EdgeLinkTests.enroll(world, listener)
            let unit = try await TestUnit.start(world, listener: listener, token: token)
            try await eventually("the link is up") { unit.link.isOnline }
            let (_, early) = try await EdgeLinkTests.deposit(world, unit, tracking: "ROT1")
            let earlyQR = try #require(try world.notifications().last { $0["parcelId"] == early }?["qr"])

            world.catchUpWithWallClock()
            _ = try await Self.rotate(world, [.qr], overlap: .seconds(3600))
            // The next deposit sends the unit its state, with the new key and the replaced one.
            let (_, late) = try await EdgeLinkTests.deposit(world, unit, tracking: "ROT2")
            let lateQR = try #require(try world.notifications().last { $0["parcelId"] == late }?["qr"])
            try await eventually("the unit holds both codes") { await unit.controller.condition().liveCodes >= 2 }

            await unit.disconnect()
            // The same claims signed by a key nobody handed over are refused.
            let claims = try #require(QRTokenSigner(publicKey: world.parts.keys.qr.publicKey).verify(lateQR))
            let forged = try QRTokenSigner(privateKey: Curve25519.Signing.PrivateKey()).issue(claims)
            #expect(await unit.controller.pickup(code: forged, method: .qr) == .rejected)
            let first = await unit.controller.pickup(code: earlyQR, method: .qr)
            #expect(first.isOpened, "the old key's token opens offline during the overlap: \(first)")
            let second = await unit.controller.pickup(code: lateQR, method: .qr)
            #expect(second.isOpened, "the new key's token opens offline: \(second)")
            await unit.stop()
            await listener.stop()
        }
    }
}
