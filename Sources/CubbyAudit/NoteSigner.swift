import Crypto
import Foundation

/// Signs note texts — above all the log's checkpoints — with an Ed25519 key under a key name,
/// as C2SP signed-note signature type 0x01.
public struct NoteSigner: Sendable {
    /// The key name written in each signature line; for a log, its origin.
    public let keyName: String
    /// The key ID: the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), big-endian.
    public let keyID: UInt32
    /// The private key.
    private let privateKey: Curve25519.Signing.PrivateKey

    /// A signer for `keyName`; throws if the name is empty or contains white space, `+` or control characters.
    public init(keyName: String, privateKey: Curve25519.Signing.PrivateKey) throws {
        guard SignedNote.isValidKeyName(keyName) else { throw SignedNoteError.invalidKeyName(keyName) }
        self.keyName = keyName
        self.privateKey = privateKey
        self.keyID = NoteVerifier.ed25519KeyID(keyName: keyName, publicKey: privateKey.publicKey)
    }

    /// The public key.
    public var publicKey: Curve25519.Signing.PublicKey { privateKey.publicKey }

    /// The verifier for this key, e.g. to publish as `verifier.verifierKey`.
    public var verifier: NoteVerifier {
        NoteVerifier(checkedKeyName: keyName, publicKey: privateKey.publicKey)
    }

    /// The verifier key string `<name>+<key ID>+<base64(0x01 ‖ public key)>` that witnesses and auditors configure.
    public var verifierKey: String { verifier.verifierKey }

    /// The signature line for `text`, which must end in a newline and hold no other control characters.
    public func signature(forText text: String) throws -> NoteSignature {
        try SignedNote.checkText(text)
        let signature = try privateKey.signature(for: Array(text.utf8))
        return try NoteSignature(keyName: keyName, keyID: keyID, signature: Array(signature))
    }

    /// `text` signed by this key alone.
    public func sign(text: String) throws -> SignedNote {
        try SignedNote(text: text, signatures: [signature(forText: text)])
    }

    /// The signed note of `checkpoint`, ready to serve.
    public func sign(_ checkpoint: Checkpoint) throws -> SignedNote {
        try sign(text: checkpoint.text)
    }

    /// `note` with this key's signature added (cosigning), replacing an earlier one by the same key.
    public func cosign(_ note: SignedNote) throws -> SignedNote {
        try note.adding(signature(forText: note.text))
    }
}
