import CubbyCore
import Testing

/// The legal transitions, written out by hand from the diagram in ParcelState.swift.
private let legal: [ParcelState: [ParcelEvent: ParcelState]] = [
    .announced: [.reserve: .reserved, .cancel: .cancelled],
    .reserved: [.deposit: .deposited, .cancel: .cancelled],
    .deposited: [.pickUp: .pickedUp, .expire: .expired],
    .expired: [.remove: .removed],
]

/// Every state × event pair.
private let allPairs: [(ParcelState, ParcelEvent)] = ParcelState.allCases.flatMap { s in
    ParcelEvent.allCases.map { (s, $0) }
}

@Suite("ParcelLifecycle.next")
struct ParcelLifecycleTests {
    @Test("the enums have the expected cases, so the table below is the whole table")
    func caseCounts() {
        #expect(ParcelState.allCases.count == 7)
        #expect(ParcelEvent.allCases.count == 6)
        #expect(allPairs.count == 42)
    }

    @Test("every state × event pair", arguments: allPairs)
    func wholeTable(state: ParcelState, event: ParcelEvent) throws {
        if let expected = legal[state]?[event] {
            #expect(try ParcelLifecycle.next(from: state, on: event) == expected)
        } else {
            #expect(throws: ParcelError.illegalTransition(from: state, event: event)) {
                try ParcelLifecycle.next(from: state, on: event)
            }
        }
    }

    @Test(
        "the seven legal transitions",
        arguments: [
            (ParcelState.announced, ParcelEvent.reserve, ParcelState.reserved),
            (.announced, .cancel, .cancelled),
            (.reserved, .deposit, .deposited),
            (.reserved, .cancel, .cancelled),
            (.deposited, .pickUp, .pickedUp),
            (.deposited, .expire, .expired),
            (.expired, .remove, .removed),
        ]
    )
    func legalTransitions(from: ParcelState, event: ParcelEvent, to: ParcelState) throws {
        #expect(try ParcelLifecycle.next(from: from, on: event) == to)
    }

    @Test("exactly seven pairs are legal")
    func legalCount() {
        let ok = allPairs.filter { (try? ParcelLifecycle.next(from: $0.0, on: $0.1)) != nil }
        #expect(ok.count == 7)
    }

    @Test("the error carries the state and event that were refused", arguments: allPairs)
    func errorValues(state: ParcelState, event: ParcelEvent) {
        guard legal[state]?[event] == nil else { return }
        do {
            _ = try ParcelLifecycle.next(from: state, on: event)
            Issue.record("\(state) + \(event) should have thrown")
        } catch {
            guard case .illegalTransition(let from, let ev) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(from == state)
            #expect(ev == event)
        }
    }

    @Test("final states accept no event", arguments: [ParcelState.pickedUp, .removed, .cancelled])
    func finalStates(state: ParcelState) {
        #expect(state.isFinal)
        for event in ParcelEvent.allCases {
            #expect(throws: ParcelError.illegalTransition(from: state, event: event)) {
                try ParcelLifecycle.next(from: state, on: event)
            }
        }
    }

    @Test(
        "non-final states accept at least one event",
        arguments: [ParcelState.announced, .reserved, .deposited, .expired])
    func nonFinalStates(state: ParcelState) {
        #expect(!state.isFinal)
        #expect(ParcelEvent.allCases.contains { (try? ParcelLifecycle.next(from: state, on: $0)) != nil })
    }

    @Test("holdsCompartment is true exactly for reserved, deposited and expired", arguments: ParcelState.allCases)
    func holdsCompartment(state: ParcelState) {
        #expect(state.holdsCompartment == [.reserved, .deposited, .expired].contains(state))
    }

    @Test("raw values are the stored names")
    func rawValues() {
        #expect(ParcelState.pickedUp.rawValue == "picked_up")
        #expect(ParcelState(rawValue: "cancelled") == .cancelled)
        #expect(ParcelState(rawValue: "pickedUp") == nil)
    }

    @Test("DomainError wraps an illegal transition as invalidState with a readable message")
    func domainErrorWrapping() {
        let e = DomainError(ParcelError.illegalTransition(from: .pickedUp, event: .cancel))
        #expect(e == .invalidState("cannot cancel a parcel that is picked_up"))
    }
}
