import Crypto
import CubbyCrypto
import Foundation
import Testing

@Suite("Rotated signing keys: sealed private halves and QR keys with an overlap")
struct RotatedSigningKeyTests {
    let claims = QRTokenClaims(
        parcel: UUID(), unit: UUID(), compartment: UUID(), expiresAt: Date(timeIntervalSince1970: 2_000_000_000))

    @Test("a token by a replaced key verifies until its overlap ends; one by an unknown key never")
    func overlap() throws {
        let old = QRTokenSigner(privateKey: Curve25519.Signing.PrivateKey())
        let new = QRTokenSigner(privateKey: Curve25519.Signing.PrivateKey())
        let set = QRKeySet(current: new, earlier: [(QRTokenSigner(publicKey: old.publicKey), 1000)])
        let byOld = try old.issue(claims)
        #expect(set.verify(byOld, now: 999) == claims)
        #expect(set.verify(byOld, now: 1000) == nil)
        #expect(set.verify(try set.issue(claims), now: 5000) == claims)
        let stranger = QRTokenSigner(privateKey: Curve25519.Signing.PrivateKey())
        #expect(set.verify(try stranger.issue(claims), now: 0) == nil)
    }

    @Test("a sealed key opens under its key-encryption key only, and only as the purpose and key it was sealed as")
    func sealing() throws {
        let kek = SymmetricKey(size: .bits256)
        let key = Curve25519.Signing.PrivateKey()
        let sealed = try SigningKeySeal.seal(key, purpose: .checkpoint, kek: kek)
        let opened = try SigningKeySeal.open(sealed, purpose: .checkpoint, publicKey: key.publicKey, kek: kek)
        #expect(opened.rawRepresentation == key.rawRepresentation)
        #expect(throws: KeyFileError.self) {
            try SigningKeySeal.open(sealed, purpose: .qr, publicKey: key.publicKey, kek: kek)
        }
        #expect(throws: KeyFileError.self) {
            try SigningKeySeal.open(
                sealed, purpose: .checkpoint, publicKey: key.publicKey, kek: SymmetricKey(size: .bits256))
        }
        let other = Curve25519.Signing.PrivateKey().publicKey
        #expect(throws: KeyFileError.self) {
            try SigningKeySeal.open(sealed, purpose: .checkpoint, publicKey: other, kek: kek)
        }
        #expect(SigningKeySeal.keyId(key.publicKey).count == 16)
        #expect(!String(decoding: sealed, as: UTF8.self).contains(key.rawRepresentation.base64EncodedString()))
    }
}
