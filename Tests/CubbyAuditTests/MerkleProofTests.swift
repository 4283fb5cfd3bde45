import CubbyAudit
import Foundation
import Testing

@Suite("Inclusion and consistency proofs")
struct MerkleProofTests {
    /// A random tree with its naive leaf hashes and roots of every prefix.
    struct Fixture {
        let tree: InMemoryMerkleTree
        let naiveLeaves: [[UInt8]]
        let roots: [TreeHash]  // roots[s] = MTH of the first s leaves, computed naively
        let memo = NaiveMerkle.Memo()

        init(size: Int, generator: inout SeededGenerator) {
            var naive: [[UInt8]] = []
            var tree = InMemoryMerkleTree()
            for _ in 0..<size {
                // Distinct leaves (the index first), so no two positions can be swapped unnoticed.
                let data =
                    withUnsafeBytes(of: UInt16(naive.count).bigEndian, Array.init)
                    + (0..<Int.random(in: 0...24, using: &generator)).map { _ in
                        UInt8.random(in: 0...255, using: &generator)
                    }
                naive.append(NaiveMerkle.leafHash(data))
                tree.append(leafHash: .leaf(data))
            }
            self.tree = tree
            naiveLeaves = naive
            roots = (0...size).map { [memo] in TreeHash(bytes: NaiveMerkle.mth(naive[..<$0], memo: memo))! }
        }

        func leaf(_ index: Int) -> TreeHash { TreeHash(bytes: naiveLeaves[index])! }
    }

    static let randomSizes: [Int] = {
        var generator = SeededGenerator(seed: 9162)
        return [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 64, 127, 128, 129, 255, 256, 257, 300]
            + (0..<4).map { _ in Int.random(in: 1...300, using: &generator) }
    }()

