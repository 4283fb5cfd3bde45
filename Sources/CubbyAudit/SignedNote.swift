/// A C2SP signed note (https://c2sp.org/signed-note): a text ending in a newline, a blank line, then
/// one or more signature lines `— <key name> <base64(key ID ‖ signature)>`.
///
/// Parsing checks the format only; a note's text means nothing until `NoteVerifier` has checked it.
public struct SignedNote: Hashable, Sendable {
    /// The most signature lines a note may carry; the spec asks verifiers to accept at least 16.
    public static let maximumSignatureCount = 100

    /// The signed text, including its final newline but not the separating blank line.
    public let text: String
    /// The signature lines in order.
    public let signatures: [NoteSignature]

    /// A note from its parts; throws if the text is not a valid note text or there is no signature.
    public init(text: String, signatures: [NoteSignature]) throws {
        try Self.checkText(text)
        guard !signatures.isEmpty else { throw SignedNoteError.malformedNote("a signed note needs a signature") }
        guard signatures.count <= Self.maximumSignatureCount else {
            throw SignedNoteError.malformedNote("too many signatures")
        }
        self.text = text
        self.signatures = signatures
    }

    /// Parses a signed note.
    public init(parsing message: String) throws {
        try self.init(parsing: Array(message.utf8))
    }

    /// Parses a signed note from its bytes, which must be valid UTF-8 without control characters other than newline.
    public init(parsing message: some Collection<UInt8>) throws {
        let bytes = Array(message)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw SignedNoteError.malformedNote("not valid UTF-8")
        }
        guard !bytes.contains(where: { $0 < 0x20 && $0 != 0x0A }) else {
            throw SignedNoteError.malformedNote("control character")
        }
        // The text ends at the last blank line.
        guard let split = Self.lastBlankLine(in: bytes) else {
            throw SignedNoteError.malformedNote("no blank line before the signatures")
        }
        let textBytes = bytes[..<(split + 1)]
        let block = bytes[(split + 2)...]
        guard let last = block.last, last == 0x0A else {
            throw SignedNoteError.malformedNote("signature block empty or not ending in a newline")
        }
        var signatures: [NoteSignature] = []
        for line in block.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false) {
            guard signatures.count < Self.maximumSignatureCount else {
                throw SignedNoteError.malformedNote("too many signatures")
            }
            signatures.append(try NoteSignature(line: line))
        }
        self.text = String(decoding: textBytes, as: UTF8.self)
        self.signatures = signatures
    }

    /// The note as text: the text, a blank line, the signature lines.
    public var serialized: String {
        text + "\n" + signatures.map(\.line).joined()
    }

    /// The note with `signature` added, replacing any earlier signature by the same key (name and ID).
    public func adding(_ signature: NoteSignature) throws -> SignedNote {
        var kept = signatures.filter { $0.keyName != signature.keyName || $0.keyID != signature.keyID }
        kept.append(signature)
        return try SignedNote(text: text, signatures: kept)
    }

    /// Throws unless `text` can be signed: non-empty, ending in a newline, no other control characters.
    static func checkText(_ text: String) throws {
        guard text.utf8.last == 0x0A else { throw SignedNoteError.malformedNote("text must end in a newline") }
        guard !text.utf8.contains(where: { $0 < 0x20 && $0 != 0x0A }) else {
            throw SignedNoteError.malformedNote("control character")
        }
    }

    /// Whether `name` can name a key: non-empty, no Unicode white space, no `+`, no control characters.
    static func isValidKeyName(_ name: some StringProtocol) -> Bool {
        !name.isEmpty
            && !name.unicodeScalars.contains { $0.properties.isWhitespace || $0 == "+" || $0.value < 0x20 }
    }

    /// The offset of the first newline of the last "\n\n".
    private static func lastBlankLine(in bytes: [UInt8]) -> Int? {
        var index = bytes.count - 2
        while index >= 0 {
            if bytes[index] == 0x0A && bytes[index + 1] == 0x0A { return index }
            index -= 1
        }
        return nil
    }
}

/// One signature line of a signed note.
public struct NoteSignature: Hashable, Sendable {
    /// The signing key's name.
    public let keyName: String
    /// The signing key's 32-bit ID (for Ed25519: the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)).
    public let keyID: UInt32
    /// The signature bytes after the key ID (64 bytes for Ed25519).
    public let signature: [UInt8]

    /// A signature from its parts; throws if the key name is invalid or the signature is empty.
    public init(keyName: String, keyID: UInt32, signature: [UInt8]) throws {
        guard SignedNote.isValidKeyName(keyName) else { throw SignedNoteError.invalidKeyName(keyName) }
        guard !signature.isEmpty else { throw SignedNoteError.malformedNote("empty signature") }
        self.keyName = keyName
        self.keyID = keyID
        self.signature = signature
    }

    /// The em dash (U+2014) and space that open every signature line.
    static let linePrefix: [UInt8] = Array("\u{2014} ".utf8)

    /// Parses one line without its newline.
    init(line: some Collection<UInt8>) throws {
        let line = Array(line)
        guard line.starts(with: Self.linePrefix) else {
            throw SignedNoteError.malformedNote("signature line does not start with an em dash and a space")
        }
        let rest = line[Self.linePrefix.count...]
        guard let space = rest.firstIndex(of: 0x20) else {
            throw SignedNoteError.malformedNote("signature line has no space after the key name")
        }
        let name = String(decoding: rest[..<space], as: UTF8.self)
        let encoded = String(decoding: rest[(space + 1)...], as: UTF8.self)
        guard SignedNote.isValidKeyName(name) else { throw SignedNoteError.malformedNote("invalid key name") }
        guard let raw = StrictBase64.decode(encoded), raw.count >= 5 else {
            throw SignedNoteError.malformedNote("signature is not base64 of a key ID and a signature")
        }
        self.keyName = name
        self.keyID = raw[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        self.signature = Array(raw[4...])
    }

    /// The line as it appears in a note, with its newline.
    public var line: String {
        var raw: [UInt8] = []
        raw.reserveCapacity(4 + signature.count)
        withUnsafeBytes(of: keyID.bigEndian) { raw.append(contentsOf: $0) }
        raw.append(contentsOf: signature)
        return "\u{2014} \(keyName) \(StrictBase64.encode(raw))\n"
    }
}

/// Why a signed note, a key string or a signature was rejected.
public enum SignedNoteError: Error, Equatable, Sendable {
    /// The note does not follow the signed-note format; the message says where.
    case malformedNote(String)
    /// The key name is empty or contains white space, `+` or control characters.
    case invalidKeyName(String)
    /// The verifier key string is not `<name>+<8 hex key ID>+<base64(0x01 ‖ 32-byte key)>` or its ID is wrong.
    case malformedVerifierKey(String)
    /// A signature by the trusted key (same name and key ID) did not verify.
    case invalidSignature
    /// The note carries no signature by the trusted key.
    case noTrustedSignature
}
