/// The fields a change really altered, named in order: what an update writes and its audit event lists.
public struct ChangedFields: Sendable, Equatable {
    public private(set) var names: [String] = []

    public init() {}

    public var isEmpty: Bool { names.isEmpty }

    /// Sets `field` to `value` when a value is given and differs, and names the field; returns whether it did.
    @discardableResult
    public mutating func set<T: Equatable>(_ field: inout T, to value: T?, _ name: String) -> Bool {
        guard let value, value != field else { return false }
        field = value
        names.append(name)
        return true
    }

    /// The same for an optional field given a single optional: nil leaves the field as it is. (To clear an optional
    /// field, pass a double optional to the method above: `.some(nil)` clears it.)
    @discardableResult
    public mutating func set<T: Equatable>(_ field: inout T?, to value: T?, _ name: String) -> Bool {
        guard let value, value != field else { return false }
        field = value
        names.append(name)
        return true
    }

    /// Names a field changed by other means (one that needs a lookup before it is set).
    public mutating func note(_ name: String) { names.append(name) }
}
