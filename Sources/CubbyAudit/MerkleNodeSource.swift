/// A perfect subtree of the audit log's Merkle tree: the `2^level` leaves
/// `[index · 2^level, (index + 1) · 2^level)`. Level 0 is a single leaf.
///
/// Once the log has that many leaves the node's hash never changes, which is what lets a store keep
/// one row per node and answer proofs for any past tree size.
public struct TreeNodeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Height above the leaves: the subtree covers `2^level` leaves.
    public let level: Int
    /// Position among the nodes of this level, counted from the left.
    public let index: UInt64

    /// The node covering leaves `[index · 2^level, (index + 1) · 2^level)`; `level` must be in 0...63.
    public init(level: Int, index: UInt64) {
        precondition((0...63).contains(level), "tree level out of range")
        self.level = level
        self.index = index
    }

    /// The first leaf the node covers.
    public var firstLeaf: UInt64 { index << UInt64(level) }

    /// The number of leaves the node covers.
    public var leafCount: UInt64 { 1 << UInt64(level) }

    /// Orders by level, then index, so lists of nodes sort into a stable shape for queries.
    public static func < (lhs: TreeNodeID, rhs: TreeNodeID) -> Bool {
        (lhs.level, lhs.index) < (rhs.level, rhs.index)
    }

    /// `level/index`, e.g. `3/17`.
    public var description: String { "\(level)/\(index)" }
}

/// Where proof generation reads perfect-subtree hashes from: a database table of nodes, or memory.
///
/// Implementations return the hash of the complete subtree `id`; they throw (for example
/// `MerkleTreeError.missingNode`) when they do not have it.
public protocol MerkleNodeSource {
    /// The hash of the perfect subtree with `2^level` leaves starting at leaf `index · 2^level`.
    func hash(level: Int, index: UInt64) throws -> TreeHash
}

extension MerkleNodeSource {
    /// The hash of the perfect subtree `id`.
    public func hash(of id: TreeNodeID) throws -> TreeHash {
        try hash(level: id.level, index: id.index)
    }
}

/// A fixed set of fetched nodes, e.g. the rows a store loaded for `InclusionProof.nodesNeeded(…)`.
public struct TreeNodeTable: MerkleNodeSource, Sendable {
    /// The nodes by id.
    public var nodes: [TreeNodeID: TreeHash]

    /// A table holding `nodes`.
    public init(_ nodes: [TreeNodeID: TreeHash] = [:]) {
        self.nodes = nodes
    }

    /// The node's hash; throws `MerkleTreeError.missingNode` when the table lacks it.
    public func hash(level: Int, index: UInt64) throws -> TreeHash {
        let id = TreeNodeID(level: level, index: index)
        guard let hash = nodes[id] else { throw MerkleTreeError.missingNode(id) }
        return hash
    }
}

/// Why a Merkle tree operation or proof check failed.
public enum MerkleTreeError: Error, Equatable, Sendable {
    /// The node source does not hold this node (the store is missing a row, or the tree is smaller).
    case missingNode(TreeNodeID)
    /// Index or sizes do not describe a valid request, e.g. leaf index ≥ tree size or first size > second.
    case invalidRange(String)
    /// The proof has the wrong number of hashes for the sizes it claims.
    case wrongProofLength
    /// The proof does not lead to the expected root hash(es).
    case rootMismatch
    /// A persisted frontier does not fit its tree size.
    case malformedFrontier(String)
}
