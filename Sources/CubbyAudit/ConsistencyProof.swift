/// Proof that the tree of `oldSize` leaves is a prefix of the tree of `newSize` leaves (RFC 9162 §2.1.4):
/// the log only appended.
public struct ConsistencyProof: Hashable, Sendable {
    /// The size of the earlier tree; at least 1.
    public let oldSize: UInt64
    /// The size of the later tree; at least `oldSize`.
    public let newSize: UInt64
    /// The proof nodes, deepest first; empty when the sizes are equal.
    public let hashes: [TreeHash]

    /// A proof received from elsewhere, to verify.
    public init(oldSize: UInt64, newSize: UInt64, hashes: [TreeHash]) {
        self.oldSize = oldSize
        self.newSize = newSize
        self.hashes = hashes
    }

    /// The stored nodes the proof is computed from — O(log n) of them; fetch them in one query and
    /// pass them as a `TreeNodeTable` to `init(oldSize:newSize:nodes:)`.
    public static func nodesNeeded(oldSize: UInt64, newSize: UInt64) throws -> [TreeNodeID] {
        MerkleTree.nodes(for: try MerkleTree.consistencyRanges(oldSize: oldSize, newSize: newSize))
    }

    /// Generates PROOF(oldSize, D[newSize]) (RFC 9162 §2.1.4.1) from stored perfect-subtree nodes.
    /// Throws for `oldSize == 0` (RFC 9162 defines no proof from the empty tree) or `oldSize > newSize`.
    public init(oldSize: UInt64, newSize: UInt64, nodes source: some MerkleNodeSource) throws {
        let ranges = try MerkleTree.consistencyRanges(oldSize: oldSize, newSize: newSize)
        self.init(oldSize: oldSize, newSize: newSize, hashes: try MerkleTree.hashes(for: ranges, nodes: source))
    }

    /// Checks that `oldRoot` (tree of `oldSize`) and `newRoot` (tree of `newSize`) are consistent
    /// (RFC 9162 §2.1.4.2); throws a `MerkleTreeError` if not.
    ///
    /// Equal sizes need an empty proof and equal roots. Size 0 is rejected: every tree extends the
    /// empty one, so such a check would prove nothing (the transparency-dev test data agrees).
    public func verify(oldRoot: TreeHash, newRoot: TreeHash) throws {
        guard oldSize > 0 else { throw MerkleTreeError.invalidRange("consistency with the empty tree proves nothing") }
        guard oldSize <= newSize else {
            throw MerkleTreeError.invalidRange("old size \(oldSize) exceeds new size \(newSize)")
        }
        if oldSize == newSize {
            guard hashes.isEmpty else { throw MerkleTreeError.wrongProofLength }
            guard oldRoot == newRoot else { throw MerkleTreeError.rootMismatch }
            return
        }
        // Step 1.
        guard let firstGiven = hashes.first else { throw MerkleTreeError.wrongProofLength }
        // Step 2: when the old tree is perfect its root is the proof's implicit first element.
        let oldTreeIsPerfect = oldSize & (oldSize - 1) == 0
        let seed = oldTreeIsPerfect ? oldRoot : firstGiven
        let rest = oldTreeIsPerfect ? hashes[...] : hashes.dropFirst()
        // Steps 3–4.
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        // Steps 5–6.
        var oldHash = seed
        var newHash = seed
        for node in rest {
            guard sn != 0 else { throw MerkleTreeError.wrongProofLength }
            if fn & 1 == 1 || fn == sn {
                oldHash = TreeHash.node(node, oldHash)
                newHash = TreeHash.node(node, newHash)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                newHash = TreeHash.node(newHash, node)
            }
            fn >>= 1
            sn >>= 1
        }
        // Step 7.
        guard sn == 0 else { throw MerkleTreeError.wrongProofLength }
        guard oldHash == oldRoot, newHash == newRoot else { throw MerkleTreeError.rootMismatch }
    }
}
