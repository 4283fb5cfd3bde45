#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The kinds of message a recipient is sent about a parcel.
public enum MessageKind: String, CaseIterable, Sendable, Codable, Hashable {
    /// The parcel is in a compartment: the PIN and the QR code. Always sent on at least one channel.
    case parcelReady = "parcel_ready"
    /// A reminder on the site's schedule while the parcel waits.
    case reminder
    /// The parcel's pickup deadline passed.
    case expiry
    /// The parcel was picked up ("not you? report it").
    case pickupReceipt = "pickup_receipt"
}

/// The channels that reach a recipient in person.
public enum MessageChannel: String, CaseIterable, Sendable, Codable, Hashable {
    case email
    case sms
}

/// Which channels a recipient wants for each kind of message. Every channel is on until switched off.
public struct NotificationPreferences: Sendable, Equatable, Codable {
    /// The channels switched off, per kind; absent means on.
    public private(set) var off: [MessageKind: Set<MessageChannel>]

    public init(off: [MessageKind: Set<MessageChannel>] = [:]) {
        self.off = off.filter { !$0.value.isEmpty }
    }

    /// Whether `kind` may go out on `channel`.
    public func allows(_ kind: MessageKind, on channel: MessageChannel) -> Bool {
        !(off[kind]?.contains(channel) ?? false)
    }

    /// The channels `kind` goes out on, given the channels the recipient can be reached on.
    public func channels(for kind: MessageKind, reachable: Set<MessageChannel>) -> Set<MessageChannel> {
        reachable.filter { allows(kind, on: $0) }
    }

    /// The preferences with one choice changed.
    public func setting(_ kind: MessageKind, _ channel: MessageChannel, on: Bool) -> NotificationPreferences {
        var next = off
        if on { next[kind]?.remove(channel) } else { next[kind, default: []].insert(channel) }
        return NotificationPreferences(off: next)
    }

    /// Why a set of preferences cannot be kept for a recipient reachable on `reachable`, or nil when it can:
    /// the parcel-ready message, which carries the code, must keep at least one channel that reaches them.
    public func refusal(reachable: Set<MessageChannel>) -> String? {
        guard !reachable.isEmpty, channels(for: .parcelReady, reachable: reachable).isEmpty else { return nil }
        let names = reachable.map(\.rawValue).sorted().joined(separator: " or ")
        return "The parcel-ready message carries the pickup code and must keep at least one channel (\(names))."
    }
}
