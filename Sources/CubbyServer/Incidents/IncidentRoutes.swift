import CubbyCore
import CubbyStore
import Foundation
import Hummingbird

/// The API of incidents: sites' on-call lists, and one alert with its pages.
struct IncidentRoutes {
    let onCall: OnCallDesk
    let edges: EdgeDesk

    struct OnCallBody: Encodable {
        var siteId: String
        var escalationDelaySeconds: Int64
        var contacts: [ContactBody]

        init(_ p: OnCallDesk.Policy) {
            siteId = p.siteId
            escalationDelaySeconds = p.escalationDelaySeconds
            contacts = p.contacts.map {
                ContactBody(
                    accountId: $0.accountId, email: $0.email, hasPhone: $0.hasPhone,
                    channels: $0.channels.map(\.rawValue),
                    severities: $0.severities.map(\.rawValue))
            }
        }
    }

    struct ContactBody: Encodable {
        var accountId: String
        var email: String
        var hasPhone: Bool
        var channels: [String]
        var severities: [String]
    }

    struct OnCallRequest: Decodable {
        var escalationDelaySeconds: Int64?
        var contacts: [ContactRequest]
        static let fields: Set<String> = ["escalationDelaySeconds", "contacts"]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            escalationDelaySeconds = try c.decodeIfPresentRefusingNull(
                Int64.self, forKey: UnitLayout.Key("escalationDelaySeconds"))
            contacts = try c.decode([ContactRequest].self, forKey: UnitLayout.Key("contacts"))
        }
    }

    struct ContactRequest: Decodable {
        var request: OnCallDesk.ContactRequest
        static let fields: Set<String> = ["accountId", "email", "channels", "severities"]

        init(from decoder: any Decoder) throws {
            try UnitLayout.refuseUnknown(decoder, Self.fields)
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            request = OnCallDesk.ContactRequest(
                accountId: try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("accountId")),
                email: try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("email")),
                channels: try c.decode([String].self, forKey: UnitLayout.Key("channels")),
                severities: try c.decodeIfPresentRefusingNull([String].self, forKey: UnitLayout.Key("severities")))
        }
    }

    struct AlertDetail: Encodable {
        var id: String
        var kind: String
        var severity: String
        var detail: String
        var siteId: String?
        var unitId: String?
        var compartmentId: String?
        var createdAt: String
        var signals: Int64
        var lastSignalAt: String?
        var acknowledgedAt: String?
        var acknowledgedBy: String?
        var acknowledgeNote: String?
        var resolvedAt: String?
        var resolvedBy: String?
        var resolveNote: String?
        var nextPageAt: String?
        var pages: [Page]

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(id, forKey: "id")
            try c.encode(kind, forKey: "kind")
            try c.encode(severity, forKey: "severity")
            try c.encode(detail, forKey: "detail")
            try c.encode(siteId, forKey: "siteId")
            try c.encode(unitId, forKey: "unitId")
            try c.encode(compartmentId, forKey: "compartmentId")
            try c.encode(createdAt, forKey: "createdAt")
            try c.encode(signals, forKey: "signals")
            try c.encode(lastSignalAt, forKey: "lastSignalAt")
            try c.encode(acknowledgedAt, forKey: "acknowledgedAt")
            try c.encode(acknowledgedBy, forKey: "acknowledgedBy")
            try c.encode(acknowledgeNote, forKey: "acknowledgeNote")
            try c.encode(resolvedAt, forKey: "resolvedAt")
            try c.encode(resolvedBy, forKey: "resolvedBy")
            try c.encode(resolveNote, forKey: "resolveNote")
            try c.encode(nextPageAt, forKey: "nextPageAt")
            try c.encode(pages, forKey: "pages")
        }
    }

    struct Page: Encodable {
        var step: Int64
        var accountId: String?
        var channels: [String]
        var severity: String
        var pagedAt: String
    }

    static func detail(_ a: EdgeDesk.AlertHistory, now: Int64) -> AlertDetail {
        let r = a.alert
        return AlertDetail(
            id: r.id, kind: r.kind,
            severity: AlertSeverity.of(kind: r.kind, openForMs: (r.resolvedAt ?? now) - r.createdAt).rawValue,
            detail: r.detail, siteId: r.siteId, unitId: r.unitId, compartmentId: r.compartmentId,
            createdAt: API.time(r.createdAt), signals: r.signals, lastSignalAt: r.lastSignalAt.map(API.time),
            acknowledgedAt: r.acknowledgedAt.map(API.time), acknowledgedBy: r.acknowledgedBy,
            acknowledgeNote: r.acknowledgeNote, resolvedAt: r.resolvedAt.map(API.time), resolvedBy: r.resolvedBy,
            resolveNote: r.resolveNote,
            nextPageAt: r.resolvedAt == nil && r.acknowledgedAt == nil ? r.nextPageAt.map(API.time) : nil,
            pages: a.pages.map {
                Page(
                    step: $0.step, accountId: $0.accountId,
                    channels: $0.channels.split(separator: ",").map(String.init), severity: $0.severity,
                    pagedAt: API.time($0.pagedAt))
            })
    }

    func register(on routes: inout GuardedRouter) {
        routes.api(.get, "/api/v1/sites/:siteId/on-call", .readOnCall) { _, ctx, p in
            let siteId = try RequestValidation.pathID(ctx, "siteId")
            return JSONResponse.make(OnCallBody(try await onCall.policy(p, siteId: siteId)))
        }
        routes.api(.put, "/api/v1/sites/:siteId/on-call", .manageOnCall) { req, ctx, p in
            let siteId = try RequestValidation.pathID(ctx, "siteId")
            let body = try await JSONBody.decode(
                OnCallRequest.self, from: req, context: ctx, allowed: OnCallRequest.fields)
            let policy = try await onCall.replace(
                p, siteId: siteId, contacts: body.contacts.map(\.request), delaySeconds: body.escalationDelaySeconds)
            return JSONResponse.make(OnCallBody(policy))
        }
        routes.api(.get, "/api/v1/alerts/:alertId", .readAlerts) { _, ctx, p in
            let alertId = try RequestValidation.pathID(ctx, "alertId")
            let history = try await edges.alertHistory(p, alertId: alertId)
            return JSONResponse.make(Self.detail(history, now: edges.clock.now().millisecondsSince1970))
        }
    }
}

extension EdgeDesk {
    /// An alert with every page it sent.
    public struct AlertHistory: Sendable {
        public var alert: AlertRecord
        public var pages: [AlertPageRecord]
    }

    /// One alert and its pages, if the principal may see it; otherwise "not found".
    public func alertHistory(_ p: Principal, alertId: String) async throws -> AlertHistory {
        try AccessPolicy.require(p, .readAlerts)
        return try await store.read { s in
            guard let alert = try await s.alert(alertId), alert.organizationId == p.organizationId.idString,
                Scope.covers(p, alert: alert)
            else { throw DomainError.notFound("alert \(alertId) not found") }
            return AlertHistory(alert: alert, pages: try await s.alertPages(alert: alert.id))
        }
    }

    /// Open or resolved alerts the principal may see, newest first.
    public func alerts(_ p: Principal, resolved: Bool, limit: Int = 200) async throws -> [AlertRecord] {
        try AccessPolicy.require(p, .readAlerts)
        let org = p.organizationId.idString
        return try await store.read { s in try await s.alerts(organization: org, resolved: resolved, limit: limit) }
            .filter { Scope.covers(p, alert: $0) }
    }
}
