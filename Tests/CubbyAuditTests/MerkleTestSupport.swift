import Crypto
import CubbyAudit
import Foundation

/// The eight leaves of the RFC 6962 reference test data (as used by transparency-dev/merkle's
/// testonly package and the certificate-transparency reference implementations).
let referenceLeaves: [[UInt8]] = [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
].map(bytes(hex:))

/// MTH of the first 0…8 reference leaves. Sizes 1–8 are the published roots of the same test data;
/// all nine were recomputed with an independent Python `hashlib` script before being pasted here.
let referenceRoots: [String] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8)[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
        chars = chars.dropFirst(2)
    }
    return out
}

func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

// MARK: - An independent, deliberately naive RFC 9162 §2.1 implementation over plain byte arrays.

enum NaiveMerkle {
    static func sha256(_ parts: [UInt8]...) -> [UInt8] {
        Array(SHA256.hash(data: parts.flatMap { $0 }))
    }

    static func leafHash(_ data: [UInt8]) -> [UInt8] { sha256([0x00], data) }

    static func split(_ n: Int) -> Int {
        var k = 1
        while k * 2 < n { k *= 2 }
        return k
    }

    /// MTH over leaf hashes (the leaves already hashed), memoised per (start, count) in `memo`.
    static func mth(_ leafHashes: ArraySlice<[UInt8]>, memo: Memo? = nil) -> [UInt8] {
        let key = [leafHashes.startIndex, leafHashes.count]
        if let known = memo?.hashes[key] { return known }
        let result: [UInt8]
        switch leafHashes.count {
        case 0: result = sha256([])
        case 1: result = leafHashes.first!
        default:
            let k = split(leafHashes.count)
            let start = leafHashes.startIndex
            result = sha256(
                [0x01], mth(leafHashes[start..<(start + k)], memo: memo), mth(leafHashes[(start + k)...], memo: memo))
        }
        memo?.hashes[key] = result
        return result
    }

    /// A cache of subtree hashes for one list of leaves, so the recursive definitions stay affordable.
    final class Memo {
        var hashes: [[Int]: [UInt8]] = [:]
    }

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1, recursively.
    static func path(_ m: Int, _ leafHashes: ArraySlice<[UInt8]>, memo: Memo? = nil) -> [[UInt8]] {
        let n = leafHashes.count
        guard n > 1 else { return [] }
        let k = split(n)
        let start = leafHashes.startIndex
        let left = leafHashes[start..<(start + k)]
        let right = leafHashes[(start + k)...]
        return m < k
            ? path(m, left, memo: memo) + [mth(right, memo: memo)]
            : path(m - k, right, memo: memo) + [mth(left, memo: memo)]
    }

    /// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1, recursively.
    static func subproof(_ m: Int, _ leafHashes: ArraySlice<[UInt8]>, _ b: Bool, memo: Memo? = nil) -> [[UInt8]] {
        let n = leafHashes.count
        if m == n { return b ? [] : [mth(leafHashes, memo: memo)] }
        let k = split(n)
        let start = leafHashes.startIndex
        let left = leafHashes[start..<(start + k)]
        let right = leafHashes[(start + k)...]
        return m <= k
            ? subproof(m, left, b, memo: memo) + [mth(right, memo: memo)]
            : subproof(m - k, right, false, memo: memo) + [mth(left, memo: memo)]
    }
}

/// A reproducible random source for the property tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A tree of any size whose leaves are all the same, so every node of level h has one known hash:
/// proofs for huge sizes stay checkable. Records every node asked for.
final class UniformTree: MerkleNodeSource {
    let levelHashes: [TreeHash]
    let size: UInt64
    private(set) var requested: [TreeNodeID] = []

    init(size: UInt64) {
        self.size = size
        var hashes = [TreeHash.leaf([0x42])]
        for _ in 1..<64 { hashes.append(TreeHash.node(hashes.last!, hashes.last!)) }
        levelHashes = hashes
    }

    func hash(level: Int, index: UInt64) throws -> TreeHash {
        let id = TreeNodeID(level: level, index: index)
        requested.append(id)
        // Only complete subtrees exist in a store.
        guard (index + 1) << UInt64(level) <= size else { throw MerkleTreeError.missingNode(id) }
        return levelHashes[level]
    }
}

extension TreeHash {
    /// This hash with bit `bit` (0…255) flipped.
    func flipping(bit: Int) -> TreeHash {
        var raw = bytes
        raw[bit / 8] ^= 1 << UInt8(bit % 8)
        return TreeHash(bytes: raw)!
    }
}

// MARK: - Proof shapes

/// What an RFC 9162 verifier sees of a proof besides the hashes: for each element, whether it is
/// hashed in on the right (true) or the left. Two (index, size) pairs with the same shape accept the
/// same proofs, because a proof does not bind the tree size — the signed checkpoint does.
enum ProofShape {
    /// Sides of PATH(m, D[n]), leaf side first; nil when m is not in the tree.
    static func inclusion(_ m: UInt64, _ n: UInt64) -> [Bool]? {
        guard m < n else { return nil }
        guard n > 1 else { return [] }
        let k = UInt64(NaiveMerkle.split(Int(n)))
        return m < k ? inclusion(m, k)! + [true] : inclusion(m - k, n - k)! + [false]
    }

    struct Consistency: Equatable {
        /// Whether the proof starts from the old root itself (the old tree is a perfect left subtree).
        var startsFromOldRoot: Bool
        var sides: [Bool]
    }

    /// The shape of SUBPROOF(m, D[n], true); nil when RFC 9162 defines no proof.
    static func consistency(_ m: UInt64, _ n: UInt64) -> Consistency? {
        guard m > 0, m <= n else { return nil }
        return subproof(m, n, true)
    }

    private static func subproof(_ m: UInt64, _ n: UInt64, _ b: Bool) -> Consistency {
        if m == n { return Consistency(startsFromOldRoot: b, sides: []) }
        let k = UInt64(NaiveMerkle.split(Int(n)))
        var shape = m <= k ? subproof(m, k, b) : subproof(m - k, n - k, false)
        shape.sides.append(m <= k)
        return shape
    }
}
