/// The RFC 6962 / RFC 9162 §2.1 Merkle tree hash (MTH) over SHA-256, and the arithmetic that
/// maps its subtrees onto stored perfect-subtree nodes.
///
/// Every subtree the MTH recursion visits for a tree of size n is either perfect (a `TreeNodeID`) or
/// ends at n; one that ends at n is the right fold of at most one perfect node per bit of its size.
/// So any root, inclusion proof or consistency proof needs only O(log n) stored nodes.
public enum MerkleTree {
    /// The largest power of two strictly smaller than `size` (the MTH split point k); `size` must be ≥ 2.
    public static func splitPoint(_ size: UInt64) -> UInt64 {
        precondition(size >= 2, "only trees of two or more leaves split")
        return 1 << UInt64(63 - (size - 1).leadingZeroBitCount)
    }

    /// The MTH of the given leaf hashes, in O(n) time and O(log n) memory.
    public static func rootHash(leafHashes: some Sequence<TreeHash>) -> TreeHash {
        var frontier = MerkleFrontier()
        for leaf in leafHashes { frontier.append(leafHash: leaf) }
        return frontier.rootHash()
    }

    /// The nodes whose hashes determine the root of the tree of `size` leaves: one per set bit of `size`,
    /// largest (leftmost) first. Empty for the empty tree.
    public static func nodesNeeded(forRootOf size: UInt64) -> [TreeNodeID] {
        perfectSubtrees(from: 0, to: size)
    }

    /// The root of the tree of `size` leaves, read from O(log size) stored nodes.
    public static func rootHash(size: UInt64, nodes source: some MerkleNodeSource) throws -> TreeHash {
        if size == 0 { return .emptyTree }
        return try rangeHash(from: 0, to: size, nodes: source)
    }

    /// The hash of the perfect subtree `id`, computed from the `2^(id.level − baseLevel)` nodes of
    /// `baseLevel` below it; for stores that keep only some levels. `baseLevel` must not exceed `id.level`.
    public static func subtreeHash(
        _ id: TreeNodeID, fromLevel baseLevel: Int = 0, nodes source: some MerkleNodeSource
    ) throws -> TreeHash {
        precondition((0...id.level).contains(baseLevel), "base level above the subtree")
        let span = UInt64(id.level - baseLevel)
        let first = id.index << span
        var stack = MerkleFrontier()
        for offset in 0..<(UInt64(1) << span) {
            stack.append(leafHash: try source.hash(level: baseLevel, index: first + offset))
        }
        return stack.rootHash()
    }

    // MARK: - Internal: subtrees as ranges of leaves

    /// The perfect subtrees that make up the MTH subtree over leaves `[start, end)`, left to right.
    ///
    /// Valid for the ranges the MTH recursion produces: `start` is a multiple of every power of two
    /// not larger than `end − start`, so splitting by the bits of the length, highest first, follows
    /// the MTH split points exactly.
    static func perfectSubtrees(from start: UInt64, to end: UInt64) -> [TreeNodeID] {
        precondition(start <= end, "empty or reversed range")
        var nodes: [TreeNodeID] = []
        nodes.reserveCapacity((end - start).nonzeroBitCount)
        var position = start
        var remaining = end - start
        while remaining != 0 {
            let level = 63 - remaining.leadingZeroBitCount
            let width = UInt64(1) << UInt64(level)
            precondition(position % width == 0, "range is not an MTH subtree")
            nodes.append(TreeNodeID(level: level, index: position >> UInt64(level)))
            position += width
            remaining -= width
        }
        return nodes
    }

    /// The MTH of the leaves `[start, end)` (an MTH subtree, non-empty): the right fold of its perfect parts.
    static func rangeHash(from start: UInt64, to end: UInt64, nodes source: some MerkleNodeSource) throws -> TreeHash {
        let parts = perfectSubtrees(from: start, to: end)
        guard var hash = try parts.last.map({ try source.hash(of: $0) }) else {
            preconditionFailure("empty range has no MTH subtree")
        }
        for part in parts.dropLast().reversed() {
            hash = TreeHash.node(try source.hash(of: part), hash)
        }
        return hash
    }

    /// A range of leaves `[start, end)` whose MTH is one element of a proof.
    struct ProofRange {
        let start: UInt64
        let end: UInt64
    }

    /// The ranges whose MTHs form PATH(m, D[n]) (RFC 9162 §2.1.3.1), leaf side first.
    static func inclusionRanges(leafIndex m: UInt64, treeSize n: UInt64) throws -> [ProofRange] {
        guard n > 0, m < n else {
            throw MerkleTreeError.invalidRange("leaf index \(m) is not in a tree of size \(n)")
        }
        var ranges: [ProofRange] = []
        ranges.reserveCapacity(64 - n.leadingZeroBitCount)
        var start: UInt64 = 0
        var size = n
        while size > 1 {
            let k = splitPoint(size)
            if m < start + k {
                ranges.append(ProofRange(start: start + k, end: start + size))
                size = k
            } else {
                ranges.append(ProofRange(start: start, end: start + k))
                start += k
                size -= k
            }
        }
        ranges.reverse()
        return ranges
    }

    /// The ranges whose MTHs form PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1), deepest first.
    static func consistencyRanges(oldSize m: UInt64, newSize n: UInt64) throws -> [ProofRange] {
        guard m > 0 else { throw MerkleTreeError.invalidRange("consistency with the empty tree proves nothing") }
        guard m <= n else { throw MerkleTreeError.invalidRange("old size \(m) exceeds new size \(n)") }
        var ranges: [ProofRange] = []
        ranges.reserveCapacity(64 - n.leadingZeroBitCount + 1)
        var start: UInt64 = 0
        var size = n
        var remainingOld = m
        var isWholeOldTree = true
        while remainingOld != size {
            let k = splitPoint(size)
            if remainingOld <= k {
                ranges.append(ProofRange(start: start + k, end: start + size))
                size = k
            } else {
                ranges.append(ProofRange(start: start, end: start + k))
                start += k
                size -= k
                remainingOld -= k
                isWholeOldTree = false
            }
        }
        if !isWholeOldTree {
            ranges.append(ProofRange(start: start, end: start + size))
        }
        ranges.reverse()
        return ranges
    }

    /// The distinct nodes behind `ranges`, in proof order.
    static func nodes(for ranges: [ProofRange]) -> [TreeNodeID] {
        ranges.flatMap { perfectSubtrees(from: $0.start, to: $0.end) }
    }

    /// The MTH of each range, read from `source`.
    static func hashes(for ranges: [ProofRange], nodes source: some MerkleNodeSource) throws -> [TreeHash] {
        try ranges.map { try rangeHash(from: $0.start, to: $0.end, nodes: source) }
    }
}
