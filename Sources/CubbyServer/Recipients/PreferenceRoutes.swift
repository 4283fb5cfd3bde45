import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Notification preferences: the API for staff, the resident's own page, and the one-click unsubscribe link
/// every email carries (RFC 8058).
struct PreferenceRoutes {
    let desk: RecipientDesk
    let gate: PortalGate?

    func register(on routes: inout GuardedRouter) {
        routes.api(.get, "/api/v1/recipients/:recipientId/preferences", .readRecipient) { _, ctx, p in
            JSONResponse.make(Body(try await desk.preferences(p, id: try RequestValidation.pathID(ctx, "recipientId"))))
        }
        routes.api(.put, "/api/v1/recipients/:recipientId/preferences", .updateRecipient) { req, ctx, p in
            let id = try RequestValidation.pathID(ctx, "recipientId")
            let body = try await JSONBody.decode(PutRequest.self, from: req, context: ctx, allowed: ["preferences"])
            let choices = try Self.choices(body.preferences)
            return JSONResponse.make(
                Body(
                    try await desk.setPreferences(
                        p, id: id, choices, source: .api, origin: "api " + ctx.remoteAddress)))
        }
        // RFC 8058: a mail client posts `List-Unsubscribe=One-Click` here, with no cookie and no form token; the
        // signed token is the whole authority. A person who opened the link gets the same answer as a page.
        routes.open(.post, "/unsubscribe/:token") { req, ctx in
            let token = ctx.parameters.get("token") ?? ""
            do {
                let kind = try await desk.unsubscribe(token: token, origin: "unsubscribe link " + ctx.remoteAddress)
                return message(req, "You will no longer get \(Self.describe(kind)) by email.", status: .ok)
            } catch RecipientError.preferenceRefused(let why) {
                return message(
                    req, why + " You can choose another channel on your parcels page.", status: .conflict)
            }
        }
        guard let gate else { return }
        let pages = gate.pages
        routes.portal(.get, "/unsubscribe/:token", nil) { _, ctx, call in
            let token = ctx.parameters.get("token") ?? ""
            let kind = try desk.unsubscribeKind(token)
            return pages.page(
                "unsubscribe", title: "Unsubscribe", session: nil, formToken: call.formToken,
                ["token": token, "what": Self.describe(kind)])
        }
        routes.portal(.get, "/me/preferences", .manageOwnPreferences) { _, _, call in
            guard let r = call.resident else { throw PortalRefusal.forbidden }
            return preferencePage(try await desk.preferences(r), call: call, resident: r)
        }
        routes.portal(.post, "/me/preferences", .manageOwnPreferences) { _, _, call in
            guard let r = call.resident else { throw PortalRefusal.forbidden }
            // Each kind and channel the page showed comes back as a checkbox: present means on.
            let view = try await desk.preferences(r)
            var choices: [PreferenceChoice] = []
            for kind in MessageKind.allCases {
                for channel in view.reachable {
                    choices.append(
                        PreferenceChoice(
                            kind, channel, on: call.form.first("\(kind.rawValue).\(channel.rawValue)") == "on"))
                }
            }
            do {
                let saved = try await desk.setPreferences(r, choices, origin: "your parcels page " + call.address)
                return preferencePage(saved, call: call, resident: r, notice: "Your choices are saved.")
            } catch RecipientError.preferenceRefused(let why) {
                return preferencePage(view, call: call, resident: r, error: why, status: .conflict)
            }
        }
    }

    /// What a kind of message is called on pages.
    static func describe(_ kind: MessageKind) -> String {
        switch kind {
        case .parcelReady: "parcel-ready messages (with your pickup code)"
        case .reminder: "reminders about parcels waiting for you"
        case .expiry: "notices that a parcel's pickup time has passed"
        case .pickupReceipt: "pickup receipts"
        }
    }

    func preferencePage(
        _ view: PreferenceView, call: PortalCall, resident: ResidentSession, notice: String? = nil,
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let channels = MessageChannel.allCases.filter { view.reachable.contains($0) }
        let rows: [[String: Any]] = MessageKind.allCases.map { kind in
            [
                "label": Self.describe(kind).prefix(1).uppercased() + Self.describe(kind).dropFirst(),
                "options": channels.map { channel -> [String: Any] in
                    [
                        "name": "\(kind.rawValue).\(channel.rawValue)",
                        "channel": channel == .email ? "Email" : "Text message (SMS)",
                        "checked": view.preferences.allows(kind, on: channel),
                    ]
                },
            ]
        }
        var values: [String: Any] = ["kinds": rows, "reachable": !channels.isEmpty]
        if let notice { values["notice"] = notice }
        if let error { values["error"] = error }
        return gate!.pages.page(
            "me-preferences", title: "Your messages", session: nil, formToken: call.formToken, values, status: status,
            resident: resident)
    }

    /// The answer to a one-click unsubscribe.
    func message(_ req: Request, _ text: String, status: HTTPResponse.Status) -> Response {
        PortalPages.linkAnswer(req, pages: gate?.pages, title: "Unsubscribe", text, status: status)
    }

    // MARK: bodies

    struct PutRequest: Decodable {
        var preferences: [String: [String: Bool]]
    }

    /// The choices of a request body, every kind and channel named checked.
    static func choices(_ given: [String: [String: Bool]]) throws -> [PreferenceChoice] {
        guard !given.isEmpty else {
            throw APIError.invalidRequest("preferences must name at least one kind of message")
        }
        var out: [PreferenceChoice] = []
        for (kindName, channels) in given {
            guard let kind = MessageKind(rawValue: kindName) else {
                throw APIError.invalidRequest(
                    "unknown kind of message \(kindName); use \(MessageKind.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            guard !channels.isEmpty else {
                throw APIError.invalidRequest("preferences.\(kindName) must name at least one channel")
            }
            for (channelName, on) in channels {
                guard let channel = MessageChannel(rawValue: channelName) else {
                    throw APIError.invalidRequest("unknown channel \(channelName); use email or sms")
                }
                out.append(PreferenceChoice(kind, channel, on: on))
            }
        }
        return out
    }

    struct Body: Encodable {
        var view: PreferenceView
        init(_ view: PreferenceView) { self.view = view }

        struct Consent: Encodable {
            var kind, channel, at, source: String
            var enabled: Bool
            var actor: API.AuditActor
            var origin: String?
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(view.recipientId, forKey: "recipientId")
            var prefs: [String: [String: Bool]] = [:]
            for kind in MessageKind.allCases {
                prefs[kind.rawValue] = Dictionary(
                    uniqueKeysWithValues: MessageChannel.allCases.map {
                        ($0.rawValue, view.preferences.allows(kind, on: $0))
                    })
            }
            try c.encode(prefs, forKey: "preferences")
            try c.encode(view.reachable.map(\.rawValue).sorted(), forKey: "reachable")
            try c.encode(
                view.history.map {
                    Consent(
                        kind: $0.record.kind.rawValue, channel: $0.record.channel.rawValue,
                        at: API.time($0.record.at), source: $0.record.source, enabled: $0.record.enabled,
                        actor: API.AuditActor(kind: $0.record.actorKind, id: $0.record.actorId, role: nil),
                        origin: $0.origin)
                }, forKey: "consents")
        }
    }
}
