import Crypto
import Foundation

/// A forensic bundle: audit events with their canonical bytes, the signed checkpoint that covers them,
/// an inclusion proof for each, the log's public key and the evidence files the events refer to.
///
/// It is checked offline, with no database: what goes to the police or an insurer. The files live in a
/// ZIP archive; this type deals with their contents only.
public struct EvidenceBundle: Sendable {
    /// File name → contents.
    public var files: [String: Data]

    public init(files: [String: Data]) { self.files = files }

    /// One event to put in a bundle.
    public struct Item: Sendable {
        public var row: AuditExportRow
        public var proof: [TreeHash]
        public init(row: AuditExportRow, proof: [TreeHash]) {
            self.row = row
            self.proof = proof
        }
    }

    /// The file that carries the log's key history, when its key was ever rotated.
    public static let keyHistoryFile = "key-history.json"

    /// The detail key under which an event names an evidence file by its SHA-256 (hex).
    public static let evidenceKey = "evidenceSha256"

    /// Assembles a bundle. `evidence` maps SHA-256 hex → file contents.
    ///
    /// `keyHistory` holds the log's checkpoint-key rotations, so that the bundle verifies from an earlier key (the key
    /// file's, say) as well as from the key that signed its checkpoint.
    public static func make(
        items: [Item], treeSize: UInt64, checkpointNote: String, verifierKey: String, evidence: [String: Data],
        keyHistory: [LogKeyRotation] = []
    ) throws -> EvidenceBundle {
        var files: [String: Data] = [:]
        if !keyHistory.isEmpty {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            files[keyHistoryFile] = try encoder.encode(keyHistory)
        }
        files["events.jsonl"] = Data(items.map { AuditExportFormat.jsonl.line($0.row) }.joined().utf8)
        files["checkpoint.txt"] = Data(checkpointNote.utf8)
        files["key.txt"] = Data((verifierKey + "\n").utf8)
        let proofs: [[String: Any]] = items.map {
            [
                "index": $0.row.index, "leafHash": Data($0.row.leafHash).base64EncodedString(),
                "proof": $0.proof.map(\.base64),
            ]
        }
        files["proofs.json"] = try JSONSerialization.data(
            withJSONObject: ["treeSize": treeSize, "proofs": proofs], options: [.sortedKeys, .prettyPrinted])
        for (hash, data) in evidence { files["evidence/" + hash] = data }
        files["VERIFY.md"] = Data(verifyText(count: items.count, treeSize: treeSize, key: verifierKey).utf8)
        return EvidenceBundle(files: files)
    }

    /// Whether an `events.jsonl` line's readable fields are those of its canonical bytes (absent and null alike).
    static func readableMatches(_ line: [String: Any], canonical c: [String: Any]) -> Bool {
        func text(_ v: Any?) -> String? { v as? String }
        let pairs: [(String, String)] = [
            ("id", "id"), ("occurredAt", "at"), ("type", "type"), ("outcome", "outcome"), ("organizationId", "org"),
            ("siteId", "site"), ("unitId", "unit"), ("compartmentId", "compartment"), ("parcelId", "parcel"),
            ("trackingNumber", "tracking"),
        ]
        for (readable, hashed) in pairs where text(line[readable]) != text(c[hashed]) { return false }
        let actor = line["actor"] as? [String: Any] ?? [:]
        let hashedActor = c["actor"] as? [String: Any] ?? [:]
        for key in ["kind", "id", "role"] where text(actor[key]) != text(hashedActor[key]) { return false }
        let detail = line["detail"] as? [String: String] ?? [:]
        let hashedDetail = c["detail"] as? [String: String] ?? [:]
        return detail == hashedDetail
    }

    /// What a successful verification established.
    public struct Verified: Sendable, Equatable {
        public var events: Int
        public var treeSize: UInt64
        public var origin: String
        public var verifierKey: String
        public var evidenceFiles: Int
        /// The key rotations followed from the trusted key to the one that signed the checkpoint.
        public var rotations = 0
    }

