import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation

/// A recipient's notification preferences as shown: the choices, the channels that can reach them, the history.
public struct PreferenceView: Sendable {
    public var recipientId: String
    public var preferences: NotificationPreferences
    /// The channels the recipient has contact data for.
    public var reachable: Set<MessageChannel>
    /// The consent history, newest first, with where each choice came from opened.
    public var history: [(record: ConsentRecord, origin: String?)]
}

/// Where a choice was made, for the consent history.
public enum ConsentSource: String, Sendable {
    case api, portal, resident, unsubscribe, console
}

/// One choice: a kind of message on a channel, on or off.
public struct PreferenceChoice: Sendable, Equatable, Hashable {
    public var kind: MessageKind
    public var channel: MessageChannel
    public var on: Bool
    public init(_ kind: MessageKind, _ channel: MessageChannel, on: Bool) {
        self.kind = kind
        self.channel = channel
        self.on = on
    }
}

/// Notification preferences: set by staff (API, portal), by the recipient on `/me`, or by one click on an email's
/// unsubscribe link. Every choice is kept with who made it, when and from where; the parcel-ready message, which
/// carries the code, always keeps a channel.
extension RecipientDesk {
    /// The most consent records a view shows.
    public static let consentHistoryShown = 50

    /// A recipient's preferences, for staff who may read it.
    public func preferences(_ p: Principal, id: String) async throws -> PreferenceView {
        try AccessPolicy.require(p, .readRecipient)
        return try await store.read { s in
            try await preferenceView(s, try await recipientInScope(s, p, id, lock: false))
        }
    }

    /// Changes a recipient's preferences as staff (API or portal).
    @discardableResult
    public func setPreferences(
        _ p: Principal, id: String, _ choices: [PreferenceChoice], source: ConsentSource, origin: String,
        actor: Actor? = nil
    ) async throws -> PreferenceView {
        try AccessPolicy.require(p, .updateRecipient)
        return try await ledger.write { s in
            let record = try await recipientInScope(s, p, id, lock: true)
            try await apply(s, record, choices, actor: actor ?? p.actor, source: source, origin: origin)
            return try await preferenceView(s, record)
        }
    }

    /// A signed-in resident's own preferences.
    public func preferences(_ resident: ResidentSession) async throws -> PreferenceView {
        try AccessPolicy.require(resident.principal, .manageOwnPreferences)
        return try await store.read { s in
            guard let record = try await s.recipient(resident.recipient.id), record.erasedAt == nil else {
                throw DomainError.notFound("recipient not found")
            }
            return try await preferenceView(s, record)
        }
    }

    /// Changes a signed-in resident's own preferences.
    @discardableResult
    public func setPreferences(_ resident: ResidentSession, _ choices: [PreferenceChoice], origin: String)
        async throws -> PreferenceView
    {
        try AccessPolicy.require(resident.principal, .manageOwnPreferences)
        return try await ledger.write { s in
            guard let record = try await s.lockRecipient(resident.recipient.id), record.erasedAt == nil else {
                throw DomainError.notFound("recipient not found")
            }
            try await apply(
                s, record, choices, actor: resident.principal.actor, source: .resident, origin: origin)
            return try await preferenceView(s, record)
        }
    }

    // MARK: one-click unsubscribe (RFC 8058)

    /// The token of an email's unsubscribe link: names the recipient, the kind of message and the channel, and is
    /// signed with a server key, so the link works without signing in and cannot be made for anyone else.
    public func unsubscribeToken(recipient: String, kind: MessageKind, channel: MessageChannel = .email) -> String {
        let mac = keys.hasher.hash("cubby.unsubscribe.v1", recipient, kind.rawValue, channel.rawValue)
        return [recipient, kind.rawValue, channel.rawValue, Base64URL.encode(Array(mac.prefix(16)))].joined(
            separator: ".")
    }

