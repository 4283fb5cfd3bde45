import Crypto
import CubbyCrypto
import Foundation
import Testing

@Suite("SealedPayload")
struct SealedPayloadTests {
    let sealer = SealedPayload(key: SymmetricKey(size: .bits256))
    let message = Data("+15551234567 your PIN is 0123456789".utf8)

    @Test("round trip")
    func roundTrip() throws {
        let sealed = try sealer.seal(message, context: "outbox:42")
        #expect(sealed.count == KeyedSealer.overhead + message.count)
        #expect(KeyedSealer.keyId(of: sealed) == sealer.keyIdHex, "the ciphertext names its key")
        #expect(sealed.range(of: message) == nil, "plaintext visible in the sealed bytes")
        #expect(try sealer.open(sealed, context: "outbox:42") == message)
        #expect(try sealer.open(sealer.seal(Data(), context: "c"), context: "c") == Data())
    }

    @Test("two seals of the same plaintext differ")
    func freshNonce() throws {
        #expect(try sealer.seal(message, context: "c") != sealer.seal(message, context: "c"))
    }

    @Test("the wrong context fails", arguments: ["outbox:43", "", "outbox:42 ", "OUTBOX:42"])
    func wrongContext(context: String) throws {
        let sealed = try sealer.seal(message, context: "outbox:42")
        #expect(throws: (any Error).self) { try sealer.open(sealed, context: context) }
    }

    @Test("the wrong key fails")
    func wrongKey() throws {
        let sealed = try sealer.seal(message, context: "c")
        #expect(throws: (any Error).self) {
            try SealedPayload(key: SymmetricKey(size: .bits256)).open(sealed, context: "c")
        }
    }

    @Test("a value sealed under another key is refused by that key's id")
    func otherKeyNamed() throws {
        let other = SealedPayload(key: SymmetricKey(size: .bits256))
        let sealed = try other.seal(message, context: "c")
        #expect(throws: KeyedSealerError.otherKey(other.keyIdHex)) { try sealer.open(sealed, context: "c") }
        #expect(other.keyIdHex != sealer.keyIdHex)
    }

    @Test("values sealed before ciphertexts named their key still open, and only with their key and context")
    func unkeyedStillRead() throws {
        let old = try sealer.sealUnkeyed(message, context: "outbox:42")
        #expect(old.count == 12 + message.count + 16)
        #expect(try sealer.open(old, context: "outbox:42") == message)
        #expect(throws: (any Error).self) { try sealer.open(old, context: "outbox:43") }
        #expect(throws: (any Error).self) {
            try SealedPayload(key: SymmetricKey(size: .bits256)).open(old, context: "outbox:42")
        }
        // An old value whose random nonce happens to start like the keyed format still opens the old way.
        var lookalike = old
        while !KeyedSealer.isSealed(lookalike) { lookalike = try sealer.sealUnkeyed(message, context: "c") }
        #expect(try sealer.open(lookalike, context: "c") == message)
    }

    @Test("altering any byte (version, key id, nonce, ciphertext or tag) fails")
    func tamper() throws {
        let sealed = try sealer.seal(message, context: "c")
        for i in sealed.indices {
            var t = sealed
            t[i] ^= 0x80
            #expect(throws: (any Error).self, "byte \(i)") { try sealer.open(t, context: "c") }
        }
    }

    @Test("truncated or extended data fails")
    func truncated() throws {
        let sealed = try sealer.seal(message, context: "c")
        #expect(throws: (any Error).self) { try sealer.open(sealed.dropLast(), context: "c") }
        #expect(throws: (any Error).self) { try sealer.open(sealed + Data([0]), context: "c") }
        #expect(throws: (any Error).self) { try sealer.open(Data(), context: "c") }
    }
}

@Suite("EnvelopeCipher")
struct EnvelopeCipherTests {
    let cipher = EnvelopeCipher(keyEncryptionKey: SymmetricKey(size: .bits256))
    let email = Data("alice@example.org".utf8)
    let ringKey = RingKey.generate()

    init() throws {
        try cipher.ring.open(id: ringKey.id, sealed: try cipher.ring.seal(ringKey))
    }

    @Test("round trip under a subject's data key")
    func roundTrip() throws {
        let wrapped = try cipher.newWrappedDataKey(subject: "alice", under: ringKey)
        let sealed = try cipher.seal(email, wrappedKey: wrapped, subject: "alice", field: "email")
        #expect(try cipher.open(sealed, wrappedKey: wrapped, subject: "alice", field: "email") == email)
    }

