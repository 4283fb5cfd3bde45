/// Best-fit choice of a compartment for a parcel.
///
/// The smallest free compartment whose class fits wins. Accessible compartments are a scarce resource
/// for recipients who need them: they are given to other recipients only when nothing else fits, and
/// for a recipient who needs one they are preferred at every size.
public enum CompartmentAssignment {
    /// A free compartment as the assignment sees it.
    public struct Candidate: Sendable, Hashable {
        public var label: String
        public var size: SizeClass
        public var accessible: Bool
        public init(label: String, size: SizeClass, accessible: Bool) {
            self.label = label
            self.size = size
            self.accessible = accessible
        }
    }

    /// Index of the chosen candidate in `free`, or nil when nothing fits.
    public static func choose(
        parcel: SizeClass, recipientNeedsAccessible: Bool, free: [Candidate]
    ) -> Int? {
        let fitting = free.indices.filter { parcel.fits(in: free[$0].size) }
        guard !fitting.isEmpty else { return nil }
        return fitting.min { a, b in
            rankKey(free[a], needsAccessible: recipientNeedsAccessible)
                < rankKey(free[b], needsAccessible: recipientNeedsAccessible)
        }
    }

    /// Ordering key: first whether the accessibility matches the need, then size, then label for determinism.
    static func rankKey(_ c: Candidate, needsAccessible: Bool) -> RankKey {
        RankKey(mismatch: c.accessible == needsAccessible ? 0 : 1, size: c.size.rank, label: c.label)
    }

    struct RankKey: Comparable {
        var mismatch: Int
        var size: Int
        var label: String
        static func < (l: RankKey, r: RankKey) -> Bool {
            (l.mismatch, l.size, l.label) < (r.mismatch, r.size, r.label)
        }
    }
}
