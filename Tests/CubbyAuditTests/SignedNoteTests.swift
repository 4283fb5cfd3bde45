import Crypto
import CubbyAudit
import Foundation
import Testing

/// The example key and note published in the documentation of golang.org/x/mod/sumdb/note
/// (the reference implementation of C2SP signed notes; BSD-licensed). The signer key there is
/// `PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz`: 0x01 ‖ Ed25519 seed.
private enum PublishedExample {
    static let verifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let seedBase64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let text =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let signatureLine =
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    /// The same note cosigned by a key "EnochRoot" the documentation generates and does not publish.
    static let enochLine =
        "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
    static var note: String { text + "\n" + signatureLine }

    static func privateKey() throws -> Curve25519.Signing.PrivateKey {
        let raw = try #require(Data(base64Encoded: seedBase64))
        #expect(raw.first == 0x01)
        return try Curve25519.Signing.PrivateKey(rawRepresentation: raw.dropFirst())
    }
}

@Suite("C2SP signed notes")
struct SignedNoteTests {
    @Test func publishedExampleVerifies() throws {
        let verifier = try NoteVerifier(verifierKey: PublishedExample.verifierKey)
        #expect(verifier.keyName == "PeterNeumann")
        #expect(verifier.keyID == 0xc74f_20a3)
        #expect(verifier.verifierKey == PublishedExample.verifierKey)
        let note = try verifier.open(PublishedExample.note)
        #expect(note.text == PublishedExample.text)
        #expect(note.serialized == PublishedExample.note)
        // The unknown cosigner is ignored.
        try verifier.verify(try SignedNote(parsing: PublishedExample.note + PublishedExample.enochLine))
        try verifier.verify(
            try SignedNote(
                parsing: PublishedExample.text + "\n" + PublishedExample.enochLine + PublishedExample.signatureLine))
        #expect(throws: SignedNoteError.noTrustedSignature) {
            try verifier.open(PublishedExample.text + "\n" + PublishedExample.enochLine)
        }
        #expect(throws: SignedNoteError.invalidSignature) {
            try verifier.open(PublishedExample.note.replacingOccurrences(of: "cryptography", with: "cryptographY"))
        }
    }

    @Test func publishedSignerKeyGivesThePublishedVerifierKey() throws {
        let signer = try NoteSigner(keyName: "PeterNeumann", privateKey: PublishedExample.privateKey())
        #expect(signer.verifierKey == PublishedExample.verifierKey)
        #expect(signer.keyID == 0xc74f_20a3)
        #if os(Linux)
            // Ed25519 (RFC 8032) is deterministic, and swift-crypto's BoringSSL backend follows it, so
            // we reproduce the published note byte for byte. (CryptoKit on Apple platforms randomizes.)
            #expect(try signer.sign(text: PublishedExample.text).serialized == PublishedExample.note)
        #endif
        try signer.verifier.verify(try signer.sign(text: PublishedExample.text))
    }

    @Test func signAndOpenRoundTrip() throws {
        let signer = try NoteSigner(keyName: "cubby.example.org/audit", privateKey: .init())
        let text = "line one\n\nline three after an empty line\n"
        let note = try signer.sign(text: text)
        let message = note.serialized
        #expect(message.hasPrefix(text + "\n— cubby.example.org/audit "))
        let parsed = try SignedNote(parsing: message)
        #expect(parsed == note)
        #expect(parsed.text == text)
        #expect(parsed.signatures.count == 1)
        #expect(parsed.signatures[0].keyID == signer.keyID)
        #expect(parsed.signatures[0].signature.count == 64)
        // A verifier built from the published key string opens it.
        let verifier = try NoteVerifier(verifierKey: signer.verifierKey)
        #expect(try verifier.open(message) == note)
        #expect(try SignedNote(parsing: Array(message.utf8)) == note)
    }

    @Test func keyIDIsTheC2SPHash() throws {
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
        let name = "example.com/log"
        let digest = SHA256.hash(data: Array(name.utf8) + [0x0A, 0x01] + Array(key.publicKey.rawRepresentation))
        let expected = digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(NoteVerifier.ed25519KeyID(keyName: name, publicKey: key.publicKey) == expected)
        let signer = try NoteSigner(keyName: name, privateKey: key)
        let parts = signer.verifierKey.split(separator: "+", maxSplits: 2)
        #expect(parts[0] == "example.com/log")
        #expect(parts[1] == String(format: "%08x", expected))
        #expect(Data(base64Encoded: String(parts[2])) == Data([0x01] + key.publicKey.rawRepresentation))
    }

    @Test func tamperingWithAnyByteOfTheTextFails() throws {
        let signer = try NoteSigner(keyName: "cubby.example.org/audit", privateKey: .init())
        let text = "cubby.example.org/audit\n42\n" + TreeHash.leaf([1]).base64 + "\n"
        let message = Array(try signer.sign(text: text).serialized.utf8)
        let verifier = signer.verifier
        for position in 0..<text.utf8.count {
            for replacement: UInt8 in [message[position] ^ 0x01, message[position] ^ 0x20, UInt8(ascii: "x")]
            where replacement != message[position] {
                var tampered = message
                tampered[position] = replacement
                #expect(throws: (any Error).self, "byte \(position) changed") {
                    try verifier.verify(try SignedNote(parsing: tampered))
                }
            }
        }
        // Bytes removed or added anywhere in the text.
        for position in 0..<text.utf8.count {
            var shorter = message
            shorter.remove(at: position)
            #expect(throws: (any Error).self) { try verifier.verify(try SignedNote(parsing: shorter)) }
            var longer = message
            longer.insert(UInt8(ascii: "a"), at: position)
            #expect(throws: (any Error).self) { try verifier.verify(try SignedNote(parsing: longer)) }
        }
    }

    @Test func anotherKeyWithTheSameNameIsNotTrusted() throws {
        let name = "cubby.example.org/audit"
        let trusted = try NoteSigner(keyName: name, privateKey: .init())
        let impostor = try NoteSigner(keyName: name, privateKey: .init())
        #expect(trusted.keyID != impostor.keyID)
        let forged = try impostor.sign(text: "hello\n")
        // Different key ID: ignored, so nothing trusted signed it.
        #expect(throws: SignedNoteError.noTrustedSignature) { try trusted.verifier.verify(forged) }
        // The impostor claims the trusted key ID: the signature is checked and fails.
        let stolenID = try NoteSignature(keyName: name, keyID: trusted.keyID, signature: forged.signatures[0].signature)
        #expect(throws: SignedNoteError.invalidSignature) {
            try trusted.verifier.verify(try SignedNote(text: "hello\n", signatures: [stolenID]))
        }
        // A bad signature by the trusted key rejects the note even next to a good one.
        let good = try trusted.sign(text: "hello\n")
        #expect(throws: SignedNoteError.invalidSignature) {
            try trusted.verifier.verify(
                try good.adding(
                    try NoteSignature(keyName: name, keyID: trusted.keyID, signature: [UInt8](repeating: 0, count: 64)))
            )
        }
        // The same name and ID under another name is another key.
        let renamed = try NoteSignature(
            keyName: "other.example", keyID: trusted.keyID, signature: good.signatures[0].signature)
        #expect(throws: SignedNoteError.noTrustedSignature) {
            try trusted.verifier.verify(try SignedNote(text: "hello\n", signatures: [renamed]))
        }
    }

    @Test func cosigningKeepsBothSignatures() throws {
        let log = try NoteSigner(keyName: "log.example", privateKey: .init())
        let witness = try NoteSigner(keyName: "witness.example", privateKey: .init())
        let note = try witness.cosign(try log.sign(text: "body\n"))
        #expect(note.signatures.map(\.keyName) == ["log.example", "witness.example"])
        let reparsed = try SignedNote(parsing: note.serialized)
        try log.verifier.verify(reparsed)
        try witness.verifier.verify(reparsed)
        // Signing again replaces the earlier signature by the same key.
        #expect(try witness.cosign(note).signatures.count == 2)
    }

    @Test func signaturesOverAnythingButTheExactTextFail() throws {
        let key = Curve25519.Signing.PrivateKey()
        let signer = try NoteSigner(keyName: "log.example", privateKey: key)
        let text = "body line\n"
        for signedBytes in ["body line", "body line\n\n", "body line\r\n", "\(text)\n— log.example"] {
            let raw = try key.signature(for: Array(signedBytes.utf8))
            let signature = try NoteSignature(keyName: "log.example", keyID: signer.keyID, signature: Array(raw))
            #expect(throws: SignedNoteError.invalidSignature, "signed \(signedBytes.debugDescription)") {
                try signer.verifier.verify(try SignedNote(text: text, signatures: [signature]))
            }
        }
        #expect(throws: SignedNoteError.self) { try signer.sign(text: "no final newline") }
        #expect(throws: SignedNoteError.self) { try signer.sign(text: "") }
        #expect(throws: SignedNoteError.self) { try signer.sign(text: "carriage\r\nreturn\n") }
        #expect(throws: SignedNoteError.self) { try signer.sign(text: "tab\there\n") }
    }

    @Test(arguments: [
        "",
        "text\n",
        "text\n\n",
        "text\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "text\n\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "text\n\n- log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "text\n\n—log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "text\n\n— log.example\n",
        "text\n\n—  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "text\n\n— log+example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "text\n\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        "text\n\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \n",
        "text\n\n— log.example !!!!\n",
        "text\n\n— log.example AAAAAA==\n",
        "text\n\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        "text\n\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nnot a signature\n",
        "te\rxt\n\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "text\r\n\r\n— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n",
    ])
    func malformedNotesAreRejected(message: String) {
        #expect(throws: SignedNoteError.self) { try SignedNote(parsing: message) }
    }

    @Test func invalidUTF8IsRejected() {
        var bytes = Array("text\n\n".utf8) + [0xFF] + Array(" \n".utf8)
        #expect(throws: SignedNoteError.self) { try SignedNote(parsing: bytes) }
        bytes = Array(PublishedExample.note.utf8)
        bytes[3] = 0xC3  // a lead byte without its continuation
        #expect(throws: SignedNoteError.self) { try SignedNote(parsing: bytes) }
    }

    @Test func tooManySignaturesAreRejected() throws {
        let line =
            "— log.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        #expect(try SignedNote(parsing: "t\n\n" + String(repeating: line, count: 16)).signatures.count == 16)
        #expect(throws: SignedNoteError.self) {
            try SignedNote(parsing: "t\n\n" + String(repeating: line, count: SignedNote.maximumSignatureCount + 1))
        }
    }

    @Test func verifierKeyManglingsAreRejected() throws {
        let key = PublishedExample.verifierKey
        let bytes = Array(key.utf8)
        // Every proper substring and every single-byte change, as golang.org/x/mod/sumdb/note tests.
        for start in 0..<bytes.count {
            for end in (start + 1)...bytes.count where start != 0 || end != bytes.count {
                let candidate = String(decoding: bytes[start..<end], as: UTF8.self)
                #expect(throws: SignedNoteError.self, "\(candidate)") { try NoteVerifier(verifierKey: candidate) }
            }
        }
        for index in bytes.indices {
            var changed = bytes
            changed[index] &+= 1
            let candidate = String(decoding: changed, as: UTF8.self)
            #expect(throws: SignedNoteError.self, "\(candidate)") { try NoteVerifier(verifierKey: candidate) }
        }
        // Other algorithms, wrong lengths, bad names.
        for candidate in [
            "PeterNeumann+c74f20a3+AhpT2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWAA==",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            #expect(throws: SignedNoteError.self, "\(candidate)") { try NoteVerifier(verifierKey: candidate) }
        }
        // Upper-case hex is accepted, as by the reference implementation.
        #expect(
            try NoteVerifier(verifierKey: "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").keyID
                == 0xc74f_20a3)
    }

    @Test(arguments: [
        "", "with space", "with+plus", "tab\tname", "nbsp\u{00A0}name", "line\nbreak", "ideographic\u{3000}space",
    ])
    func invalidKeyNamesAreRejected(name: String) {
        #expect(throws: SignedNoteError.self) { try NoteSigner(keyName: name, privateKey: .init()) }
        #expect(throws: SignedNoteError.self) {
            try NoteVerifier(keyName: name, publicKey: Curve25519.Signing.PrivateKey().publicKey)
        }
        #expect(throws: SignedNoteError.self) { try NoteSignature(keyName: name, keyID: 1, signature: [1]) }
    }
}
