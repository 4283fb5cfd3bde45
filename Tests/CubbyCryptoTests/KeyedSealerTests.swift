import Crypto
import CubbyCrypto
import Foundation
import Testing

@Suite("KeyedSealer")
struct KeyedSealerTests {
    let sealer = KeyedSealer(key: SymmetricKey(size: .bits256))
    let photo = Data((0..<2000).map { UInt8($0 % 251) })

    @Test("a sealed value names its key and hides the plaintext")
    func namesItsKey() throws {
        let sealed = try sealer.seal(photo, context: "still:abc")
        #expect(sealed.count == photo.count + KeyedSealer.overhead)
        #expect(sealed.first == 1)
        #expect(Array(sealed.dropFirst().prefix(8)) == sealer.keyId)
        #expect(KeyedSealer.keyId(of: sealed) == sealer.keyIdHex)
        #expect(sealed.range(of: photo.prefix(32)) == nil)
        #expect(try sealer.open(sealed, context: "still:abc") == photo)
        #expect(try sealer.seal(photo, context: "still:abc") != sealed, "a fresh nonce each time")
    }

    @Test("another key is refused by its id; another context, a flipped bit or a cut value by the tag")
    func refusals() throws {
        let sealed = try sealer.seal(photo, context: "still:abc")
        let other = KeyedSealer(key: SymmetricKey(size: .bits256))
        #expect(throws: KeyedSealerError.otherKey(sealer.keyIdHex)) { try other.open(sealed, context: "still:abc") }
        #expect(throws: KeyedSealerError.damaged) { try sealer.open(sealed, context: "still:abd") }
        var flipped = sealed
        flipped[30] ^= 0x01
        #expect(throws: KeyedSealerError.damaged) { try sealer.open(flipped, context: "still:abc") }
        #expect(throws: KeyedSealerError.damaged) { try sealer.open(sealed.dropLast(), context: "still:abc") }
        #expect(throws: KeyedSealerError.notSealed) { try sealer.open(Data([0xFF, 0xD8, 0xFF]), context: "x") }
        #expect(KeyedSealer.keyId(of: Data([0xFF, 0xD8])) == nil)
    }

    @Test("a derived key is stable for its purpose and differs between purposes")
    func derived() throws {
        let root = SymmetricKey(size: .bits256)
        let a = KeyedSealer.derived(from: root, purpose: "cubby.evidence.v1")
        let b = KeyedSealer.derived(from: root, purpose: "cubby.evidence.v1")
        let c = KeyedSealer.derived(from: root, purpose: "cubby.other.v1")
        #expect(a.keyId == b.keyId && a.keyId != c.keyId)
        #expect(try b.open(a.seal(photo, context: "x"), context: "x") == photo)
    }
}
