import Crypto
import Foundation

/// Checks C2SP signed notes against one trusted Ed25519 key, identified by key name and key ID.
///
/// Signatures by other keys — another name, or the same name with another ID — are ignored, as the
/// spec requires; a signature by this key that fails rejects the whole note.
public struct NoteVerifier: Sendable {
    /// The trusted key's name.
    public let keyName: String
    /// The trusted key's ID.
    public let keyID: UInt32
    /// The trusted public key.
    public let publicKey: Curve25519.Signing.PublicKey

    /// The signed-note signature type byte for Ed25519.
    static let ed25519Type: UInt8 = 0x01

    /// A verifier from a verifier key string `<name>+<8 hex digits key ID>+<base64(0x01 ‖ 32-byte key)>`.
    ///
    /// Throws unless every part is well formed and the key ID is the one the name and key produce.
    public init(verifierKey: String) throws {
        let parts = verifierKey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SignedNoteError.malformedVerifierKey("expected name+id+key") }
        let name = String(parts[0])
        let idDigits = parts[1]
        guard SignedNote.isValidKeyName(name) else { throw SignedNoteError.malformedVerifierKey("invalid key name") }
        guard idDigits.utf8.count == 8, idDigits.utf8.allSatisfy({ $0.isASCIIHexDigit }),
            let id = UInt32(idDigits, radix: 16)
        else { throw SignedNoteError.malformedVerifierKey("key ID is not 8 hex digits") }
        guard let encoded = StrictBase64.decode(parts[2]), encoded.count == 33, encoded[0] == Self.ed25519Type,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: encoded[1...])
        else { throw SignedNoteError.malformedVerifierKey("key is not base64 of 0x01 and a 32-byte Ed25519 key") }
        guard Self.ed25519KeyID(keyName: name, publicKey: key) == id else {
            throw SignedNoteError.malformedVerifierKey("key ID does not match the name and key")
        }
        self.init(checkedKeyName: name, publicKey: key)
    }

    /// A verifier for `publicKey` under `keyName`.
    public init(keyName: String, publicKey: Curve25519.Signing.PublicKey) throws {
        guard SignedNote.isValidKeyName(keyName) else { throw SignedNoteError.invalidKeyName(keyName) }
        self.init(checkedKeyName: keyName, publicKey: publicKey)
    }

    init(checkedKeyName keyName: String, publicKey: Curve25519.Signing.PublicKey) {
        self.keyName = keyName
        self.publicKey = publicKey
        self.keyID = Self.ed25519KeyID(keyName: keyName, publicKey: publicKey)
    }

    /// The verifier key string for this key.
    public var verifierKey: String {
        let id = String(keyID, radix: 16)
        let paddedID = String(repeating: "0", count: 8 - id.count) + id
        return "\(keyName)+\(paddedID)+\(StrictBase64.encode([Self.ed25519Type] + publicKey.rawRepresentation))"
    }

    /// Checks that `note` carries at least one signature by this key and that all of them verify
    /// over the exact note text; other keys' signatures are ignored.
    public func verify(_ note: SignedNote) throws {
        let text = Array(note.text.utf8)
        var verified = false
        for signature in note.signatures where signature.keyName == keyName && signature.keyID == keyID {
            guard publicKey.isValidSignature(signature.signature, for: text) else {
                throw SignedNoteError.invalidSignature
            }
            verified = true
        }
        guard verified else { throw SignedNoteError.noTrustedSignature }
    }

    /// Parses and verifies a signed note; returns it, its text now trustworthy.
    public func open(_ message: String) throws -> SignedNote {
        let note = try SignedNote(parsing: message)
        try verify(note)
        return note
    }

    /// Parses and verifies a signed checkpoint whose origin must be `expectedOrigin`.
    public func openCheckpoint(_ message: String, expectedOrigin: String) throws -> Checkpoint {
        let checkpoint = try Checkpoint(text: try open(message).text)
        guard checkpoint.origin == expectedOrigin else {
            throw CheckpointError.unexpectedOrigin(checkpoint.origin)
        }
        return checkpoint
    }

    /// The C2SP key ID of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte key)[0..<4], big-endian.
    public static func ed25519KeyID(keyName: String, publicKey: Curve25519.Signing.PublicKey) -> UInt32 {
        var hasher = SHA256()
        hasher.update(data: Array(keyName.utf8))
        hasher.update(data: [0x0A, ed25519Type])
        hasher.update(data: publicKey.rawRepresentation)
        return hasher.finalize().prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}

extension UInt8 {
    fileprivate var isASCIIHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
