extension Optional {
    /// `map` for an async transform.
    public func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        switch self {
        case .none: return nil
        case .some(let w): return try await transform(w)
        }
    }
}