    @Test("once the wrapped key is gone nothing opens: neither another subject's key nor a new key for the subject")
    func erasure() throws {
        let alice = try cipher.newWrappedDataKey(subject: "alice", under: ringKey)
        let bob = try cipher.newWrappedDataKey(subject: "bob", under: ringKey)
        let sealed = try cipher.seal(email, wrappedKey: alice, subject: "alice", field: "email")
        // Alice's wrapped key is discarded; what is left cannot open her data.
        #expect(throws: (any Error).self) { try cipher.open(sealed, wrappedKey: bob, subject: "alice", field: "email") }
        #expect(throws: (any Error).self) { try cipher.open(sealed, wrappedKey: bob, subject: "bob", field: "email") }
        let replacement = try cipher.newWrappedDataKey(subject: "alice", under: ringKey)
        #expect(throws: (any Error).self) {
            try cipher.open(sealed, wrappedKey: replacement, subject: "alice", field: "email")
        }
    }

    @Test("the wrapped key, the field and the key-encryption key are all bound")
    func binding() throws {
        let alice = try cipher.newWrappedDataKey(subject: "alice", under: ringKey)
        let sealed = try cipher.seal(email, wrappedKey: alice, subject: "alice", field: "email")
        #expect(throws: (any Error).self) {
            try cipher.open(sealed, wrappedKey: alice, subject: "alice", field: "phone")
        }
        // Alice's wrapped key does not unwrap for another subject.
        #expect(throws: (any Error).self) { try cipher.seal(email, wrappedKey: alice, subject: "bob", field: "email") }
        let otherKEK = EnvelopeCipher(keyEncryptionKey: SymmetricKey(size: .bits256))
        #expect(throws: (any Error).self) {
            try otherKEK.open(sealed, wrappedKey: alice, subject: "alice", field: "email")
        }
    }

    @Test("each new data key is different")
    func freshKeys() throws {
        let a = try cipher.newWrappedDataKey(subject: "alice", under: ringKey)
        let b = try cipher.newWrappedDataKey(subject: "alice", under: ringKey)
        #expect(a != b)
        let sealed = try cipher.seal(email, wrappedKey: a, subject: "alice", field: "email")
        #expect(throws: (any Error).self) { try cipher.open(sealed, wrappedKey: b, subject: "alice", field: "email") }
    }
}

@Suite("ServerKeys")
struct ServerKeysTests {
    /// A fresh temporary directory, removed by the caller.
    private func tempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func raw(_ k: SymmetricKey) -> [UInt8] { k.withUnsafeBytes { Array($0) } }

    private func sameKeys(_ a: ServerKeys, _ b: ServerKeys) -> Bool {
        raw(a.secretHashKey) == raw(b.secretHashKey)
            && a.qrSigningKey.rawRepresentation == b.qrSigningKey.rawRepresentation
            && raw(a.outboxKey) == raw(b.outboxKey)
            && raw(a.keyEncryptionKey) == raw(b.keyEncryptionKey)
    }

    @Test("loadOrCreate creates a mode-0600 key file, and load gives the same keys back")
    func createAndLoad() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sub/dir/server-keys.json").path
        let created = try ServerKeys.loadOrCreate(path: path)
        #expect(FileManager.default.fileExists(atPath: path))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let mode = try #require(attributes[.posixPermissions] as? NSNumber).intValue
        #expect(mode & 0o777 == 0o600, "mode is \(String(mode, radix: 8))")

        let loaded = try ServerKeys.load(path: path)
        #expect(sameKeys(created, loaded))
        #expect(raw(created.secretHashKey).count == 32)
        #expect(Set([raw(created.secretHashKey), raw(created.outboxKey), raw(created.keyEncryptionKey)]).count == 3)

        // A second loadOrCreate reads the existing file rather than replacing it.
        let again = try ServerKeys.loadOrCreate(path: path)
        #expect(sameKeys(created, again))
        // No temporary files are left behind.
        let left = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        #expect(left == ["server-keys.json"])
    }

    @Test("keys from the file work: a token issued with the created keys verifies with the loaded ones")
    func loadedKeysWork() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("k.json").path
        let created = try ServerKeys.loadOrCreate(path: path)
        let loaded = try ServerKeys.load(path: path)
        let claims = QRTokenClaims(parcel: UUID(), unit: UUID(), compartment: UUID(), expiresAt: Date())
        let token = try QRTokenSigner(privateKey: created.qrSigningKey).issue(claims)
        #expect(QRTokenSigner(publicKey: loaded.qrSigningKey.publicKey).verify(token) == claims)
        #expect(KeyedHasher(key: created.secretHashKey).hash("1") == KeyedHasher(key: loaded.secretHashKey).hash("1"))
    }

    @Test("two separate generations differ")
    func generateRandom() {
        #expect(!sameKeys(ServerKeys.generate(), ServerKeys.generate()))
    }

    @Test(
        "a malformed key file throws malformedKeyFile",
        arguments: [
            "not json at all",
            "{}",
            #"{"version":1,"secretHashKey":"AAAA","qrSigningKey":"AAAA","outboxKey":"AAAA","keyEncryptionKey":"AAAA"}"#,
            #"{"version":1,"secretHashKey":"%%%","qrSigningKey":"x","outboxKey":"y","keyEncryptionKey":"z"}"#,
        ]
    )
    func malformed(content: String) throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.json").path
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: KeyMaterialError.self) { try ServerKeys.load(path: path) }
        guard case .malformedKeyFile = error else {
            Issue.record("expected malformedKeyFile, got \(String(describing: error))")
            return
        }
        // loadOrCreate does not overwrite a bad file with new keys either.
        #expect(throws: KeyMaterialError.self) { try ServerKeys.loadOrCreate(path: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == content)
    }

    @Test("a key file with one short key is refused")
    func shortKey() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.json").path
        _ = try ServerKeys.loadOrCreate(path: good)
        var json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: good))) as? [String: Any])
        json["outboxKey"] = Data(repeating: 1, count: 31).base64EncodedString()
        let bad = dir.appendingPathComponent("bad.json").path
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: bad))
        let error = #expect(throws: KeyMaterialError.self) { try ServerKeys.load(path: bad) }
        guard case .malformedKeyFile(let message) = error else {
            Issue.record("expected malformedKeyFile, got \(String(describing: error))")
            return
        }
        #expect(message.contains("outboxKey"))
    }
}