    @Test(arguments: randomSizes)
    func everyInclusionProofVerifiesAndMatchesTheRFCDefinition(size: Int) throws {
        var generator = SeededGenerator(seed: UInt64(size))
        let fixture = Fixture(size: size, generator: &generator)
        for treeSize in [size, max(1, size / 2), max(1, size - 1)] {
            let root = fixture.roots[treeSize]
            for index in 0..<treeSize {
                let proof = try fixture.tree.inclusionProof(leafIndex: UInt64(index), treeSize: UInt64(treeSize))
                #expect(
                    proof.hashes.map(\.bytes)
                        == NaiveMerkle.path(index, fixture.naiveLeaves[..<treeSize], memo: fixture.memo))
                try proof.verify(leafHash: fixture.leaf(index), rootHash: root)
                // The same proof from exactly the nodes it asks for.
                let ids = try InclusionProof.nodesNeeded(leafIndex: UInt64(index), treeSize: UInt64(treeSize))
                #expect(Set(ids).count == ids.count)
                #expect(ids.count <= 2 * (64 - UInt64(treeSize).leadingZeroBitCount))
                let table = TreeNodeTable(
                    Dictionary(uniqueKeysWithValues: try ids.map { ($0, try fixture.tree.hash(of: $0)) }))
                #expect(try InclusionProof(leafIndex: UInt64(index), treeSize: UInt64(treeSize), nodes: table) == proof)
            }
        }
    }

    @Test(arguments: randomSizes)
    func tamperedInclusionProofsFail(size: Int) throws {
        var generator = SeededGenerator(seed: UInt64(size) &+ 1)
        let fixture = Fixture(size: size, generator: &generator)
        let n = UInt64(size)
        let root = fixture.roots[size]
        for index in 0..<size {
            let proof = try fixture.tree.inclusionProof(leafIndex: UInt64(index), treeSize: n)
            let leaf = fixture.leaf(index)
            // A flipped bit anywhere in the path (every bit for a few leaves, one random bit otherwise).
            var acceptedFlips: [String] = []
            for position in proof.hashes.indices {
                let bits = index < 2 ? Array(0..<256) : [Int.random(in: 0..<256, using: &generator)]
                for bit in bits {
                    var hashes = proof.hashes
                    hashes[position] = hashes[position].flipping(bit: bit)
                    let bad = InclusionProof(leafIndex: UInt64(index), treeSize: n, hashes: hashes)
                    if (try? bad.verify(leafHash: leaf, rootHash: root)) != nil {
                        acceptedFlips.append("\(position):\(bit)")
                    }
                }
            }
            #expect(acceptedFlips.isEmpty, "leaf \(index): flipped bits accepted")
            let bit = Int.random(in: 0..<256, using: &generator)
            #expect(throws: MerkleTreeError.self) {
                try proof.verify(leafHash: leaf.flipping(bit: bit), rootHash: root)
            }
            #expect(throws: MerkleTreeError.self) {
                try proof.verify(leafHash: leaf, rootHash: root.flipping(bit: bit))
            }
            // Wrong index or size.
            for otherIndex in [UInt64(index) + 1, UInt64(index) &- 1, UInt64(index) ^ 1, UInt64(index) ^ 2, n]
            where otherIndex != UInt64(index) {
                let moved = InclusionProof(leafIndex: otherIndex, treeSize: n, hashes: proof.hashes)
                #expect(throws: MerkleTreeError.self, "index \(index) as \(otherIndex)") {
                    try moved.verify(leafHash: leaf, rootHash: root)
                }
            }
            // Wrong size: rejected unless that size gives the proof the very same shape (then the
            // computation is identical and only the checkpoint's signed size can tell them apart).
            for otherSize in [n + 1, n - 1, n * 2, n / 2, 0] where otherSize != n {
                let resized = InclusionProof(leafIndex: UInt64(index), treeSize: otherSize, hashes: proof.hashes)
                let sameShape = ProofShape.inclusion(UInt64(index), otherSize) == ProofShape.inclusion(UInt64(index), n)
                let accepted = (try? resized.verify(leafHash: leaf, rootHash: root)) != nil
                #expect(accepted == sameShape, "leaf \(index): size \(n) claimed as \(otherSize)")
            }
            // A hash added or removed.
            let longer = InclusionProof(leafIndex: UInt64(index), treeSize: n, hashes: proof.hashes + [root])
            #expect(throws: MerkleTreeError.self) { try longer.verify(leafHash: leaf, rootHash: root) }
            if !proof.hashes.isEmpty {
                let shorter = InclusionProof(
                    leafIndex: UInt64(index), treeSize: n, hashes: Array(proof.hashes.dropLast()))
                #expect(throws: MerkleTreeError.self) { try shorter.verify(leafHash: leaf, rootHash: root) }
            }
        }
    }

    @Test(arguments: randomSizes)
    func everyConsistencyProofVerifiesAndMatchesTheRFCDefinition(size: Int) throws {
        var generator = SeededGenerator(seed: UInt64(size) &+ 2)
        let fixture = Fixture(size: size, generator: &generator)
        let newSizes = Set([size, max(1, size - 1), max(1, size / 3)])
        for newSize in newSizes {
            for oldSize in 1...newSize {
                let proof = try fixture.tree.consistencyProof(oldSize: UInt64(oldSize), newSize: UInt64(newSize))
                #expect(
                    proof.hashes.map(\.bytes)
                        == NaiveMerkle.subproof(oldSize, fixture.naiveLeaves[..<newSize], true, memo: fixture.memo))
                try proof.verify(oldRoot: fixture.roots[oldSize], newRoot: fixture.roots[newSize])
                let ids = try ConsistencyProof.nodesNeeded(oldSize: UInt64(oldSize), newSize: UInt64(newSize))
                #expect(Set(ids).count == ids.count)
                let table = TreeNodeTable(
                    Dictionary(uniqueKeysWithValues: try ids.map { ($0, try fixture.tree.hash(of: $0)) }))
                #expect(try ConsistencyProof(oldSize: UInt64(oldSize), newSize: UInt64(newSize), nodes: table) == proof)
            }
        }
    }

    @Test(arguments: randomSizes)
    func tamperedConsistencyProofsFail(size: Int) throws {
        var generator = SeededGenerator(seed: UInt64(size) &+ 3)
        let fixture = Fixture(size: size, generator: &generator)
        let n = UInt64(size)
        let newRoot = fixture.roots[size]
        for oldSize in 1...size {
            let m = UInt64(oldSize)
            let oldRoot = fixture.roots[oldSize]
            let proof = try fixture.tree.consistencyProof(oldSize: m, newSize: n)
            var acceptedFlips: [String] = []
            for position in proof.hashes.indices {
                let bits = oldSize < 3 ? Array(0..<256) : [Int.random(in: 0..<256, using: &generator)]
                for bit in bits {
                    var hashes = proof.hashes
                    hashes[position] = hashes[position].flipping(bit: bit)
                    let bad = ConsistencyProof(oldSize: m, newSize: n, hashes: hashes)
                    if (try? bad.verify(oldRoot: oldRoot, newRoot: newRoot)) != nil {
                        acceptedFlips.append("\(position):\(bit)")
                    }
                }
            }
            #expect(acceptedFlips.isEmpty, "sizes \(m)→\(n): flipped bits accepted")
            let bit = Int.random(in: 0..<256, using: &generator)
            #expect(throws: MerkleTreeError.self) {
                try proof.verify(oldRoot: oldRoot.flipping(bit: bit), newRoot: newRoot)
            }
            #expect(throws: MerkleTreeError.self) {
                try proof.verify(oldRoot: oldRoot, newRoot: newRoot.flipping(bit: bit))
            }
            if m != n {
                #expect(throws: MerkleTreeError.self) { try proof.verify(oldRoot: newRoot, newRoot: oldRoot) }
            }
            // Wrong sizes: rejected unless they give the proof the very same shape.
            let shape = ProofShape.consistency(m, n)
            let claims =
                [m + 1, m - 1, m * 2, m / 2, m ^ 2].map { ($0, n) } + [n + 1, n - 1, n * 2, n / 2].map { (m, $0) }
            for (otherOld, otherNew) in claims where (otherOld, otherNew) != (m, n) {
                let moved = ConsistencyProof(oldSize: otherOld, newSize: otherNew, hashes: proof.hashes)
                let accepted = (try? moved.verify(oldRoot: oldRoot, newRoot: newRoot)) != nil
                let sameShape = ProofShape.consistency(otherOld, otherNew) == shape
                #expect(accepted == sameShape, "sizes \(m)→\(n) claimed as \(otherOld)→\(otherNew)")
            }
            let longer = ConsistencyProof(oldSize: m, newSize: n, hashes: proof.hashes + [newRoot])
            #expect(throws: MerkleTreeError.self) { try longer.verify(oldRoot: oldRoot, newRoot: newRoot) }
            if !proof.hashes.isEmpty {
                let shorter = ConsistencyProof(oldSize: m, newSize: n, hashes: Array(proof.hashes.dropFirst()))
                #expect(throws: MerkleTreeError.self) { try shorter.verify(oldRoot: oldRoot, newRoot: newRoot) }
            }
        }
    }

    /// RFC 9162 verification does not bind the tree size: a proof verifies under any size that gives it
    /// the same shape. The size is trusted because it is signed next to the root in the checkpoint.
    @Test func theProofDoesNotBindTheTreeSizeTheCheckpointDoes() throws {
        let tree = InMemoryMerkleTree(leafHashes: referenceLeaves.map { TreeHash.leaf($0) })
        let root8 = try tree.rootHash()
        let proof = try tree.inclusionProof(leafIndex: 0, treeSize: 8)
        #expect(ProofShape.inclusion(0, 7) == ProofShape.inclusion(0, 8))
        try InclusionProof(leafIndex: 0, treeSize: 7, hashes: proof.hashes).verify(
            leafHash: tree.leafHashes[0], rootHash: root8)
        #expect(throws: MerkleTreeError.self) {
            try InclusionProof(leafIndex: 0, treeSize: 4, hashes: proof.hashes).verify(
                leafHash: tree.leafHashes[0], rootHash: root8)
        }
        let consistency = try tree.consistencyProof(oldSize: 4, newSize: 8)
        try ConsistencyProof(oldSize: 4, newSize: 6, hashes: consistency.hashes).verify(
            oldRoot: tree.rootHash(size: 4), newRoot: root8)
    }

    @Test func invalidRequestsAreRejected() throws {
        let tree = InMemoryMerkleTree(leafHashes: (0..<10).map { TreeHash.leaf([UInt8($0)]) })
        #expect(throws: MerkleTreeError.self) { try tree.inclusionProof(leafIndex: 10) }
        #expect(throws: MerkleTreeError.self) { try tree.inclusionProof(leafIndex: 0, treeSize: 0) }
        #expect(throws: MerkleTreeError.self) { try tree.inclusionProof(leafIndex: 0, treeSize: 11) }
        #expect(throws: MerkleTreeError.self) { try tree.consistencyProof(oldSize: 0, newSize: 5) }
        #expect(throws: MerkleTreeError.self) { try tree.consistencyProof(oldSize: 6, newSize: 5) }
        #expect(throws: MerkleTreeError.self) { try InclusionProof.nodesNeeded(leafIndex: 3, treeSize: 3) }
        #expect(throws: MerkleTreeError.self) { try ConsistencyProof.nodesNeeded(oldSize: 0, newSize: 3) }
        #expect(try tree.consistencyProof(oldSize: 7, newSize: 7).hashes.isEmpty)
        #expect(try ConsistencyProof.nodesNeeded(oldSize: 7, newSize: 7).isEmpty)
        let root = try tree.rootHash()
        try ConsistencyProof(oldSize: 10, newSize: 10, hashes: []).verify(oldRoot: root, newRoot: root)
        #expect(throws: MerkleTreeError.self) {
            try ConsistencyProof(oldSize: 0, newSize: 0, hashes: []).verify(oldRoot: .emptyTree, newRoot: .emptyTree)
        }
        // A store missing a row says which.
        #expect(throws: MerkleTreeError.missingNode(TreeNodeID(level: 0, index: 1))) {
            try InclusionProof(leafIndex: 0, treeSize: 2, nodes: TreeNodeTable())
        }
    }

    static let hugeSizes: [UInt64] = [10_000_000, 10_000_001, 1 << 40, (1 << 40) + 12345, UInt64.max >> 1]

    /// A proof for ten million leaves touches O(log n) stored nodes, never the leaves in bulk.
    @Test(arguments: hugeSizes)
    func hugeTreesNeedOnlyLogarithmicallyManyNodes(size: UInt64) throws {
        let depth = 64 - size.leadingZeroBitCount
        let root = try MerkleTree.rootHash(size: size, nodes: UniformTree(size: size))
        for index in [0, 1, size / 3, size / 2, size - 2, size - 1] {
            let ids = try InclusionProof.nodesNeeded(leafIndex: index, treeSize: size)
            #expect(ids.count <= 2 * depth)
            let tree = UniformTree(size: size)
            let proof = try InclusionProof(leafIndex: index, treeSize: size, nodes: tree)
            #expect(
                Set(tree.requested) == Set(ids) && tree.requested.count == ids.count,
                "generation reads exactly the advertised nodes")
            try proof.verify(leafHash: tree.levelHashes[0], rootHash: root)
        }
        var generator = SeededGenerator(seed: size)
        for oldSize in [1, 2, size / 2, size - 1, size, UInt64.random(in: 1...size, using: &generator)] {
            let ids = try ConsistencyProof.nodesNeeded(oldSize: oldSize, newSize: size)
            #expect(ids.count <= 2 * depth + 1)
            let tree = UniformTree(size: size)
            let proof = try ConsistencyProof(oldSize: oldSize, newSize: size, nodes: tree)
            #expect(Set(tree.requested) == Set(ids) && tree.requested.count == ids.count)
            let oldRoot = try MerkleTree.rootHash(size: oldSize, nodes: UniformTree(size: oldSize))
            try proof.verify(oldRoot: oldRoot, newRoot: root)
        }
        #expect(MerkleTree.nodesNeeded(forRootOf: size).count == size.nonzeroBitCount)
    }
}
