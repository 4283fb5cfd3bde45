#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Errors that a request can run into in the locker domain; mapped to HTTP in one place in CubbyServer.
public enum DomainError: Error, Equatable, Sendable {
    /// The id is unknown or outside the caller's scope (the two are indistinguishable on purpose).
    case notFound(String)
    /// No free compartment at the unit fits the parcel.
    case unitFull
    /// The unit locked itself down (a tamper signal) and no door may open there until staff release it.
    case unitLockedDown
    /// The operation is not legal in the current state.
    case invalidState(String)
    /// A live parcel with this tracking number already exists for the carrier.
    case duplicateParcel
    /// A pickup code was wrong, used or expired; deliberately no more detail.
    case invalidCode
    /// PIN entry at the unit is locked out or suspended.
    case lockedOut(retryAfterSeconds: Int, reason: LockoutReason)
    /// The request is malformed; the message says what is wrong.
    case invalidRequest(String)
    /// The caller is not allowed to do this.
    case forbidden(String)

    /// Wraps a lifecycle error.
    public init(_ error: ParcelError) {
        switch error {
        case .illegalTransition(let from, let event):
            self = .invalidState("cannot \(event.rawValue) a parcel that is \(from.rawValue)")
        }
    }
}
