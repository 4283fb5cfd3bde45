import Crypto
import CubbyCrypto
import Foundation
import Testing

@Suite("key ring and wrapped data keys")
struct KeyRingTests {
    let root = SymmetricKey(size: .bits256)

    @Test("a data key wrapped by a ring key names the key, opens with it, and binds the subject and the header")
    func ringFormat() throws {
        let ring = KeyRing(root: root)
        let env = EnvelopeCipher(keyEncryptionKey: root, ring: ring)
        let key = RingKey.generate()
        try ring.open(id: key.id, sealed: try ring.seal(key))
        let wrapped = try env.newWrappedDataKey(subject: "r1", under: key)
        #expect(wrapped.count == EnvelopeCipher.ringWrappedSize)
        #expect(wrapped.first == EnvelopeCipher.ringFormat)
        #expect(try EnvelopeCipher.wrappingKeyID(wrapped) == key.id)
        let sealed = try env.seal(Data("hello".utf8), wrappedKey: wrapped, subject: "r1", field: "contact")
        #expect(try env.open(sealed, wrappedKey: wrapped, subject: "r1", field: "contact") == Data("hello".utf8))
        // Another subject's data key cannot be swapped in.
        #expect(throws: (any Error).self) {
            try env.open(sealed, wrappedKey: wrapped, subject: "r2", field: "contact")
        }
        // Naming another known key in the header does not open it.
        let other = RingKey.generate()
        try ring.open(id: other.id, sealed: try ring.seal(other))
        var relabelled = wrapped
        relabelled.replaceSubrange(1..<9, with: other.id.bytes)
        #expect(throws: (any Error).self) {
            try env.open(sealed, wrappedKey: relabelled, subject: "r1", field: "contact")
        }
    }

    @Test("a re-wrapped data key opens what the old one sealed; format 1 (wrapped by the root) stays readable")
    func rewrapAndLegacy() throws {
        let env = EnvelopeCipher(keyEncryptionKey: root)
        let legacy = try env.legacyWrappedDataKey(subject: "s")
        #expect(legacy.count == EnvelopeCipher.rootWrappedSize)
        #expect(try EnvelopeCipher.wrappingKeyID(legacy) == nil)
        let sealed = try env.seal(Data("x".utf8), wrappedKey: legacy, subject: "s", field: "f")
        let key = RingKey.generate()
        try env.ring.open(id: key.id, sealed: try env.ring.seal(key))
        let moved = try env.rewrap(legacy, subject: "s", under: key)
        #expect(try EnvelopeCipher.wrappingKeyID(moved) == key.id)
        #expect(try env.open(sealed, wrappedKey: moved, subject: "s", field: "f") == Data("x".utf8))
        let next = RingKey.generate()
        try env.ring.open(id: next.id, sealed: try env.ring.seal(next))
        let again = try env.rewrap(moved, subject: "s", under: next)
        #expect(try env.open(sealed, wrappedKey: again, subject: "s", field: "f") == Data("x".utf8))
    }

    @Test("an unknown key id or a malformed wrapped key is a clear error")
    func unknownAndMalformed() throws {
        let env = EnvelopeCipher(keyEncryptionKey: root)
        let key = RingKey.generate()
        let wrapped = try EnvelopeCipher(keyEncryptionKey: root).newWrappedDataKey(subject: "s", under: key)
        #expect(throws: EnvelopeError.unknownWrappingKey(key.id.hex)) {
            try env.seal(Data(), wrappedKey: wrapped, subject: "s", field: "f")
        }
        #expect(throws: EnvelopeError.malformedWrappedKey(5)) {
            try env.seal(Data(), wrappedKey: Data([2, 0, 0, 0, 0]), subject: "s", field: "f")
        }
        var wrongFormat = wrapped
        wrongFormat[0] = 7
        #expect(throws: EnvelopeError.malformedWrappedKey(EnvelopeCipher.ringWrappedSize)) {
            try env.seal(Data(), wrappedKey: wrongFormat, subject: "s", field: "f")
        }
    }

    @Test("a ring key sealed for the database opens only under its root and its own id")
    func sealedRingKeys() throws {
        let ring = KeyRing(root: root)
        let key = RingKey.generate()
        let sealed = try ring.seal(key)
        let other = RingKeyID(bytes: Data(SecretGenerator.bytes(8)))
        #expect(throws: EnvelopeError.ringKeyUnreadable(other.hex)) { try ring.open(id: other, sealed: sealed) }
        #expect(throws: EnvelopeError.ringKeyUnreadable(key.id.hex)) {
            try KeyRing(root: SymmetricKey(size: .bits256)).open(id: key.id, sealed: sealed)
        }
        #expect(try ring.open(id: key.id, sealed: sealed).key == key.key)
        ring.keep(only: [])
        #expect(!ring.knows(key.id))
        #expect(RingKeyID(hex: key.id.hex) == key.id)
        #expect(RingKeyID(hex: "zz") == nil)
        #expect(RingKeyID(hex: "0123456789abcdeg") == nil)
    }
}
