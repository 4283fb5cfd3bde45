import CubbyAudit
import Foundation
import Testing

@Suite("RFC 6962 Merkle tree hashing")
struct MerkleTreeTests {
    @Test func emptyTreeRootIsSHA256OfNothing() throws {
        #expect(TreeHash.emptyTree.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(MerkleFrontier().rootHash() == .emptyTree)
        #expect(try InMemoryMerkleTree().rootHash() == .emptyTree)
        #expect(MerkleTree.rootHash(leafHashes: []) == .emptyTree)
    }

    @Test func referenceRootsOfTheRFC6962TestData() throws {
        let leaves = referenceLeaves.map { TreeHash.leaf($0) }
        var frontier = MerkleFrontier()
        let tree = InMemoryMerkleTree(leafHashes: leaves)
        #expect(frontier.rootHash().hex == referenceRoots[0])
        for size in 1...8 {
            frontier.append(leafHash: leaves[size - 1])
            #expect(frontier.rootHash().hex == referenceRoots[size], "frontier root of \(size) leaves")
            #expect(
                try tree.rootHash(size: UInt64(size)).hex == referenceRoots[size], "stored-node root of \(size) leaves")
            #expect(MerkleTree.rootHash(leafHashes: leaves.prefix(size)).hex == referenceRoots[size])
        }
        #expect(frontier.rootHash().hex == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
    }

    @Test func leafAndNodeHashesUseTheDomainSeparationPrefixes() {
        let a = TreeHash.leaf([1, 2, 3])
        let b = TreeHash.leaf([4])
        #expect(a.bytes == NaiveMerkle.sha256([0x00, 1, 2, 3]))
        #expect(TreeHash.node(a, b).bytes == NaiveMerkle.sha256([0x01], a.bytes, b.bytes))
        #expect(TreeHash.node(a, b) != TreeHash.node(b, a))
    }

    @Test func treeHashEncodings() throws {
        let hash = try #require(TreeHash(hex: referenceRoots[8]))
        #expect(hash.hex == referenceRoots[8])
        #expect(hash.base64 == "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=")
        #expect(TreeHash(base64: hash.base64) == hash)
        #expect(TreeHash(hex: referenceRoots[8].uppercased()) == hash)
        #expect(TreeHash(bytes: hash.bytes) == hash)
        #expect(TreeHash(bytes: [UInt8](repeating: 0, count: 31)) == nil)
        #expect(TreeHash(bytes: [UInt8](repeating: 0, count: 33)) == nil)
        #expect(TreeHash(hex: String(referenceRoots[8].dropLast())) == nil)
        #expect(TreeHash(hex: "zz" + referenceRoots[8].dropFirst(2)) == nil)
        #expect(TreeHash(base64: "") == nil)
        #expect(TreeHash(base64: "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg") == nil, "padding is required")
        #expect(TreeHash(base64: "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=") == nil, "stray bits are rejected")
        #expect(TreeHash(base64: " XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=") == nil)
        #expect(Set([hash, hash, .emptyTree]).count == 2)
    }

    @Test func splitPointIsTheLargestPowerOfTwoBelow() {
        #expect(MerkleTree.splitPoint(2) == 1)
        #expect(MerkleTree.splitPoint(3) == 2)
        #expect(MerkleTree.splitPoint(4) == 2)
        #expect(MerkleTree.splitPoint(5) == 4)
        #expect(MerkleTree.splitPoint(8) == 4)
        #expect(MerkleTree.splitPoint(9) == 8)
        #expect(MerkleTree.splitPoint(UInt64.max) == 1 << 63)
    }

    @Test func frontierRootEqualsNaiveMTHAfterEveryAppend() throws {
        var generator = SeededGenerator(seed: 6962)
        var frontier = MerkleFrontier()
        var tree = InMemoryMerkleTree()
        var naiveLeaves: [[UInt8]] = []
        for size in 1...300 {
            let data = (0..<Int.random(in: 0...40, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let leaf = TreeHash.leaf(data)
            naiveLeaves.append(NaiveMerkle.leafHash(data))
            var completed: [TreeNodeID: TreeHash] = [:]
            frontier.append(leafHash: leaf) { completed[$0] = $1 }
            tree.append(leafHash: leaf)
            let naive = NaiveMerkle.mth(naiveLeaves[...])
            #expect(frontier.rootHash().bytes == naive, "size \(size)")
            #expect(frontier.size == UInt64(size))
            #expect(frontier.hashes.count == size.nonzeroBitCount)
            // The nodes reported as completed are exactly the new complete nodes, with their true hashes.
            // One per trailing one bit of the old size, plus the leaf itself.
            #expect(completed.count == 1 + (~(size - 1)).trailingZeroBitCount)
            for (id, hash) in completed {
                #expect(try tree.hash(of: id) == hash, "completed node \(id)")
            }
            #expect(try tree.rootHash().bytes == naive)
        }
    }

    @Test func frontierSurvivesPersistence() throws {
        var frontier = MerkleFrontier()
        for index in 0..<77 { frontier.append(leafHash: .leaf([UInt8(index)])) }
        let restored = try MerkleFrontier(serialized: frontier.serialized)
        #expect(restored == frontier)
        #expect(frontier.serialized.count == 8 + 32 * 77.nonzeroBitCount)
        #expect(try MerkleFrontier(size: frontier.size, hashes: frontier.hashes) == frontier)
        #expect(throws: MerkleTreeError.self) { try MerkleFrontier(size: 79, hashes: frontier.hashes) }
        #expect(throws: MerkleTreeError.self) { try MerkleFrontier(serialized: frontier.serialized.dropLast()) }
        #expect(throws: MerkleTreeError.self) { try MerkleFrontier(serialized: [1, 2, 3]) }
        // Rebuilt from stored nodes, it carries on identically.
        let tree = InMemoryMerkleTree(leafHashes: (0..<77).map { TreeHash.leaf([UInt8($0)]) })
        var rebuilt = try MerkleFrontier(size: 77, nodes: tree)
        #expect(rebuilt == frontier)
        #expect(rebuilt.nodeIDs == MerkleTree.nodesNeeded(forRootOf: 77))
        var continued = frontier
        rebuilt.append(leafHash: .leaf([200]))
        continued.append(leafHash: .leaf([200]))
        #expect(rebuilt.rootHash() == continued.rootHash())
    }

    @Test func nodesNeededForARootFollowTheBitsOfTheSize() {
        #expect(MerkleTree.nodesNeeded(forRootOf: 0).isEmpty)
        #expect(MerkleTree.nodesNeeded(forRootOf: 1) == [TreeNodeID(level: 0, index: 0)])
        #expect(
            MerkleTree.nodesNeeded(forRootOf: 13)
                == [TreeNodeID(level: 3, index: 0), TreeNodeID(level: 2, index: 2), TreeNodeID(level: 0, index: 12)])
    }

    @Test func subtreeHashFromLowerLevels() throws {
        let tree = InMemoryMerkleTree(leafHashes: (0..<64).map { TreeHash.leaf([UInt8($0)]) })
        for level in 0...6 {
            for index in 0..<(UInt64(64) >> UInt64(level)) {
                let id = TreeNodeID(level: level, index: index)
                let stored = try tree.hash(of: id)
                for base in 0...level {
                    #expect(try MerkleTree.subtreeHash(id, fromLevel: base, nodes: tree) == stored)
                }
            }
        }
        // A store that keeps only the leaves can still answer any perfect subtree.
        let leavesOnly = TreeNodeTable(
            Dictionary(
                uniqueKeysWithValues: tree.leafHashes.enumerated().map {
                    (TreeNodeID(level: 0, index: UInt64($0.offset)), $0.element)
                }))
        #expect(
            try MerkleTree.subtreeHash(TreeNodeID(level: 5, index: 1), nodes: leavesOnly)
                == tree.hash(level: 5, index: 1))
        #expect(throws: MerkleTreeError.missingNode(TreeNodeID(level: 1, index: 0))) {
            try leavesOnly.hash(level: 1, index: 0)
        }
    }

    @Test func inMemoryTreeHasOnlyCompleteNodes() {
        let tree = InMemoryMerkleTree(leafHashes: (0..<5).map { TreeHash.leaf([UInt8($0)]) })
        #expect(throws: MerkleTreeError.missingNode(TreeNodeID(level: 0, index: 5))) {
            try tree.hash(level: 0, index: 5)
        }
        #expect(throws: MerkleTreeError.missingNode(TreeNodeID(level: 1, index: 2))) {
            try tree.hash(level: 1, index: 2)
        }
        #expect(throws: MerkleTreeError.missingNode(TreeNodeID(level: 3, index: 0))) {
            try tree.hash(level: 3, index: 0)
        }
        #expect((try? tree.hash(level: 2, index: 0)) != nil)
    }
}
