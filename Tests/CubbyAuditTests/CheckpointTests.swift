import Crypto
import CubbyAudit
import Foundation
import Testing

@Suite("C2SP tlog-checkpoint")
struct CheckpointTests {
    /// The example body of https://c2sp.org/tlog-checkpoint.
    static let specExample = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    static let root = TreeHash(base64: "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")!

    @Test func specExampleRoundTrips() throws {
        let checkpoint = try Checkpoint(text: Self.specExample)
        #expect(checkpoint.origin == "example.com/behind-the-sofa")
        #expect(checkpoint.size == 20_852_163)
        #expect(checkpoint.rootHash == Self.root)
        #expect(checkpoint.extensionLines.isEmpty)
        #expect(checkpoint.text == Self.specExample)
    }

    @Test func serializesAsThreeLinesAndExtensions() throws {
        let checkpoint = try Checkpoint(origin: "cubby.example.org/audit", size: 0, rootHash: .emptyTree)
        #expect(checkpoint.text == "cubby.example.org/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
        let extended = try Checkpoint(
            origin: "o", size: UInt64.max, rootHash: Self.root, extensionLines: ["ext one", "— two"])
        #expect(extended.text == "o\n18446744073709551615\n\(Self.root.base64)\next one\n— two\n")
        #expect(try Checkpoint(text: extended.text) == extended)
    }

    @Test(arguments: [
        ("01", "leading zero"), ("00", "leading zero"), ("+1", "sign"), ("-1", "sign"), (" 1", "space"),
        ("1 ", "space"),
        ("", "empty"), ("1e3", "exponent"), ("0x10", "hex"), ("18446744073709551616", "overflow"),
        ("١٢", "non-ASCII digits"),
    ])
    func badSizesAreRejected(size: String, why: String) {
        let text = "example.com/log\n\(size)\n\(Self.root.base64)\n"
        #expect(throws: CheckpointError.self, "\(why)") { try Checkpoint(text: text) }
    }

    @Test(arguments: [
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I",  // no padding
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=",  // stray bits
        "CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=",  // URL alphabet
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx",  // 30 bytes
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA",  // 33 bytes
        "",
        " CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
    ])
    func badRootHashesAreRejected(root: String) {
        #expect(throws: CheckpointError.self) { try Checkpoint(text: "example.com/log\n5\n\(root)\n") }
    }

    @Test(arguments: [
        "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",  // no final newline
        "example.com/log\n5\n",
        "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",  // empty origin
        "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",  // empty extension line
        "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\nlater\n",
        "example.com/log\r\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "",
    ])
    func malformedBodiesAreRejected(text: String) {
        #expect(throws: CheckpointError.self) { try Checkpoint(text: text) }
    }

    @Test func invalidPartsAreRejected() {
        #expect(throws: CheckpointError.self) { try Checkpoint(origin: "", size: 1, rootHash: Self.root) }
        #expect(throws: CheckpointError.self) { try Checkpoint(origin: "a\nb", size: 1, rootHash: Self.root) }
        #expect(throws: CheckpointError.self) {
            try Checkpoint(origin: "o", size: 1, rootHash: Self.root, extensionLines: [""])
        }
        #expect(throws: CheckpointError.self) {
            try Checkpoint(origin: "o", size: 1, rootHash: Self.root, extensionLines: ["a\nb"])
        }
    }

    @Test func signedCheckpointOpensOnlyForItsOriginAndKey() throws {
        let origin = "cubby.example.org/audit"
        let signer = try NoteSigner(keyName: origin, privateKey: .init())
        let tree = InMemoryMerkleTree(leafHashes: referenceLeaves.map { TreeHash.leaf($0) })
        let checkpoint = try Checkpoint(origin: origin, size: tree.size, rootHash: tree.rootHash())
        let message = try signer.sign(checkpoint).serialized
        #expect(message.hasPrefix("\(origin)\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n— \(origin) "))

        let verifier = try NoteVerifier(verifierKey: signer.verifierKey)
        #expect(try verifier.openCheckpoint(message, expectedOrigin: origin) == checkpoint)
        #expect(throws: CheckpointError.unexpectedOrigin(origin)) {
            try verifier.openCheckpoint(message, expectedOrigin: "other.example/log")
        }
        let stranger = try NoteVerifier(keyName: origin, publicKey: Curve25519.Signing.PrivateKey().publicKey)
        #expect(throws: SignedNoteError.noTrustedSignature) {
            try stranger.openCheckpoint(message, expectedOrigin: origin)
        }
        // A signed note that is not a checkpoint.
        let notCheckpoint = try signer.sign(text: "\(origin)\n8\nnot a hash\n").serialized
        #expect(throws: CheckpointError.self) { try verifier.openCheckpoint(notCheckpoint, expectedOrigin: origin) }
        // Raising the size by one digit breaks the signature.
        let bumped = message.replacingOccurrences(of: "\n8\n", with: "\n9\n")
        #expect(throws: SignedNoteError.invalidSignature) {
            try verifier.openCheckpoint(bumped, expectedOrigin: origin)
        }
    }
}
