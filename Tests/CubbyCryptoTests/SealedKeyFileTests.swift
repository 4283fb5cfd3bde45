import Crypto
import CubbyCrypto
import Foundation
import Testing

@Suite("SealedKeyFile")
struct SealedKeyFileTests {
    let keys = ServerKeys.generate()
    let kek = SymmetricKey(size: .bits256)

    private func raw(_ k: SymmetricKey) -> [UInt8] { k.withUnsafeBytes { Array($0) } }

    private func same(_ a: ServerKeys, _ b: ServerKeys) -> Bool {
        raw(a.secretHashKey) == raw(b.secretHashKey) && raw(a.outboxKey) == raw(b.outboxKey)
            && raw(a.keyEncryptionKey) == raw(b.keyEncryptionKey)
            && a.qrSigningKey.rawRepresentation == b.qrSigningKey.rawRepresentation
            && a.checkpointSigningKey.rawRepresentation == b.checkpointSigningKey.rawRepresentation
    }

    @Test("sealed keys round-trip through the file's bytes, and no secret is in them")
    func roundTrip() throws {
        let file = try SealedKeyFile.seal(keys, kek: kek, provider: "file")
        let bytes = try file.encoded()
        let back = try #require(SealedKeyFile.decode(bytes))
        #expect(back == file)
        #expect(back.version == 3 && back.provider == "file" && back.kekId.count == 16)
        #expect(same(try back.open(kek: kek, path: "k.json"), keys))
        let text = String(decoding: bytes, as: UTF8.self)
        for secret in [
            Data(raw(keys.secretHashKey)), Data(raw(keys.outboxKey)), Data(raw(keys.keyEncryptionKey)),
            keys.qrSigningKey.rawRepresentation, keys.checkpointSigningKey.rawRepresentation,
        ] {
            #expect(!text.contains(secret.base64EncodedString()))
            #expect(bytes.range(of: secret) == nil)
        }
        // The public halves are in the header, so the audit log can be checked without the KEK.
        #expect(back.checkpointVerifyingKey?.rawRepresentation == keys.checkpointSigningKey.publicKey.rawRepresentation)
    }

    @Test("a wrong key-encryption key is recognised by its id before anything is opened")
    func wrongKEK() throws {
        let file = try SealedKeyFile.seal(keys, kek: kek, provider: "passphrase")
        let other = SymmetricKey(size: .bits256)
        #expect(SealedKeyFile.kekId(other) != file.kekId)
        #expect(SealedKeyFile.kekId(kek) == file.kekId)
        let error = #expect(throws: KeyFileError.self) { try file.open(kek: other, path: "k.json") }
        #expect(error?.description.contains("not the one this file was sealed with") == true)
    }

    @Test(
        "a file altered anywhere does not open",
        arguments: ["sealed", "provider", "qrPublicKey", "checkpointPublicKey", "wrappedKey", "scrypt", "kekId"])
    func tampered(field: String) throws {
        var file = try SealedKeyFile.seal(
            keys, kek: kek, provider: "command", wrappedKey: Data(repeating: 7, count: 40).base64EncodedString())
        let otherKeys = ServerKeys.generate()
        switch field {
        case "sealed":
            var bytes = try #require(Data(base64Encoded: file.sealed))
            bytes[20] ^= 0x01
            file.sealed = bytes.base64EncodedString()
        case "provider": file.provider = "file"
        case "qrPublicKey": file.qrPublicKey = otherKeys.qrSigningKey.publicKey.rawRepresentation.base64EncodedString()
        case "checkpointPublicKey":
            file.checkpointPublicKey = otherKeys.checkpointSigningKey.publicKey.rawRepresentation.base64EncodedString()
        case "wrappedKey": file.wrappedKey = Data(repeating: 8, count: 40).base64EncodedString()
        case "scrypt": file.scrypt = .fresh()
        default: file.kekId = String(file.kekId.reversed())
        }
        let error = #expect(throws: KeyFileError.self) { try file.open(kek: kek, path: "k.json") }
        #expect(error != nil)
    }

    @Test("a plaintext file is not taken for a sealed one, and the plaintext loader names a sealed one")
    func versions() throws {
        let plain = try keys.plaintextFile()
        #expect(SealedKeyFile.decode(plain) == nil)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-sealed-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/keys.json"
        try ServerKeys.writePrivate(try SealedKeyFile.seal(keys, kek: kek, provider: "file").encoded(), to: path)
        let error = #expect(throws: KeyMaterialError.self) { try ServerKeys.load(path: path) }
        #expect(
            error == .malformedKeyFile("\(path) is sealed under a key-encryption key: give the provider that sealed it")
        )
    }

    @Test("scrypt: the same passphrase and salt give the same key; another passphrase or salt another")
    func scrypt() throws {
        let parameters = ScryptParameters.fresh(logN: 10)
        try parameters.check(path: "k.json")
        let a = try PassphraseKey.derive(passphrase: Data("correct horse".utf8), parameters: parameters)
        let b = try PassphraseKey.derive(passphrase: Data("correct horse".utf8), parameters: parameters)
        let c = try PassphraseKey.derive(passphrase: Data("correct horsf".utf8), parameters: parameters)
        let d = try PassphraseKey.derive(passphrase: Data("correct horse".utf8), parameters: .fresh(logN: 10))
        #expect(raw(a) == raw(b))
        #expect(raw(a) != raw(c) && raw(a) != raw(d))
        #expect(raw(a).count == 32)
    }

    @Test("scrypt matches RFC 7914's test vector (N = 1024, r = 8, p = 16)")
    func scryptVector() throws {
        let parameters = ScryptParameters(
            salt: Data("NaCl".utf8).base64EncodedString(), logN: 10, r: 8, p: 16)
        let key = try PassphraseKey.derive(passphrase: Data("password".utf8), parameters: parameters)
        #expect(
            Hex.encode(raw(key))
                == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162")
    }

    @Test(
        "a header's scrypt cost out of bounds is refused",
        arguments: [
            ScryptParameters(salt: Data(count: 16).base64EncodedString(), logN: 9, r: 8, p: 1),
            ScryptParameters(salt: Data(count: 16).base64EncodedString(), logN: 21, r: 8, p: 1),
            ScryptParameters(salt: Data(count: 8).base64EncodedString(), logN: 15, r: 8, p: 1),
            ScryptParameters(salt: "%%%", logN: 15, r: 8, p: 1),
            ScryptParameters(salt: Data(count: 16).base64EncodedString(), logN: 20, r: 16, p: 4),
        ])
    func scryptBounds(parameters: ScryptParameters) {
        #expect(throws: KeyFileError.self) { try parameters.check(path: "k.json") }
    }
}
