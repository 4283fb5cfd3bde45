import Crypto
import CubbyCore
import CubbyCrypto
import CubbyEdge
import Foundation
import Testing

@Suite("the unit's journal seals its secrets")
struct JournalSealingTests {
    static let state = #"{"pinKey":"UElOLWtleS1vZi10aGUtdW5pdC1rZXB0LXNlY3JldCE=","unitId":"u1"}"#
    static let still = Data([0xFF, 0xD8, 0xFF, 0xE0] + (0..<4000).map { UInt8(($0 * 7) % 256) })

    func directory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    /// Every byte of the journal's files: the database and its write-ahead log.
    func onDisk(_ path: String) -> Data {
        [path, path + "-wal"].reduce(into: Data()) { $0.append(FileManager.default.contents(atPath: $1) ?? Data()) }
    }

    @Test("the saved state (PIN key) and the stills are not in the journal's files; the key opens them again")
    func sealedAtRest() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/journal.sqlite"
        let key = KeyedSealer(key: SymmetricKey(size: .bits256))
        let journal = try await EdgeJournal.open(path: path, key: key, logger: TestWorld.logger)
        try await journal.set("unitState", Self.state)
        try await journal.set("ackedSeq", "0")
        let event = try await journal.append(.tamper, photo: Self.still)
        let bytes = onDisk(path)
        #expect(bytes.range(of: Data("UElOLWtleS1vZi10aGUt".utf8)) == nil, "the PIN key is in clear")
        #expect(bytes.range(of: Self.still.prefix(64)) == nil, "the still is in clear")
        await journal.close()

        let reopened = try await EdgeJournal.open(path: path, key: key, logger: TestWorld.logger)
        #expect(try await reopened.get("unitState") == Self.state)
        #expect(try await reopened.get("ackedSeq") == "0")
        let entries = try await reopened.entries(after: 0, limit: 10)
        #expect(entries.map(\.event.seq) == [event.seq])
        #expect(entries.first?.photo == Self.still)
        #expect(try await reopened.verifyChain() == nil)
        await reopened.close()

        // Another key, or none, is refused at once with a reason, not at the first pickup.
        for other in [KeyedSealer(key: SymmetricKey(size: .bits256)), nil] {
            await #expect {
                _ = try await EdgeJournal.open(path: path, key: other, logger: TestWorld.logger)
            } throws: { error in
                guard case EdgeJournalError.sealed(let why) = error else { return false }
                return why.contains("unitState")
            }
        }
    }

    @Test("the runtime makes the key on first start, refuses a sealed journal without it, and takes over an old one")
    func runtimeKey() async throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = EdgeRunOptions(stateDirectory: dir)
        let first = try await EdgeRuntime.openJournal(options, logger: TestWorld.logger)
        try await first.set("unitState", Self.state)
        await first.close()
        let keyPath = JournalKey.defaultPath(in: dir)
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(Data(base64Encoded: try String(contentsOfFile: keyPath, encoding: .utf8))?.count == 32)
        #expect(onDisk(dir + "/journal.sqlite").range(of: Data("UElOLWtleS1vZi10aGUt".utf8)) == nil)

        // The key moved elsewhere: named, it opens; left out, the journal is refused and no new key is made.
        let elsewhere = try directory()
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        try FileManager.default.moveItem(atPath: keyPath, toPath: elsewhere + "/unit.key")
        await #expect {
            _ = try await EdgeRuntime.openJournal(options, logger: TestWorld.logger)
        } throws: { "\($0)".contains("journal key") && "\($0)".contains("missing") }
        #expect(!FileManager.default.fileExists(atPath: keyPath))
        options.journalKeyPath = elsewhere + "/unit.key"
        let moved = try await EdgeRuntime.openJournal(options, logger: TestWorld.logger)
        #expect(try await moved.get("unitState") == Self.state)
        await moved.close()

        // A journal written before sealing gets a key; what it holds in clear is still read, and sealed when saved.
        let old = try directory()
        defer { try? FileManager.default.removeItem(atPath: old) }
        let plain = try await EdgeJournal.open(path: old + "/journal.sqlite", key: nil, logger: TestWorld.logger)
        try await plain.set("unitState", Self.state)
        try await plain.append(.tamper, photo: Self.still)
        await plain.close()
        let upgraded = try await EdgeRuntime.openJournal(EdgeRunOptions(stateDirectory: old), logger: TestWorld.logger)
        #expect(FileManager.default.fileExists(atPath: JournalKey.defaultPath(in: old)))
        #expect(try await upgraded.get("unitState") == Self.state)
        #expect(try await upgraded.entries(after: 0, limit: 5).first?.photo == Self.still)
        try await upgraded.set("unitState", Self.state)
        let rows = try await upgraded.rawSetting("unitState")
        #expect(rows?.hasPrefix("sealed:") == true)
        await upgraded.close()
    }
}
