import Crypto
import Foundation

/// A `log.key_rotated` event read from its canonical bytes: which checkpoint key replaced which.
public struct KeyRotationEvent: Sendable, Equatable {
    /// The event type that records a rotation.
    public static let type = "log.key_rotated"

    /// `checkpoint` or `qr`; only checkpoint rotations change who signs a log.
    public var purpose: String
    public var oldKey: Curve25519.Signing.PublicKey
    public var newKey: Curve25519.Signing.PublicKey

    public static func == (a: Self, b: Self) -> Bool {
        a.purpose == b.purpose && a.oldKey.rawRepresentation == b.oldKey.rawRepresentation
            && a.newKey.rawRepresentation == b.newKey.rawRepresentation
    }

    /// The rotation an event's canonical bytes record; nil when they are another event, throws when they claim to be
    /// a rotation but do not name two keys.
    public static func parse(_ canonical: Data) throws -> KeyRotationEvent? {
        struct Fields: Decodable {
            var type: String
            var detail: [String: String]?
        }
        guard let fields = try? JSONDecoder().decode(Fields.self, from: canonical), fields.type == type else {
            return nil
        }
        let detail = fields.detail ?? [:]
        func key(_ name: String) throws -> Curve25519.Signing.PublicKey {
            guard let raw = detail[name].flatMap({ StrictBase64.decode($0) }),
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
            else { throw KeyHistoryError("a log.key_rotated event without a well-formed \(name)") }
            return key
        }
        return KeyRotationEvent(
            purpose: detail["purpose"] ?? "", oldKey: try key("oldPublicKey"), newKey: try key("newPublicKey"))
    }
}

/// One step of a log's key history as a bundle or a witness receives it: the `log.key_rotated` event, the first
/// checkpoint that covers it (signed by the old key and the new), and the event's inclusion proof in that checkpoint.
///
/// A log opened after a rotation has not recorded the rotations before it; its history begins with the deployment
/// log's steps, which name that log's origin (one key signs every log, so its vouching holds for all of them).
public struct LogKeyRotation: Codable, Sendable, Equatable {
    /// The event's leaf index (in the log of `origin` when it is set).
    public var index: UInt64
    /// The origin of the log that recorded the rotation, when it is another log than the one this history is of.
    public var origin: String?
    /// The event's canonical bytes (base64).
    public var canonical: String
    /// The signed note of the first checkpoint covering the event.
    public var checkpoint: String
    /// The inclusion proof (base64 hashes) of the event in that checkpoint.
    public var proof: [String]

    public init(index: UInt64, canonical: Data, checkpoint: String, proof: [TreeHash], origin: String? = nil) {
        self.index = index
        self.origin = origin
        self.canonical = canonical.base64EncodedString()
        self.checkpoint = checkpoint
        self.proof = proof.map(\.base64)
    }

    /// A key a rotation replaced, with the rotation's leaf index and, for another log's step, that log's origin.
    public typealias Retired = (key: NoteVerifier, index: UInt64, origin: String?)

    /// Follows `history`, in order, from `trusted`: each step whose old key is the key in force moves to its new key
    /// once the old key's signature, over a checkpoint that includes the event, proves the old key vouched for it.
    /// Steps before the trusted key are skipped. Returns the key in force at the end and the keys it replaced.
    public static func follow(
        from trusted: NoteVerifier, history: [LogKeyRotation]
    ) throws -> (current: NoteVerifier, retired: [Retired]) {
        var current = trusted
        var retired: [Retired] = []
        for step in history {
            guard let canonical = StrictBase64.decode(step.canonical) else {
                throw KeyHistoryError("the key history's rotation at leaf \(step.index) is not base64")
            }
            guard let event = try KeyRotationEvent.parse(Data(canonical)) else {
                throw KeyHistoryError("the key history's entry at leaf \(step.index) is not a log.key_rotated event")
            }
            guard event.purpose == "checkpoint",
                event.oldKey.rawRepresentation == current.publicKey.rawRepresentation
            else { continue }
            // Another log's step is checked under that log's name for the same keys.
            let name = step.origin ?? current.keyName
            let old = try NoteVerifier(keyName: name, publicKey: current.publicKey)
            let checkpoint: Checkpoint
            do {
                checkpoint = try old.openCheckpoint(step.checkpoint, expectedOrigin: name)
                let successor = try NoteVerifier(keyName: name, publicKey: event.newKey)
                try successor.verify(try SignedNote(parsing: step.checkpoint))
            } catch {
                throw KeyHistoryError(
                    "the rotation at leaf \(step.index) is not vouched for by a checkpoint signed by both the old key and the new: \(error)"
                )
            }
            let hashes = step.proof.compactMap(TreeHash.init(base64:))
            guard hashes.count == step.proof.count, step.index < checkpoint.size else {
                throw KeyHistoryError("the rotation at leaf \(step.index) has a malformed inclusion proof")
            }
            do {
                try InclusionProof(leafIndex: step.index, treeSize: checkpoint.size, hashes: hashes).verify(
                    leafHash: TreeHash.leaf(canonical), rootHash: checkpoint.rootHash)
            } catch {
                throw KeyHistoryError(
                    "the rotation event at leaf \(step.index) is not in the checkpoint that vouches for it")
            }
            retired.append((current, step.index, step.origin))
            current = try NoteVerifier(keyName: current.keyName, publicKey: event.newKey)
        }
        return (current, retired)
    }
}

/// A key history that does not hold: one sentence.
public struct KeyHistoryError: Error, CustomStringConvertible, Equatable, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