    /// What an unsubscribe token names, or `notFound` when it is not one of the server's.
    func unsubscribeTarget(_ token: String) throws -> (recipient: String, kind: MessageKind, channel: MessageChannel) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, let recipient = EntityID.parse(parts[0]), recipient == parts[0],
            let kind = MessageKind(rawValue: parts[1]), let channel = MessageChannel(rawValue: parts[2]),
            KeyedHasher.constantTimeEquals(
                Array(unsubscribeToken(recipient: recipient, kind: kind, channel: channel).utf8), Array(token.utf8))
        else { throw DomainError.notFound("this unsubscribe link is not valid") }
        return (recipient, kind, channel)
    }

    /// The kind of message an unsubscribe token stops, after checking it.
    public func unsubscribeKind(_ token: String) throws -> MessageKind { try unsubscribeTarget(token).kind }

    /// Follows an unsubscribe link: that kind of message no longer goes to that channel. Refused (with the reason)
    /// when it would leave the parcel-ready message without a channel. Returns the kind stopped.
    @discardableResult
    public func unsubscribe(token: String, origin: String) async throws -> MessageKind {
        let target = try unsubscribeTarget(token)
        let actor = Actor(kind: .recipient, id: target.recipient, role: "recipient")
        return try await ledger.write { s in
            guard let record = try await s.lockRecipient(target.recipient), record.erasedAt == nil else {
                throw DomainError.notFound("this unsubscribe link is not valid")
            }
            try await apply(
                s, record, [PreferenceChoice(target.kind, target.channel, on: false)], actor: actor,
                source: .unsubscribe, origin: origin)
            return target.kind
        }
    }

    // MARK: shared

    /// The channels a recipient can be reached on: those it has contact data for.
    func reachable(_ record: RecipientRecord) throws -> Set<MessageChannel> {
        let contact = try open(record)
        var channels: Set<MessageChannel> = []
        if contact.email != nil { channels.insert(.email) }
        if contact.phone != nil { channels.insert(.sms) }
        return channels
    }

    func preferenceView(_ s: StoreSession, _ record: RecipientRecord) async throws -> PreferenceView {
        let history = try await s.consents(recipient: record.id, limit: Self.consentHistoryShown).map { c in
            (
                c,
                try c.origin.map { sealed -> String in
                    guard let key = record.dataKey else { return "" }
                    return String(
                        decoding: try keys.envelope.open(sealed, wrappedKey: key, subject: record.id, field: "consent"),
                        as: UTF8.self)
                }
            )
        }
        return PreferenceView(
            recipientId: record.id, preferences: try await s.notificationPreferences(recipient: record.id),
            reachable: try reachable(record), history: history)
    }

    /// Writes the choices that change something, each with its consent record, and one audit event naming them;
    /// refuses (changing nothing) what would leave the parcel-ready message without a channel.
    func apply(
        _ s: StoreSession, _ record: RecipientRecord, _ choices: [PreferenceChoice], actor: Actor,
        source: ConsentSource, origin: String
    ) async throws {
        let current = try await s.notificationPreferences(recipient: record.id)
        var next = current
        for c in choices { next = next.setting(c.kind, c.channel, on: c.on) }
        if let refusal = next.refusal(reachable: try reachable(record)) {
            throw RecipientError.preferenceRefused(refusal)
        }
        var changed: [PreferenceChoice] = []
        for kind in MessageKind.allCases {
            for channel in MessageChannel.allCases
            where current.allows(kind, on: channel) != next.allows(kind, on: channel) {
                changed.append(PreferenceChoice(kind, channel, on: next.allows(kind, on: channel)))
            }
        }
        guard !changed.isEmpty else { return }
        let at = clock.now().millisecondsSince1970
        let sealedOrigin = try record.dataKey.map {
            try keys.envelope.seal(Data(origin.prefix(200).utf8), wrappedKey: $0, subject: record.id, field: "consent")
        }
        for c in changed {
            try await s.recordConsent(
                ConsentRecord(
                    recipientId: record.id, kind: c.kind, channel: c.channel, enabled: c.on, at: at,
                    actorKind: actor.kind.rawValue, actorId: actor.id, source: source.rawValue, origin: sealedOrigin))
        }
        let names = changed.map { "\($0.kind.rawValue).\($0.channel.rawValue)=\($0.on ? "on" : "off")" }
        try await s.appendAudit(
            auditRecord(
                .recipientPreferencesChanged, actor, record,
                ["changes": names.sorted().joined(separator: ","), "source": source.rawValue]))
    }
}
