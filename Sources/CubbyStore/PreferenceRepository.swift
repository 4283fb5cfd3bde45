import CubbyCore
import Foundation
import SQLKit

/// One consent given or withdrawn: who chose what for which channel, when, and from where (sealed).
public struct ConsentRecord: Sendable, Equatable {
    public var recipientId: String
    public var kind: MessageKind
    public var channel: MessageChannel
    public var enabled: Bool
    public var at: Int64
    public var actorKind: String
    public var actorId: String?
    /// `api`, `portal`, `resident`, `unsubscribe` or `console`.
    public var source: String
    /// The address or place the choice came from, sealed under the recipient's data key.
    public var origin: Data?

    public init(
        recipientId: String, kind: MessageKind, channel: MessageChannel, enabled: Bool, at: Int64, actorKind: String,
        actorId: String?, source: String, origin: Data?
    ) {
        self.recipientId = recipientId
        self.kind = kind
        self.channel = channel
        self.enabled = enabled
        self.at = at
        self.actorKind = actorKind
        self.actorId = actorId
        self.source = source
        self.origin = origin
    }
}

/// Reads and writes of recipients' notification preferences and their consent history.
extension StoreSession {
    /// A recipient's preferences (every channel on unless stored as off).
    public func notificationPreferences(recipient: String) async throws -> NotificationPreferences {
        var off: [MessageKind: Set<MessageChannel>] = [:]
        for row in try await sql.raw(
            "SELECT message_kind, channel FROM notification_preferences WHERE recipient_id = \(bind: recipient)"
        ).all() {
            guard let kind = MessageKind(rawValue: try row.decode(column: "message_kind", as: String.self)),
                let channel = MessageChannel(rawValue: try row.decode(column: "channel", as: String.self))
            else { throw StoreError.corrupt("recipient \(recipient) has an unknown notification preference") }
            off[kind, default: []].insert(channel)
        }
        return NotificationPreferences(off: off)
    }

    /// Records one choice: the preference, and the consent history beside it.
    public func recordConsent(_ consent: ConsentRecord) async throws {
        if consent.enabled {
            try await sql.raw(
                """
                DELETE FROM notification_preferences WHERE recipient_id = \(bind: consent.recipientId)
                  AND message_kind = \(bind: consent.kind.rawValue) AND channel = \(bind: consent.channel.rawValue)
                """
            ).run()
        } else {
            try await sql.raw(
                """
                INSERT INTO notification_preferences (recipient_id, message_kind, channel, updated_at)
                VALUES (\(bind: consent.recipientId), \(bind: consent.kind.rawValue), \(bind: consent.channel.rawValue), \(bind: consent.at))
                ON CONFLICT (recipient_id, message_kind, channel) DO UPDATE SET updated_at = excluded.updated_at
                """
            ).run()
        }
        try await sql.raw(
            """
            INSERT INTO notification_consents (recipient_id, message_kind, channel, enabled, at, actor_kind, actor_id, source, origin)
            VALUES (\(bind: consent.recipientId), \(bind: consent.kind.rawValue), \(bind: consent.channel.rawValue),
              \(bind: consent.enabled), \(bind: consent.at), \(bind: consent.actorKind), \(bind: consent.actorId),
              \(bind: consent.source), \(bind: consent.origin))
            """
        ).run()
    }

    /// A recipient's consent history, newest first.
    public func consents(recipient: String, limit: Int) async throws -> [ConsentRecord] {
        try await sql.raw(
            """
            SELECT * FROM notification_consents WHERE recipient_id = \(bind: recipient) ORDER BY id DESC LIMIT \(bind: limit)
            """
        ).all().map { row in
            guard let kind = MessageKind(rawValue: try row.decode(column: "message_kind", as: String.self)),
                let channel = MessageChannel(rawValue: try row.decode(column: "channel", as: String.self))
            else { throw StoreError.corrupt("recipient \(recipient) has an unknown consent record") }
            return ConsentRecord(
                recipientId: recipient, kind: kind, channel: channel,
                enabled: try row.decode(column: "enabled", as: Bool.self),
                at: try row.decode(column: "at", as: Int64.self),
                actorKind: try row.decode(column: "actor_kind", as: String.self),
                actorId: try row.decode(column: "actor_id", as: String?.self),
                source: try row.decode(column: "source", as: String.self),
                origin: try row.decode(column: "origin", as: Data?.self))
        }
    }
}
