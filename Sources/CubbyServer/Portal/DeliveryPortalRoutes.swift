import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import Hummingbird

/// The portal's Deliveries and Webhooks pages: the outbox's deliveries per channel and state, each with "Retry now"
/// or "Redeliver", and the webhook subscriptions in reach with their newest deliveries. Read-only for auditors.
struct DeliveryPortalRoutes {
    let desk: DeliveryDesk
    let gate: PortalGate

    var pages: PortalPages { gate.pages }

    /// How many deliveries one page of the table shows.
    static let pageSize = 50

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/deliveries", .readDeliveries) { req, _, call in
            try await deliveriesPage(req, call)
        }
        routes.portal(.get, "/admin/webhooks", .readDeliveries) { req, _, call in
            try await webhooksPage(call, notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.post, "/admin/deliveries/:deliveryId/retry", .retryDelivery) { _, ctx, call in
            let s = try session(call)
            _ = try await desk.retry(s.principal, id: try DeliveryRoutes.deliveryID(ctx))
            return gate.redirect(Self.back(call.form.first("back")) + "?done=retried")
        }
        routes.portal(.post, "/admin/deliveries/:deliveryId/redeliver", .retryDelivery) { _, ctx, call in
            let s = try session(call)
            _ = try await desk.redeliver(s.principal, id: try DeliveryRoutes.deliveryID(ctx))
            return gate.redirect(Self.back(call.form.first("back")) + "?done=redelivered")
        }
    }

    static let notices: [String: String] = [
        "retried": "The delivery is due now; it is sent within a few seconds.",
        "redelivered": "The delivery is sent again with the same message id.",
    ]

    /// The page a form returns to: only one of the two.
    static func back(_ text: String) -> String { text == "webhooks" ? "/admin/webhooks" : "/admin/deliveries" }

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    static func time(_ ms: Int64) -> String {
        AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: ms))
    }

    /// A delivery as a row of a table, with the buttons `canRetry` allows.
    static func row(_ d: StaffDeliveryRecord, canRetry: Bool, back: String) -> [String: Any] {
        let state = DeliveryState(rawValue: d.state)
        let waiting = state == .pending || state == .failed
        let final = state?.isFinal == true
        return [
            "id": String(d.id), "messageId": d.messageId, "kind": d.kind, "channel": d.channel, "state": d.state,
            "attempts": String(d.attempts), "created": time(d.createdAt),
            "next": waiting ? time(d.nextAttemptAt) : "—", "lastError": d.lastError ?? "—",
            "parcel": d.parcelId ?? "—", "back": back,
            "canRetryNow": canRetry && waiting, "canRedeliver": canRetry && final && d.payloadKept,
            "erased": final && !d.payloadKept,
        ]
    }

    func deliveriesPage(_ req: Request, _ call: PortalCall) async throws -> Response {
        let s = try session(call)
        let query = req.uri.queryParameters
        let channel = query.get("channel").flatMap { $0.isEmpty ? nil : $0 }
        let stateText = query.get("state").flatMap { $0.isEmpty ? nil : $0 }
        let state = try stateText.map { text -> DeliveryState in
            guard let state = DeliveryState(rawValue: text) else {
                throw DomainError.invalidRequest("Choose a state from the list.")
            }
            return state
        }
        let page = try await desk.list(
            s.principal, filter: DeliveryFilter(channel: channel, state: state, limit: Self.pageSize),
            cursor: query.get("cursor").flatMap { $0.isEmpty ? nil : $0 })
        let summary = DeliveryRoutes.SummaryBody(try await desk.summary(s.principal))
        let canRetry = AccessPolicy.allows(s.principal.role, .retryDelivery)
        let channels = Set(summary.channels.map(\.channel)).union(channel.map { [$0] } ?? []).sorted()
        func counts(_ r: DeliveryRoutes.SummaryBody.Row) -> [String: Any] {
            [
                "channel": r.channel, "pending": r.pending, "delivering": r.delivering, "delivered": r.delivered,
                "failed": r.failed, "dead": r.dead,
            ]
        }
        var values: [String: Any] = [
            "summary": summary.channels.map(counts), "total": counts(summary.total),
            "hasSummary": !summary.channels.isEmpty,
            "channelOptions": channels.map { ["value": $0, "selected": $0 == channel] as [String: Any] },
            "stateOptions": DeliveryState.allCases.map {
                ["value": $0.rawValue, "selected": $0 == state] as [String: Any]
            },
            "deliveries": page.deliveries.map { Self.row($0, canRetry: canRetry, back: "deliveries") },
            "hasDeliveries": !page.deliveries.isEmpty, "canRetry": canRetry,
        ]
        if let next = page.nextCursor {
            var items = [URLQueryItem(name: "cursor", value: next)]
            if let channel { items.append(URLQueryItem(name: "channel", value: channel)) }
            if let state { items.append(URLQueryItem(name: "state", value: state.rawValue)) }
            var c = URLComponents()
            c.path = "/admin/deliveries"
            c.queryItems = items
            values["older"] = c.string ?? "/admin/deliveries"
        }
        if let notice = Self.notices[query.get("done") ?? ""] { values["notice"] = notice }
        return pages.page("deliveries", title: "Deliveries", session: s, formToken: call.formToken, values)
    }

    func webhooksPage(_ call: PortalCall, notice: String?) async throws -> Response {
        let s = try session(call)
        let canRetry = AccessPolicy.allows(s.principal.role, .retryDelivery)
        let list = try await desk.subscriptions(s.principal)
        let rows = list.map { item -> [String: Any] in
            let r = item.subscription
            return [
                "id": r.id, "url": r.url, "events": r.eventTypes.map(\.rawValue).joined(separator: ", "),
                "enabled": r.disabledAt == nil,
                "disabledAt": r.disabledAt.map(Self.time) ?? "", "disabledReason": r.disabledReason ?? "",
                "sites": r.sites == nil ? "whole organization" : "\(r.sites?.count ?? 0) site(s)",
                "lastSuccess": r.lastSuccessAt.map(Self.time) ?? "never",
                "failures": String(item.failures),
                "deliveries": item.deliveries.map { Self.row($0, canRetry: canRetry, back: "webhooks") },
                "hasDeliveries": !item.deliveries.isEmpty, "canRetry": canRetry,
            ]
        }
        var values: [String: Any] = ["subscriptions": rows, "hasSubscriptions": !rows.isEmpty]
        if let notice { values["notice"] = notice }
        return pages.page("webhooks", title: "Webhooks", session: s, formToken: call.formToken, values)
    }
}
