/// A whole Merkle tree in memory: every complete perfect-subtree node, level by level.
///
/// For tests, exports and offline verification of a downloaded log; the server reads nodes from its store.
public struct InMemoryMerkleTree: MerkleNodeSource, Sendable {
    /// `levels[h][i]` is the node `TreeNodeID(level: h, index: i)`; only complete nodes are present.
    private var levels: [[TreeHash]] = [[]]

    /// An empty tree.
    public init() {}

    /// A tree of these leaf hashes.
    public init(leafHashes: some Sequence<TreeHash>) {
        for leaf in leafHashes { append(leafHash: leaf) }
    }

    /// The number of leaves.
    public var size: UInt64 { UInt64(levels[0].count) }

    /// The leaf hashes in order.
    public var leafHashes: [TreeHash] { levels[0] }

    /// Appends a leaf hash and the nodes it completes.
    public mutating func append(leafHash: TreeHash) {
        levels[0].append(leafHash)
        var level = 0
        while levels[level].count % 2 == 0 {
            let count = levels[level].count
            let parent = TreeHash.node(levels[level][count - 2], levels[level][count - 1])
            if levels.count == level + 1 { levels.append([]) }
            levels[level + 1].append(parent)
            level += 1
        }
    }

    /// The stored node; throws `MerkleTreeError.missingNode` if that subtree is not complete yet.
    public func hash(level: Int, index: UInt64) throws -> TreeHash {
        guard level >= 0, level < levels.count, index < UInt64(levels[level].count) else {
            throw MerkleTreeError.missingNode(TreeNodeID(level: level, index: index))
        }
        return levels[level][Int(index)]
    }

    /// The root of the first `size` leaves (default: all of them).
    public func rootHash(size: UInt64? = nil) throws -> TreeHash {
        try MerkleTree.rootHash(size: size ?? self.size, nodes: self)
    }

    /// The inclusion proof of leaf `leafIndex` in the tree of its first `treeSize` leaves.
    public func inclusionProof(leafIndex: UInt64, treeSize: UInt64? = nil) throws -> InclusionProof {
        try InclusionProof(leafIndex: leafIndex, treeSize: treeSize ?? size, nodes: self)
    }

    /// The consistency proof from the tree of `oldSize` leaves to the tree of `newSize` (default: all).
    public func consistencyProof(oldSize: UInt64, newSize: UInt64? = nil) throws -> ConsistencyProof {
        try ConsistencyProof(oldSize: oldSize, newSize: newSize ?? size, nodes: self)
    }
}
