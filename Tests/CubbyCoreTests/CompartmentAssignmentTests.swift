import CubbyCore
import Testing

typealias C = CompartmentAssignment.Candidate

private func c(_ label: String, _ size: SizeClass, accessible: Bool = false) -> C {
    C(label: label, size: size, accessible: accessible)
}

/// The label of the chosen candidate, or nil.
private func chosenLabel(_ parcel: SizeClass, needs: Bool = false, _ free: [C]) -> String? {
    CompartmentAssignment.choose(parcel: parcel, recipientNeedsAccessible: needs, free: free).map { free[$0].label }
}

@Suite("CompartmentAssignment.choose")
struct CompartmentAssignmentTests {
    @Test("empty list gives nil", arguments: SizeClass.allCases, [false, true])
    func emptyList(parcel: SizeClass, needs: Bool) {
        #expect(CompartmentAssignment.choose(parcel: parcel, recipientNeedsAccessible: needs, free: []) == nil)
    }

    @Test("the smallest fitting size wins")
    func smallestFitting() {
        let free = [c("A1", .extraLarge), c("A2", .large), c("A3", .small), c("A4", .medium)]
        #expect(chosenLabel(.small, free) == "A3")
        #expect(chosenLabel(.medium, free) == "A4")
        #expect(chosenLabel(.large, free) == "A2")
        #expect(chosenLabel(.extraLarge, free) == "A1")
    }

    @Test("the index refers to the position in the input")
    func indexIsPosition() {
        let free = [c("Z9", .large), c("A1", .small), c("M5", .medium)]
        #expect(CompartmentAssignment.choose(parcel: .medium, recipientNeedsAccessible: false, free: free) == 2)
    }

    @Test("a smaller compartment that does not fit is skipped")
    func skipsTooSmall() {
        let free = [c("A1", .small), c("A2", .small), c("B1", .large), c("C1", .extraLarge)]
        #expect(chosenLabel(.medium, free) == "B1")
    }

    @Test(
        "a parcel bigger than every free compartment gets nil",
        arguments: [
            (SizeClass.extraLarge, [c("A1", .small), c("A2", .medium), c("A3", .large, accessible: true)]),
            (.large, [c("A1", .small), c("A2", .medium)]),
            (.medium, [c("A1", .small), c("A2", .small, accessible: true)]),
        ]
    )
    func tooBig(parcel: SizeClass, free: [C]) {
        #expect(CompartmentAssignment.choose(parcel: parcel, recipientNeedsAccessible: false, free: free) == nil)
        #expect(CompartmentAssignment.choose(parcel: parcel, recipientNeedsAccessible: true, free: free) == nil)
    }

    @Test("accessible compartments are avoided for a recipient who does not need them")
    func avoidsAccessible() {
        // The accessible small one would be the best fit by size, but a larger ordinary one is free.
        let free = [c("A1", .small, accessible: true), c("B1", .extraLarge)]
        #expect(chosenLabel(.small, needs: false, free) == "B1")
    }

    @Test("…unless nothing else fits")
    func accessibleAsLastResort() {
        let free = [c("A1", .small), c("A2", .medium), c("B1", .large, accessible: true)]
        #expect(chosenLabel(.large, needs: false, free) == "B1")
        #expect(chosenLabel(.small, needs: false, [c("B1", .medium, accessible: true)]) == "B1")
    }

    @Test("among accessible last resorts the smallest fitting wins")
    func smallestAccessibleLastResort() {
        let free = [c("A1", .small), c("B2", .extraLarge, accessible: true), c("B1", .large, accessible: true)]
        #expect(chosenLabel(.medium, needs: false, free) == "B1")
    }

    @Test("a recipient who needs one gets an accessible compartment even when a smaller ordinary one is free")
    func needsAccessible() {
        let free = [c("A1", .small), c("A2", .medium), c("B1", .large, accessible: true)]
        #expect(chosenLabel(.small, needs: true, free) == "B1")
    }

    @Test("a recipient who needs one gets the smallest fitting accessible compartment")
    func needsSmallestAccessible() {
        let free = [
            c("B3", .extraLarge, accessible: true), c("A1", .small), c("B2", .medium, accessible: true),
            c("B1", .small, accessible: true),
        ]
        #expect(chosenLabel(.small, needs: true, free) == "B1")
        #expect(chosenLabel(.medium, needs: true, free) == "B2")
        #expect(chosenLabel(.large, needs: true, free) == "B3")
    }

