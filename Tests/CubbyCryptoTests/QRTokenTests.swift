import Crypto
import CubbyCrypto
import Foundation
import Testing

private let base64URLAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

private func sampleClaims() -> QRTokenClaims {
    QRTokenClaims(
        parcel: UUID(uuidString: "11111111-2222-4333-8444-555555555555")!,
        unit: UUID(uuidString: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")!,
        compartment: UUID(uuidString: "01234567-89ab-4cde-8f01-23456789abcd")!,
        expiresAt: Date(timeIntervalSince1970: 1_795_000_000.9)
    )
}

@Suite("QRTokenSigner")
struct QRTokenTests {
    let signer = QRTokenSigner(privateKey: Curve25519.Signing.PrivateKey())

    @Test("issue then verify gives back the same claims")
    func roundTrip() throws {
        let claims = sampleClaims()
        let token = try signer.issue(claims)
        #expect(token.hasPrefix("cby1."))
        #expect(token.split(separator: ".").count == 3)
        let back = try #require(signer.verify(token))
        #expect(back == claims)
        #expect(back.e == 1_795_000_000)
        #expect(back.expiresAt == Date(timeIntervalSince1970: 1_795_000_000))
    }

    @Test("the token is url-safe and short enough for a QR code")
    func shape() throws {
        let token = try signer.issue(sampleClaims())
        let body = token.dropFirst(QRTokenSigner.prefix.count)
        #expect(body.allSatisfy { base64URLAlphabet.contains($0) || $0 == "." })
        #expect(token.utf8.count <= 512)
    }

    @Test("two tokens for the same parcel differ (random nonce) and both verify")
    func nonces() throws {
        let a = sampleClaims()
        let b = sampleClaims()
        #expect(a.n != b.n)
        #expect(Base64URL.decode(a.n)?.count == 16)
        let ta = try signer.issue(a)
        let tb = try signer.issue(b)
        #expect(ta != tb)
        #expect(signer.verify(ta) == a)
        #expect(signer.verify(tb) == b)
    }

    @Test("a token signed by another key fails")
    func otherKey() throws {
        let other = QRTokenSigner(privateKey: Curve25519.Signing.PrivateKey())
        let token = try other.issue(sampleClaims())
        #expect(other.verify(token) != nil)
        #expect(signer.verify(token) == nil)
    }

    @Test("another key's signature on this token's payload fails")
    func spliced() throws {
        let other = QRTokenSigner(privateKey: Curve25519.Signing.PrivateKey())
        let claims = sampleClaims()
        let mine = try signer.issue(claims)
        let theirs = try other.issue(claims)
        let payload = mine.split(separator: ".")[1]
        let theirSignature = theirs.split(separator: ".")[2]
        #expect(signer.verify("cby1.\(payload).\(theirSignature)") == nil)
    }

    @Test("changing any single character of payload or signature, to any other character, fails")
    func everyCharacter() throws {
        let token = try signer.issue(sampleClaims())
        #expect(signer.verify(token) != nil)
        let chars = Array(token)
        let start = QRTokenSigner.prefix.count
        var tried = 0
        var accepted: [String] = []
        for i in start..<chars.count where chars[i] != "." {
            for replacement in base64URLAlphabet where replacement != chars[i] {
                var altered = chars
                altered[i] = replacement
                tried += 1
                if signer.verify(String(altered)) != nil {
                    accepted.append("position \(i): \(chars[i]) → \(replacement)")
                }
            }
        }
        #expect(tried > 10_000)
        #expect(accepted.isEmpty, "altered tokens accepted: \(accepted.prefix(10))")
    }

    @Test("flipping a bit of any byte of the signature fails")
    func signatureBits() throws {
        let token = try signer.issue(sampleClaims())
        let parts = token.split(separator: ".")
        let signature = try #require(Base64URL.decode(parts[2]))
        #expect(signature.count == 64)
        for i in 0..<signature.count {
            var s = signature
            s[i] ^= 0x01
            #expect(signer.verify("cby1.\(parts[1]).\(Base64URL.encode(s))") == nil, "byte \(i)")
        }
    }

    @Test("a wrong or missing prefix fails", arguments: ["cby2.", "CBY1.", "cby1", "", "x.", "cby1.."])
    func wrongPrefix(prefix: String) throws {
        let token = try signer.issue(sampleClaims())
        let rest = token.dropFirst(QRTokenSigner.prefix.count)
        #expect(signer.verify(prefix + rest) == nil)
    }

    @Test("malformed tokens fail", arguments: ["", "cby1.", "cby1..", "cby1.abc", "cby1.abc.def.ghi", "cby1.a+b.c/d"])
    func malformed(token: String) {
        #expect(signer.verify(token) == nil)
    }

    @Test("extra material appended to a good token fails")
    func appended() throws {
        let token = try signer.issue(sampleClaims())
        #expect(signer.verify(token + ".x") == nil)
        #expect(signer.verify(token + "A") == nil)
        #expect(signer.verify(token + String(repeating: "A", count: 600)) == nil)
    }

    @Test("a verifier built from the public key verifies but cannot issue")
    func verifierOnly() throws {
        let verifier = QRTokenSigner(publicKey: signer.publicKey)
        let claims = sampleClaims()
        let token = try signer.issue(claims)
        #expect(verifier.verify(token) == claims)
        #expect(throws: KeyMaterialError.malformedToken) { try verifier.issue(claims) }
        let stranger = QRTokenSigner(publicKey: Curve25519.Signing.PrivateKey().publicKey)
        #expect(stranger.verify(token) == nil)
    }
}
