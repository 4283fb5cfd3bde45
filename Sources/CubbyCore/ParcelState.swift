/// Where a parcel is in its life at a locker.
///
/// ```
/// announced ─reserve→ reserved ─deposit→ deposited ─pickUp→ picked_up
///     └─cancel→ cancelled ←cancel─┘          └─expire→ expired ─remove→ removed
/// ```
public enum ParcelState: String, Codable, Sendable, CaseIterable {
    case announced
    case reserved
    case deposited
    case pickedUp = "picked_up"
    case expired
    case removed
    case cancelled

    /// Whether no further transition is possible.
    public var isFinal: Bool {
        switch self {
        case .pickedUp, .removed, .cancelled: true
        default: false
        }
    }

    /// Whether the parcel currently holds a compartment.
    public var holdsCompartment: Bool {
        switch self {
        case .reserved, .deposited, .expired: true
        default: false
        }
    }
}

/// Something that happens to a parcel.
public enum ParcelEvent: String, Codable, Sendable, CaseIterable {
    /// A courier is given a compartment for it (from announced, or for a new parcel).
    case reserve
    /// The unit reported the door closed with the parcel inside.
    case deposit
    /// The recipient presented a valid code and the door opened.
    case pickUp
    /// The pickup window ran out.
    case expire
    /// Staff took an expired parcel out.
    case remove
    /// The drop-off was called off before the parcel went in.
    case cancel
}

/// The legal transitions of a parcel; every other pair is a typed error.
public enum ParcelLifecycle {
    /// The state after `event` in `state`, or `ParcelError.illegalTransition`.
    public static func next(from state: ParcelState, on event: ParcelEvent) throws(ParcelError) -> ParcelState {
        switch (state, event) {
        case (.announced, .reserve): return .reserved
        case (.announced, .cancel): return .cancelled
        case (.reserved, .deposit): return .deposited
        case (.reserved, .cancel): return .cancelled
        case (.deposited, .pickUp): return .pickedUp
        case (.deposited, .expire): return .expired
        case (.expired, .remove): return .removed
        default: throw .illegalTransition(from: state, event: event)
        }
    }
}

/// Errors of the parcel lifecycle.
public enum ParcelError: Error, Equatable, Sendable {
    /// `event` is not allowed while the parcel is in `from`.
    case illegalTransition(from: ParcelState, event: ParcelEvent)
}
