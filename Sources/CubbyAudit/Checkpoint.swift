/// A C2SP tlog-checkpoint body (https://c2sp.org/tlog-checkpoint): the log's origin, tree size and
/// root hash, one per line, then optional extension lines. Signed as a note by `NoteSigner`.
public struct Checkpoint: Hashable, Sendable {
    /// The log's identity, e.g. `cubby.example.org/audit`; the signing key's name should match it.
    public let origin: String
    /// The number of leaves in the tree.
    public let size: UInt64
    /// The RFC 6962 root hash of the tree of `size` leaves.
    public let rootHash: TreeHash
    /// Opaque extra lines after the root hash; the spec discourages them.
    public let extensionLines: [String]

    /// A checkpoint from its parts; throws if the origin or an extension line is empty or holds a control character.
    public init(origin: String, size: UInt64, rootHash: TreeHash, extensionLines: [String] = []) throws {
        guard Self.isValidLine(origin) else { throw CheckpointError.malformed("origin must be a non-empty line") }
        guard extensionLines.allSatisfy(Self.isValidLine) else {
            throw CheckpointError.malformed("extension lines must be non-empty lines")
        }
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
        self.extensionLines = extensionLines
    }

    /// Parses a checkpoint body, strictly: decimal size without sign or leading zeros, canonical
    /// base64 of exactly 32 bytes, every line non-empty, a final newline.
    public init(text: String) throws {
        guard text.utf8.last == 0x0A else { throw CheckpointError.malformed("text must end in a newline") }
        let lines = text.utf8.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard lines.count >= 3 else { throw CheckpointError.malformed("needs origin, size and root hash lines") }
        guard let size = Self.parseSize(lines[1]) else {
            throw CheckpointError.malformed("tree size is not canonical decimal")
        }
        guard let root = TreeHash(base64: lines[2]) else {
            throw CheckpointError.malformed("root hash is not base64 of 32 bytes")
        }
        try self.init(origin: lines[0], size: size, rootHash: root, extensionLines: Array(lines[3...]))
    }

    /// The checkpoint body, ending in a newline: the text a `NoteSigner` signs.
    public var text: String {
        var out = "\(origin)\n\(size)\n\(rootHash.base64)\n"
        for line in extensionLines { out += line + "\n" }
        return out
    }

    private static func isValidLine(_ line: String) -> Bool {
        !line.isEmpty && !line.utf8.contains { $0 < 0x20 }
    }

    private static func parseSize(_ line: String) -> UInt64? {
        let digits = Array(line.utf8)
        guard !digits.isEmpty, digits.count <= 20, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        guard digits[0] != 0x30 || digits.count == 1 else { return nil }
        return UInt64(line)
    }
}

/// Why a checkpoint was rejected.
public enum CheckpointError: Error, Equatable, Sendable {
    /// The body does not follow the tlog-checkpoint format; the message says where.
    case malformed(String)
    /// The checkpoint is signed by the trusted key but names another log.
    case unexpectedOrigin(String)
}
