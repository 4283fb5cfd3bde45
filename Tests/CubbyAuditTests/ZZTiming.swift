import CubbyAudit
import Foundation
import Testing

@Test func zzTiming() throws {
    var generator = SeededGenerator(seed: 1)
    let clock = ContinuousClock()
    var fixture: MerkleProofTests.Fixture!
    print("fixture", clock.measure { fixture = MerkleProofTests.Fixture(size: 300, generator: &generator) })
    let n: UInt64 = 300
    print("gen", try clock.measure { for i in 0..<n { _ = try fixture.tree.inclusionProof(leafIndex: i, treeSize: n) } })
    print("naive", clock.measure { for i in 0..<300 { _ = NaiveMerkle.path(i, fixture.naiveLeaves[...], memo: fixture.memo) } })
    let proofs = try (0..<n).map { try fixture.tree.inclusionProof(leafIndex: $0, treeSize: n) }
    print("verify", try clock.measure { for p in proofs { try p.verify(leafHash: fixture.leaf(Int(p.leafIndex)), rootHash: fixture.roots[300]) } })
    print("needed+table", try clock.measure { for i in 0..<n {
        let ids = try InclusionProof.nodesNeeded(leafIndex: i, treeSize: n)
        let table = TreeNodeTable(Dictionary(uniqueKeysWithValues: try ids.map { ($0, try fixture.tree.hash(of: $0)) }))
        _ = try InclusionProof(leafIndex: i, treeSize: n, nodes: table)
    } })
    print("expects", clock.measure { for _ in 0..<3000 { #expect(1 == 1) } })
    print("node hashes x10000", clock.measure { var h = TreeHash.emptyTree; for _ in 0..<10000 { h = .node(h, h) } })
}
