/// Proof that a leaf is in the tree of a given size: the audit path of RFC 9162 §2.1.3.
public struct InclusionProof: Hashable, Sendable {
    /// The leaf's position, from 0.
    public let leafIndex: UInt64
    /// The size of the tree the proof is for.
    public let treeSize: UInt64
    /// The audit path, sibling of the leaf first.
    public let hashes: [TreeHash]

    /// A proof received from elsewhere, to verify.
    public init(leafIndex: UInt64, treeSize: UInt64, hashes: [TreeHash]) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.hashes = hashes
    }

    /// The stored nodes the proof is computed from — O(log n) of them; fetch them in one query and
    /// pass them as a `TreeNodeTable` to `init(leafIndex:treeSize:nodes:)`.
    public static func nodesNeeded(leafIndex: UInt64, treeSize: UInt64) throws -> [TreeNodeID] {
        MerkleTree.nodes(for: try MerkleTree.inclusionRanges(leafIndex: leafIndex, treeSize: treeSize))
    }

    /// Generates PATH(leafIndex, D[treeSize]) (RFC 9162 §2.1.3.1) from stored perfect-subtree nodes.
    ///
    /// The one sibling that may be an imperfect subtree (the part of the tree right of the leaf's
    /// perfect subtree) is folded from the frontier nodes below it, so no leaf is ever scanned.
    public init(leafIndex: UInt64, treeSize: UInt64, nodes source: some MerkleNodeSource) throws {
        let ranges = try MerkleTree.inclusionRanges(leafIndex: leafIndex, treeSize: treeSize)
        self.init(leafIndex: leafIndex, treeSize: treeSize, hashes: try MerkleTree.hashes(for: ranges, nodes: source))
    }

    /// The root hash this proof leads to from `leafHash` (RFC 9162 §2.1.3.2 steps 1–5, without the
    /// final comparison); throws if the index or the path length does not fit the tree size.
    public func rootHash(leafHash: TreeHash) throws -> TreeHash {
        guard leafIndex < treeSize else {
            throw MerkleTreeError.invalidRange("leaf index \(leafIndex) is not in a tree of size \(treeSize)")
        }
        var fn = leafIndex
        var sn = treeSize - 1
        var root = leafHash
        for sibling in hashes {
            guard sn != 0 else { throw MerkleTreeError.wrongProofLength }
            if fn & 1 == 1 || fn == sn {
                root = TreeHash.node(sibling, root)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                root = TreeHash.node(root, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw MerkleTreeError.wrongProofLength }
        return root
    }

    /// Checks that the leaf with hash `leafHash` is at `leafIndex` in the tree with root `rootHash`
    /// (RFC 9162 §2.1.3.2); throws a `MerkleTreeError` if not.
    public func verify(leafHash: TreeHash, rootHash expected: TreeHash) throws {
        guard try rootHash(leafHash: leafHash) == expected else { throw MerkleTreeError.rootMismatch }
    }
}
