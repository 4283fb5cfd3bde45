import Crypto
import CubbyCore
import Foundation
import Testing

@testable import CubbyAudit

@Suite("Forensic bundles verify offline and fail when altered")
struct EvidenceBundleTests {
    struct Fixture {
        var bundle: EvidenceBundle
        var key: String
    }

    /// A log of 12 events, the 4th naming an evidence file; a bundle of events 2…6.
    static func fixture(evidence photo: Data = Data("JPEG bytes".utf8)) throws -> Fixture {
        let photoHash = TreeHash(SHA256.hash(data: photo)).hex
        var rows: [AuditExportRow] = []
        for i in 0..<12 {
            var detail = ["i": String(i)]
            if i == 4 { detail[EvidenceBundle.evidenceKey] = photoHash }
            let record = AuditRecord(
                occurredAt: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)), type: "test.e\(i)", actor: .system,
                detail: detail)
            let canonical = AuditCanonicalEncoding.encode(record)
            rows.append(
                AuditExportRow(
                    index: Int64(i), id: record.id.uuidString.lowercased(),
                    occurredAt: AuditCanonicalEncoding.timestamp(record.occurredAt),
                    occurredAtMillis: record.occurredAt.millisecondsSince1970, type: record.type, outcome: "success",
                    actorKind: "system",
                    actorId: nil, actorRole: "system", organizationId: nil, siteId: nil, unitId: nil,
                    compartmentId: nil, parcelId: nil,
                    trackingNumber: nil, detail: detail, canonical: canonical,
                    leafHash: AuditCanonicalEncoding.leafHash(canonical)))
        }
        let tree = InMemoryMerkleTree(leafHashes: rows.map { TreeHash.leaf($0.canonical) })
        let signer = try NoteSigner(keyName: "test.cubby/log", privateKey: Curve25519.Signing.PrivateKey())
        let note = try signer.sign(try Checkpoint(origin: "test.cubby/log", size: 12, rootHash: try tree.rootHash()))
            .serialized
        let items = try rows[2...6].map {
            EvidenceBundle.Item(row: $0, proof: try tree.inclusionProof(leafIndex: UInt64($0.index)).hashes)
        }
        let bundle = try EvidenceBundle.make(
            items: items, treeSize: 12, checkpointNote: note, verifierKey: signer.verifierKey,
            evidence: [photoHash: photo])
        return Fixture(bundle: bundle, key: signer.verifierKey)
    }

    @Test("an intact bundle verifies, with and without the pinned key")
    func intact() throws {
        let f = try Self.fixture()
        let result = try f.bundle.verify(pinnedKey: f.key)
        #expect(result.events == 5)
        #expect(result.treeSize == 12)
        #expect(result.evidenceFiles == 1)
        #expect(try f.bundle.verify().events == 5)
        #expect(f.bundle.files["VERIFY.md"] != nil)
    }

    @Test("a different expected key is refused")
    func wrongKey() throws {
        let f = try Self.fixture()
        let other = try NoteSigner(keyName: "test.cubby/log", privateKey: Curve25519.Signing.PrivateKey()).verifierKey
        #expect(throws: BundleError.self) { try f.bundle.verify(pinnedKey: other) }
    }

    enum Alteration: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case eventType, canonicalBytes, proofHash, checkpointRoot, missingProofs, evidenceSwapped, evidenceRemoved,
            keySwapped
        var testDescription: String { rawValue }
    }

    @Test("every alteration is caught", arguments: Alteration.allCases)
    func altered(_ alteration: Alteration) throws {
        var f = try Self.fixture()
        func replace(_ file: String, _ from: String, _ to: String) {
            let text = String(decoding: f.bundle.files[file]!, as: UTF8.self)
            #expect(text.contains(from), "the alteration must change something")
            f.bundle.files[file] = Data(text.replacingOccurrences(of: from, with: to).utf8)
        }
        switch alteration {
        case .eventType: replace("events.jsonl", "\"type\":\"test.e3\"", "\"type\":\"test.e9\"")
        case .canonicalBytes:
            let lines = String(decoding: f.bundle.files["events.jsonl"]!, as: UTF8.self).split(separator: "\n")
            var object = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
            let canonical = String(decoding: Data(base64Encoded: object["canonical"] as! String)!, as: UTF8.self)
                .replacingOccurrences(of: "test.e3", with: "test.e9")
            object["canonical"] = Data(canonical.utf8).base64EncodedString()
            object["type"] = "test.e9"
            object["leafHash"] = TreeHash.leaf(Data(canonical.utf8)).hex
            let changed = String(
                decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            f.bundle.files["events.jsonl"] = Data(
                (lines.enumerated().map { $0.offset == 1 ? changed : String($0.element) }.joined(separator: "\n") + "\n")
                    .utf8)
        case .proofHash:
            let json = try JSONSerialization.jsonObject(with: f.bundle.files["proofs.json"]!) as! [String: Any]
            var proofs = json["proofs"] as! [[String: Any]]
            var hashes = proofs[0]["proof"] as! [String]
            hashes[0] = TreeHash.leaf(Data("x".utf8)).base64
            proofs[0]["proof"] = hashes
            f.bundle.files["proofs.json"] = try JSONSerialization.data(withJSONObject: [
                "treeSize": 12, "proofs": proofs,
            ])
        case .checkpointRoot:
            let note = String(decoding: f.bundle.files["checkpoint.txt"]!, as: UTF8.self)
            let root = note.split(separator: "\n")[2]
            replace("checkpoint.txt", String(root), TreeHash.leaf(Data("forged".utf8)).base64)
        case .missingProofs:
            f.bundle.files["proofs.json"] = try JSONSerialization.data(withJSONObject: [
                "treeSize": 12, "proofs": [[String: Any]](),
            ])
        case .evidenceSwapped:
            let name = f.bundle.files.keys.first { $0.hasPrefix("evidence/") }!
            f.bundle.files[name] = Data("a different photo".utf8)
        case .evidenceRemoved:
            let name = f.bundle.files.keys.first { $0.hasPrefix("evidence/") }!
            f.bundle.files[name] = nil
        case .keySwapped:
            let other = try NoteSigner(keyName: "test.cubby/log", privateKey: Curve25519.Signing.PrivateKey())
                .verifierKey
            f.bundle.files["key.txt"] = Data(other.utf8)
        }
        #expect(throws: BundleError.self) { try f.bundle.verify() }
    }
}