    /// Checks everything; throws `BundleError` naming the first thing that does not hold.
    ///
    /// `pinnedKey` is the log's verifier key obtained some other way; without it the bundle's own key is
    /// used, which proves integrity relative to that key only.
    public func verify(pinnedKey: String? = nil) throws -> Verified {
        func file(_ name: String) throws -> Data {
            guard let d = files[name] else { throw BundleError.missing(name) }
            return d
        }
        let bundledKey = String(decoding: try file("key.txt"), as: UTF8.self).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let trusted: NoteVerifier
        do { trusted = try NoteVerifier(verifierKey: pinnedKey ?? bundledKey) } catch {
            throw BundleError.invalid(pinnedKey == nil ? "key.txt: \(error)" : "the key given: \(error)")
        }
        // From the trusted key, follow each rotation the key it replaced vouched for, up to the key in force.
        var history: [LogKeyRotation] = []
        if let data = files[Self.keyHistoryFile] {
            guard let decoded = try? JSONDecoder().decode([LogKeyRotation].self, from: data) else {
                throw BundleError.invalid("\(Self.keyHistoryFile) is malformed")
            }
            history = decoded
        }
        let verifier: NoteVerifier
        let retired: [LogKeyRotation.Retired]
        do { (verifier, retired) = try LogKeyRotation.follow(from: trusted, history: history) } catch {
            throw BundleError.invalid("\(Self.keyHistoryFile): \(error)")
        }
        if let pinnedKey, verifier.verifierKey != bundledKey {
            throw BundleError.keyMismatch(bundled: bundledKey, expected: pinnedKey)
        }
        let checkpoint: Checkpoint
        let checkpointText = String(decoding: try file("checkpoint.txt"), as: UTF8.self)
        do {
            checkpoint = try verifier.openCheckpoint(checkpointText, expectedOrigin: verifier.keyName)
        } catch let e as BundleError { throw e } catch {
            if let old = retired.last(where: { (try? $0.key.open(checkpointText)) != nil }) {
                throw BundleError.invalid(
                    "checkpoint.txt is signed only by a retired key (\(old.key.verifierKey)), which the rotation at leaf \(old.index) replaced"
                )
            }
            throw BundleError.invalid("checkpoint.txt is not signed by the log's key: \(error)")
        }
        if let last = retired.last(where: { $0.origin == nil }), checkpoint.size <= last.index {
            throw BundleError.invalid(
                "checkpoint.txt (\(checkpoint.size) leaves) predates the rotation at leaf \(last.index) to the key that signed it"
            )
        }
        guard let proofs = try? JSONSerialization.jsonObject(with: try file("proofs.json")) as? [String: Any],
            let treeSize = (proofs["treeSize"] as? NSNumber)?.uint64Value,
            let list = proofs["proofs"] as? [[String: Any]]
        else { throw BundleError.invalid("proofs.json is malformed") }
        guard treeSize == checkpoint.size else {
            throw BundleError.invalid("proofs.json is for \(treeSize) leaves, the checkpoint for \(checkpoint.size)")
        }
        var byIndex: [UInt64: [TreeHash]] = [:]
        for p in list {
            guard let i = (p["index"] as? NSNumber)?.uint64Value, let hashes = p["proof"] as? [String] else {
                throw BundleError.invalid("proofs.json has a malformed entry")
            }
            let decoded = hashes.compactMap(TreeHash.init(base64:))
            guard decoded.count == hashes.count else {
                throw BundleError.invalid("proofs.json: proof of \(i) has a malformed hash")
            }
            byIndex[i] = decoded
        }
        var events = 0
        var evidenceFiles = 0
        let lines = String(decoding: try file("events.jsonl"), as: UTF8.self).split(separator: "\n")
        for (n, line) in lines.enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let index = (object["index"] as? NSNumber)?.uint64Value,
                let canonicalText = object["canonical"] as? String,
                let canonical = Data(base64Encoded: canonicalText)
            else { throw BundleError.invalid("events.jsonl line \(n + 1) is malformed") }
            let leaf = TreeHash.leaf(canonical)
            guard (object["leafHash"] as? String) == leaf.hex else {
                throw BundleError.event(index, "its leaf hash does not match its canonical bytes")
            }
            // Every readable field must say what the hashed bytes say: a reader trusts the readable ones.
            guard let fields = try? JSONSerialization.jsonObject(with: canonical) as? [String: Any],
                Self.readableMatches(object, canonical: fields)
            else { throw BundleError.event(index, "its readable fields differ from its canonical bytes") }
            guard let proof = byIndex[index] else { throw BundleError.event(index, "no inclusion proof") }
            do {
                try InclusionProof(leafIndex: index, treeSize: checkpoint.size, hashes: proof).verify(
                    leafHash: leaf, rootHash: checkpoint.rootHash)
            } catch {
                throw BundleError.event(index, "its inclusion proof does not lead to the signed root")
            }
            if let detail = fields["detail"] as? [String: String], let hash = detail[Self.evidenceKey] {
                guard let data = files["evidence/" + hash] else {
                    throw BundleError.event(index, "evidence file \(hash) is missing")
                }
                guard TreeHash(SHA256.hash(data: data)).hex == hash.lowercased() else {
                    throw BundleError.event(index, "evidence file \(hash) does not match its hash")
                }
                evidenceFiles += 1
            }
            events += 1
        }
        return Verified(
            events: events, treeSize: checkpoint.size, origin: verifier.keyName, verifierKey: verifier.verifierKey,
            evidenceFiles: evidenceFiles, rotations: retired.count)
    }

    static func verifyText(count: Int, treeSize: UInt64, key: String) -> String {
        """
        # Verifying this bundle

        This bundle holds \(count) audit events of a Cubby parcel-locker log, the log's signed checkpoint of
        \(treeSize) entries, an inclusion proof for each event, and the evidence files the events name.

        ## With the tool

            cubby audit verify-bundle THIS.zip --key '\(key)'

        Get the key from the operator by another channel than this bundle and pass it with --key; without
        it the key in key.txt is used, which proves only that the bundle is consistent with itself.

        ## By hand

        1. key.txt is a signed-note verifier key: `<name>+<key id>+<base64(0x01 ‖ Ed25519 public key)>`.
        2. checkpoint.txt is a C2SP signed note over a tlog-checkpoint: origin, tree size, base64 root hash.
           Check the Ed25519 signature on the text above the blank line (https://c2sp.org/signed-note).
        3. For each line of events.jsonl: base64-decode `canonical`; SHA-256(0x00 ‖ canonical) must equal
           `leafHash`; the fields `id`, `type`, `occurredAt` must match the canonical JSON's `id`, `type`, `at`.
        4. proofs.json gives, per event index, an RFC 9162 §2.1.3 inclusion proof; following it from the
           leaf hash (0x01 ‖ left ‖ right for interior nodes) must give the checkpoint's root hash.
        5. An event whose detail holds `evidenceSha256` refers to evidence/<that hash>; SHA-256 of the file
           must equal the name.
        6. When the log's checkpoint key was rotated, key-history.json lists each rotation: the `log.key_rotated`
           event's canonical bytes and leaf index, the first checkpoint covering it (signed by the old key and
           the new) and the event's inclusion proof there. Starting from a key obtained earlier, each rotation
           whose old key is the key in force hands over to its new key; checkpoint.txt must be signed by the last.

        """
    }
}

/// Why a bundle does not verify.
public enum BundleError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case invalid(String)
    case keyMismatch(bundled: String, expected: String)
    case event(UInt64, String)

    public var description: String {
        switch self {
        case .missing(let f): "the bundle has no \(f)"
        case .invalid(let m): m
        case .keyMismatch(let b, let e): "the bundle's key \(b) is not the expected \(e)"
        case .event(let i, let m): "event \(i): \(m)"
        }
    }
}
