/// The right edge of the audit log's Merkle tree: the roots of the perfect subtrees that make up the
/// first `size` leaves, one per set bit of `size`, largest (leftmost) first — the compact range [0, size).
///
/// Enough to append in O(log n) and to compute the root in O(log n), without the leaves. A store keeps
/// it next to the log (see `serialized`) and persists the nodes each append completes.
public struct MerkleFrontier: Hashable, Sendable {
    /// The number of leaves appended so far.
    public private(set) var size: UInt64
    /// The perfect subtree roots, largest first; `hashes.count == size.nonzeroBitCount`.
    public private(set) var hashes: [TreeHash]

    /// The frontier of the empty tree.
    public init() {
        size = 0
        hashes = []
        hashes.reserveCapacity(64)
    }

    /// A frontier from persisted parts; throws unless there is exactly one hash per set bit of `size`.
    public init(size: UInt64, hashes: [TreeHash]) throws {
        guard hashes.count == size.nonzeroBitCount else {
            throw MerkleTreeError.malformedFrontier(
                "size \(size) needs \(size.nonzeroBitCount) hashes, got \(hashes.count)")
        }
        self.size = size
        self.hashes = hashes
        self.hashes.reserveCapacity(64)
    }

    /// The frontier of the tree of `size` leaves, read from the stored nodes `MerkleTree.nodesNeeded(forRootOf:)`.
    public init(size: UInt64, nodes source: some MerkleNodeSource) throws {
        let ids = MerkleTree.nodesNeeded(forRootOf: size)
        try self.init(size: size, hashes: ids.map { try source.hash(of: $0) })
    }

    /// The ids of `hashes`, in the same order.
    public var nodeIDs: [TreeNodeID] {
        MerkleTree.nodesNeeded(forRootOf: size)
    }

    /// Appends a leaf hash; O(log n) node hashes, no allocation once the array has grown.
    public mutating func append(leafHash: TreeHash) {
        append(leafHash: leafHash) { _, _ in }
    }

    /// Appends a leaf hash and reports each perfect subtree it completes, the leaf itself (level 0)
    /// first, then each parent up to the largest; a store writes these as node rows.
    public mutating func append(
        leafHash: TreeHash, completed: (TreeNodeID, TreeHash) throws -> Void
    ) rethrows {
        precondition(size < UInt64.max, "the log is full")
        let leafIndex = size
        var hash = leafHash
        try completed(TreeNodeID(level: 0, index: leafIndex), hash)
        // Each trailing one bit of the old size is a perfect subtree of the same height to merge with.
        var level = 0
        var bits = size
        while bits & 1 == 1 {
            hash = TreeHash.node(hashes.removeLast(), hash)
            level += 1
            bits >>= 1
            try completed(TreeNodeID(level: level, index: leafIndex >> UInt64(level)), hash)
        }
        hashes.append(hash)
        size += 1
    }

    /// The MTH of the `size` leaves (RFC 9162 §2.1.1): the right fold of the frontier, O(log n).
    public func rootHash() -> TreeHash {
        guard var root = hashes.last else { return .emptyTree }
        var index = hashes.count - 1
        while index > 0 {
            index -= 1
            root = TreeHash.node(hashes[index], root)
        }
        return root
    }

    /// A compact byte form for one database column: the size as 8 big-endian bytes, then the hashes.
    public var serialized: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 + hashes.count * TreeHash.byteCount)
        withUnsafeBytes(of: size.bigEndian) { out.append(contentsOf: $0) }
        for hash in hashes {
            hash.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Reads the form written by `serialized`; throws if the length does not match the size.
    public init(serialized bytes: some Collection<UInt8>) throws {
        let bytes = Array(bytes)
        guard bytes.count >= 8, (bytes.count - 8) % TreeHash.byteCount == 0 else {
            throw MerkleTreeError.malformedFrontier("\(bytes.count) bytes is not a serialized frontier")
        }
        let size = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var hashes: [TreeHash] = []
        var offset = 8
        while offset < bytes.count {
            hashes.append(TreeHash(bytes: bytes[offset..<(offset + TreeHash.byteCount)])!)
            offset += TreeHash.byteCount
        }
        try self.init(size: size, hashes: hashes)
    }
}
