import CubbyCore
import CubbyStore

/// The outbox channels a recipient's message goes out on: the server's recipient channels, less the personal ones
/// (`email`, `sms`) that the recipient switched off for that kind of message. Channels that reach no person (the
/// file, the log) always take it. Whether the recipient has an address for a channel is the channel's own check.
public struct RecipientChannels: Sendable {
    /// The server's recipient channels, by name.
    public let names: [String]

    public init(_ names: [String]) { self.names = names }

    /// The channels for a message of `kind` to `recipient`, read in the caller's transaction.
    public func channels(for kind: MessageKind, recipient: String, in s: StoreSession) async throws -> [String] {
        guard names.contains(where: { MessageChannel(rawValue: $0) != nil }) else { return names }
        let preferences = try await s.notificationPreferences(recipient: recipient)
        return names.filter { name in MessageChannel(rawValue: name).map { preferences.allows(kind, on: $0) } ?? true }
    }
}