    @Test("a recipient who needs one still gets an ordinary compartment when no accessible one fits")
    func needsButNoneFits() {
        let free = [c("B1", .small, accessible: true), c("A2", .extraLarge), c("A1", .large)]
        #expect(chosenLabel(.medium, needs: true, free) == "A1")
    }

    @Test("ties are broken by label, whatever the input order")
    func tiesByLabel() {
        let base = [c("C2", .medium), c("B7", .medium), c("C10", .medium), c("D1", .large)]
        let orders = [base, base.reversed(), [base[2], base[0], base[3], base[1]]]
        for free in orders {
            #expect(chosenLabel(.medium, free) == "B7")
            #expect(chosenLabel(.small, free) == "B7")
        }
        // Label order is by string comparison: "C10" sorts before "C2".
        #expect(chosenLabel(.small, [c("C2", .small), c("C10", .small)]) == "C10")
        let accessible = [c("K2", .small, accessible: true), c("K1", .small, accessible: true)]
        #expect(chosenLabel(.small, needs: true, accessible) == "K1")
        #expect(chosenLabel(.small, needs: false, accessible) == "K1")
    }

    @Test("randomised lists: the choice obeys the documented rules")
    func randomisedInvariants() {
        var rng = SplitMix64(seed: 0xC0BB_1E55)
        for round in 0..<2000 {
            let n = Int(rng.next() % 8)
            let free = (0..<n).map { i in
                C(
                    label: "L\(rng.next() % 20)-\(i)",
                    size: SizeClass.allCases[Int(rng.next() % 4)],
                    accessible: rng.next() % 3 == 0
                )
            }
            let parcel = SizeClass.allCases[Int(rng.next() % 4)]
            let needs = rng.next() % 2 == 0
            let fitting = free.filter { parcel.fits(in: $0.size) }
            let pick = CompartmentAssignment.choose(parcel: parcel, recipientNeedsAccessible: needs, free: free)
            guard let pick else {
                #expect(fitting.isEmpty, "round \(round): nil although \(fitting) fit")
                continue
            }
            let chosen = free[pick]
            #expect(parcel.fits(in: chosen.size), "round \(round)")
            let matching = fitting.filter { $0.accessible == needs }
            if chosen.accessible != needs {
                #expect(matching.isEmpty, "round \(round): mismatch chosen although \(matching) fit")
            }
            let peers = chosen.accessible == needs ? matching : fitting
            for other in peers {
                #expect(chosen.size <= other.size, "round \(round): \(other) is smaller than \(chosen)")
                if other.size == chosen.size { #expect(chosen.label <= other.label, "round \(round)") }
            }
        }
    }
}

@Suite("SizeClass")
struct SizeClassTests {
    @Test("ordering is S < M < L < XL")
    func ordering() {
        #expect(SizeClass.small < .medium)
        #expect(SizeClass.medium < .large)
        #expect(SizeClass.large < .extraLarge)
        #expect(!(SizeClass.large < .large))
        #expect(!(SizeClass.extraLarge < .small))
        #expect(SizeClass.allCases.sorted() == [.small, .medium, .large, .extraLarge])
        #expect([SizeClass.extraLarge, .small, .large, .medium].sorted() == [.small, .medium, .large, .extraLarge])
        #expect(SizeClass.allCases.map(\.rank) == [0, 1, 2, 3])
    }

    @Test("raw values are the short codes")
    func rawValues() {
        #expect(SizeClass.allCases.map(\.rawValue) == ["S", "M", "L", "XL"])
        #expect(SizeClass(rawValue: "XL") == .extraLarge)
        #expect(SizeClass(rawValue: "xl") == nil)
    }

    private static let pairs = SizeClass.allCases.flatMap { p in SizeClass.allCases.map { (p, $0) } }

    @Test("a parcel fits its own class and every larger one, and no smaller one", arguments: pairs)
    func fits(parcel: SizeClass, compartment: SizeClass) {
        let order: [SizeClass] = [.small, .medium, .large, .extraLarge]
        let expected = order.firstIndex(of: parcel)! <= order.firstIndex(of: compartment)!
        #expect(parcel.fits(in: compartment) == expected)
    }

    @Test("typical inner dimensions grow with the class")
    func dimensions() {
        let heights = SizeClass.allCases.map(\.typicalInnerDimensions.height)
        #expect(heights == heights.sorted())
        #expect(Set(heights).count == 4)
    }
}

/// A small deterministic generator so the randomised test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
