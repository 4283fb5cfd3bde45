import CubbyCrypto
import Foundation
import Testing

@Suite("One-time passwords (RFC 4226, RFC 6238)")
struct OneTimePasswordTests {
    /// RFC 4226 Appendix D: the secret "12345678901234567890" and the HOTP values for counts 0–9.
    @Test func rfc4226AppendixD() {
        let otp = OneTimePassword(secret: Array("12345678901234567890".utf8), digits: 6)
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ]
        for (count, code) in expected.enumerated() {
            #expect(otp.hotp(counter: UInt64(count)) == code, "count \(count)")
        }
    }

    /// RFC 6238 Appendix B: 8-digit TOTP values for SHA-1, SHA-256 and SHA-512 at six times.
    @Test(arguments: [
        (59.0, "94287082", "46119246", "90693936"),
        (1_111_111_109.0, "07081804", "68084774", "25091201"),
        (1_111_111_111.0, "14050471", "67062674", "99943326"),
        (1_234_567_890.0, "89005924", "91819424", "93441116"),
        (2_000_000_000.0, "69279037", "90698825", "38618901"),
        (20_000_000_000.0, "65353130", "77737706", "47863826"),
    ])
    func rfc6238AppendixB(time: Double, sha1: String, sha256: String, sha512: String) {
        let at = Date(timeIntervalSince1970: time)
        let seed = "1234567890"
        let s1 = OneTimePassword(secret: Array(String(repeating: seed, count: 2).utf8), digits: 8, algorithm: .sha1)
        let s256 = OneTimePassword(
            secret: Array((String(repeating: seed, count: 3) + "12").utf8), digits: 8, algorithm: .sha256)
        let s512 = OneTimePassword(
            secret: Array((String(repeating: seed, count: 6) + "1234").utf8), digits: 8, algorithm: .sha512)
        #expect(s1.code(at: at) == sha1)
        #expect(s256.code(at: at) == sha256)
        #expect(s512.code(at: at) == sha512)
    }

    @Test func acceptsOneStepOfDriftEitherWayAndNoMore() {
        let otp = OneTimePassword(secret: OneTimePassword.newSecret())
        let now = Date(timeIntervalSince1970: 1_800_000_015)
        let step = otp.step(at: now)
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = otp.hotp(counter: UInt64(step + Int64(offset)))
            #expect((otp.acceptedStep(for: code, at: now, lastUsedStep: nil) != nil) == accepted, "offset \(offset)")
        }
    }

    @Test func aCodeIsAcceptedOnceOnly() {
        let otp = OneTimePassword(secret: OneTimePassword.newSecret())
        let now = Date(timeIntervalSince1970: 1_800_000_015)
        let code = otp.code(at: now)
        let used = otp.acceptedStep(for: code, at: now, lastUsedStep: nil)
        #expect(used == otp.step(at: now))
        // The same code again, or the previous step's code, is refused once this step was used.
        #expect(otp.acceptedStep(for: code, at: now, lastUsedStep: used) == nil)
        #expect(
            otp.acceptedStep(for: otp.hotp(counter: UInt64(otp.step(at: now) - 1)), at: now, lastUsedStep: used) == nil)
        // The next step's code still works.
        let later = now.addingTimeInterval(30)
        #expect(otp.acceptedStep(for: otp.code(at: later), at: later, lastUsedStep: used) == otp.step(at: later))
    }

    @Test(arguments: ["", "12345", "1234567", "12a456", "１２３４５６", "123456\n"])
    func malformedCodesAreRefused(code: String) {
        let otp = OneTimePassword(secret: Array("12345678901234567890".utf8))
        #expect(otp.acceptedStep(for: code, at: Date(timeIntervalSince1970: 59), lastUsedStep: nil) == nil)
    }

    @Test func provisioningURIFollowsTheKeyURIFormat() {
        let otp = OneTimePassword(secret: Array("12345678901234567890".utf8))
        let uri = otp.provisioningURI(issuer: "Cubby", account: "ana+ops@example.org")
        #expect(
            uri
                == "otpauth://totp/Cubby:ana%2Bops%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Cubby&algorithm=SHA1&digits=6&period=30"
        )
    }
}

@Suite("Passwords")
struct PasswordTests {
    let hasher = PasswordHasher.forTesting(iterations: 1000)

    @Test func theProductionHasherUsesAtLeastOWASPsIterationCount() {
        #expect(PasswordHasher.standard.iterations >= 600_000)
        #expect(PasswordHasher.minimumIterations == 600_000)
        #expect(PasswordHasher.standard.needsRehash(hasher.hash("correct horse battery")))
    }

    @Test func hashesVerifyOnlyTheirPassword() {
        let stored = hasher.hash("correct horse battery")
        #expect(stored.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(hasher.verify("correct horse battery", against: stored))
        #expect(!hasher.verify("correct horse batterY", against: stored))
        #expect(!hasher.verify("", against: stored))
        // Two hashes of one password differ (random salt).
        #expect(hasher.hash("correct horse battery") != stored)
    }

    /// PBKDF2-HMAC-SHA256 test vector (RFC 7914 §11): P="passwd", S="salt", c=1, dkLen=64; first 32 bytes.
    @Test func derivationMatchesThePublishedVector() {
        let key = PasswordHasher.forTesting(iterations: 1)
        let vector = "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        let derived = key.derivedForTesting("passwd", salt: Array("salt".utf8)).map { String(format: "%02x", $0) }
            .joined()
        #expect(derived == vector)
    }

    @Test(arguments: [
        "", "pbkdf2-sha256$1000$AAAA$AAAA", "bcrypt$10$x$y",
        "pbkdf2-sha256$0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pbkdf2-sha256$99999999999$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ])
    func malformedStoredHashesNeverMatch(stored: String) {
        #expect(!hasher.verify("anything at all", against: stored))
    }
}
