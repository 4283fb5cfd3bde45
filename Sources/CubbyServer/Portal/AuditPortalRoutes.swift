import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import Hummingbird

/// The portal's Audit log page: the organization's events filtered by time, unit, event type and actor, and the
/// filtered range downloaded as CSV, JSON lines or CEF, or as a forensic bundle that `cubby audit verify-bundle`
/// checks offline. Each download is itself an audit event (`audit.exported`).
struct AuditPortalRoutes {
    let log: AuditLog
    let store: any SQLStore
    let keys: LockerKeys
    let gate: PortalGate

    var pages: PortalPages { gate.pages }

    /// Events one page of the table shows, and leaves one page may read looking for them.
    static let pageSize = 50
    static let scanLimit: Int64 = 20_000
    /// The most events one download may hold.
    static let exportLimit = 100_000

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/audit", .readAudit) { req, _, call in
            let q = req.uri.queryParameters
            let fields = Dictionary(
                ["from", "to", "unit", "type", "actor", "cursor"].map { ($0, q.get($0) ?? "") },
                uniquingKeysWith: { a, _ in a })
            return try await page(call, fields: fields)
        }
        routes.portal(.post, "/admin/audit/export", .readAudit) { _, _, call in try await download(call, bundle: false)
        }
        routes.portal(.post, "/admin/audit/bundle", .readAudit) { _, _, call in try await download(call, bundle: true) }
    }

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    /// A filter from the page's fields; `DomainError.invalidRequest` names the field that is wrong.
    func filter(_ fields: [String: String], _ p: Principal) async throws -> AuditFilter {
        var f = AuditFilter()
        f.fromMs = try Self.time(fields["from"] ?? "", "From")
        f.toMs = try Self.time(fields["to"] ?? "", "To")
        if let a = f.fromMs, let b = f.toMs, a >= b { throw DomainError.invalidRequest("“From” must be before “To”.") }
        let unit = fields["unit"] ?? ""
        if !unit.isEmpty {
            guard let id = EntityID.parse(unit),
                let u = try await store.read({ s in try await s.unit(id) }),
                u.organizationId == p.organizationId.idString
            else { throw DomainError.invalidRequest("Choose a unit from the list.") }
            f.unitId = id
        }
        let type = fields["type"] ?? ""
        if !type.isEmpty {
            guard AuditEventType(rawValue: type) != nil else {
                throw DomainError.invalidRequest("Choose an event type from the list.")
            }
            f.type = type
        }
        let actor = (fields["actor"] ?? "").trimmingCharacters(in: .whitespaces)
        if !actor.isEmpty {
            if let id = EntityID.parse(actor) {
                f.actorId = id
            } else if actor.contains("@"), actor.count <= 254,
                let a = try await store.read({ s in try await s.staffAccount(email: actor.lowercased()) }),
                a.organizationId == p.organizationId.idString
            {
                f.actorId = a.id
            } else {
                throw DomainError.invalidRequest(
                    "“Actor” is a staff member's email or an id (account, credential, unit).")
            }
        }
        return f
    }

    /// `2026-12-04` (midnight UTC) or `2026-12-04T10:30` (UTC), as the page's date and time fields send them.
    static func time(_ text: String, _ name: String) throws -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: 0)
        for format in ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"] {
            f.dateFormat = format
            if t.count <= 19, let d = f.date(from: t) { return d.millisecondsSince1970 }
        }
        throw DomainError.invalidRequest("“\(name)” must be a date like 2026-12-04, or a date and time in UTC.")
    }

    func page(_ call: PortalCall, fields: [String: String]) async throws -> Response {
        let s = try session(call)
        let p = s.principal
        var values: [String: Any] = try await formValues(p, fields)
        var status: HTTPResponse.Status = .ok
        do {
            let f = try await filter(fields, p)
            guard let cursor = fields["cursor"].flatMap({ $0.isEmpty ? 0 : Int64($0) }), cursor >= 0 else {
                throw DomainError.invalidRequest("The page link is not valid; start again from the filter.")
            }
            try await log.sequence()
            let target = AuditLogID.organization(p.organizationId)
            let range = try await f.leaves(store, log: target)
            let start = max(range.from, cursor)
            let stop = range.to == .max ? Int64.max : range.to
            var rows: [[String: String]] = []
            var next: Int64? = nil
            let emails = Dictionary(
                try await store.read { st in try await st.staffAccounts(organization: p.organizationId.idString) }.map {
                    ($0.id, $0.email)
                }, uniquingKeysWith: { a, _ in a })
            let units = Dictionary(
                try await store.read { st in try await st.units(organization: p.organizationId.idString) }.map {
                    ($0.id, $0.name)
                }, uniquingKeysWith: { a, _ in a })
            scan: for try await batch in AuditPages.events(store, log: target, from: start, to: stop, batch: 500) {
                for (index, e) in batch {
                    if index - start >= Self.scanLimit || rows.count == Self.pageSize {
                        next = index
                        break scan
                    }
                    guard f.matches(e), Scope.covers(p, event: e) else { continue }
                    rows.append(Self.row(index, e, emails: emails, units: units))
                }
            }
            values["events"] = rows
            values["hasEvents"] = !rows.isEmpty
            values["searched"] = true
            if let next {
                var c = URLComponents()
                c.path = "/admin/audit"
                c.queryItems =
                    fields.filter { $0.key != "cursor" && !$0.value.isEmpty }.sorted { $0.key < $1.key }.map {
                        URLQueryItem(name: $0.key, value: $0.value)
                    } + [URLQueryItem(name: "cursor", value: String(next))]
                values["next"] = c.string ?? "/admin/audit"
            }
        } catch DomainError.invalidRequest(let message) {
            values["error"] = message
            status = .badRequest
        }
        return pages.page("audit", title: "Audit log", session: s, formToken: call.formToken, values, status: status)
    }

    static func row(_ index: Int64, _ e: StoredAuditEvent, emails: [String: String], units: [String: String])
        -> [String: String]
    {
        let actor =
            e.actorId.map { emails[$0] ?? "\(e.actorRole ?? e.actorKind) \($0.prefix(8))" }
            ?? (e.actorRole ?? e.actorKind)
        let detail = (try? JSONSerialization.jsonObject(with: Data(e.detail.utf8)) as? [String: Any]) ?? [:]
        return [
            "index": String(index), "at": AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: e.occurredAt)),
            "type": e.type, "outcome": e.outcome, "actor": actor, "unit": e.unitId.map { units[$0] ?? $0 } ?? "—",
            "parcel": e.trackingNumber ?? "—",
            "detail": detail.keys.sorted().map { "\($0)=\(detail[$0].map { "\($0)" } ?? "")" }.joined(separator: ", "),
        ]
    }

    /// The filter form's fields and choices.
    func formValues(_ p: Principal, _ fields: [String: String]) async throws -> [String: Any] {
        let org = p.organizationId.idString
        let units = try await store.read { s in try await s.units(organization: org) }
            .filter { u in p.organizationWide || p.siteIds.contains { $0.idString == u.siteId } }
            .sorted { $0.name < $1.name }
        return [
            "from": fields["from"] ?? "", "to": fields["to"] ?? "", "actor": fields["actor"] ?? "",
            "unitOptions": units.map {
                ["value": $0.id, "label": $0.name, "selected": $0.id == fields["unit"]] as [String: Any]
            },
            "typeOptions": AuditEventType.allCases.map(\.rawValue).sorted().map {
                ["value": $0, "selected": $0 == fields["type"]] as [String: Any]
            },
            "formats": AuditExportFormat.allCases.map(\.rawValue),
        ]
    }

    /// A download of the filtered range: an export in one format, or a forensic bundle; audited once made.
    func download(_ call: PortalCall, bundle: Bool) async throws -> Response {
        let s = try session(call)
        let p = s.principal
        let fields = Dictionary(
            ["from", "to", "unit", "type", "actor"].map { ($0, call.form.first($0)) }, uniquingKeysWith: { a, _ in a })
        let f: AuditFilter
        let format: AuditExportFormat?
        do {
            f = try await filter(fields, p)
            format = bundle ? nil : AuditExportFormat(rawValue: call.form.first("format"))
            if !bundle && format == nil { throw DomainError.invalidRequest("Choose a format from the list.") }
        } catch DomainError.invalidRequest(let message) {
            var values = try await formValues(p, fields)
            values["error"] = message
            return pages.page(
                "audit", title: "Audit log", session: s, formToken: call.formToken, values, status: .badRequest)
        }
        let target = AuditLogID.organization(p.organizationId)
        try await log.sequence()
        let range = try await f.leaves(store, log: target)
        let body: Data
        let count: Int
        let name: String
        let type: String
        if let format {
            var text = format.header ?? ""
            var n = 0
            for try await batch in AuditPages.events(store, log: target, from: range.from, to: range.to) {
                for (index, e) in batch where f.matches(e) && Scope.covers(p, event: e) {
                    n += 1
                    if n > Self.exportLimit {
                        throw DomainError.invalidRequest(
                            "More than \(Self.exportLimit) events: choose a shorter range.")
                    }
                    text += format.line(e.exportRow(index: index))
                }
            }
            (body, count, name) = (
                Data(text.utf8), n, "cubby-audit.\(format.rawValue == "jsonl" ? "jsonl" : format.rawValue)"
            )
            type =
                format == .csv
                ? "text/csv; charset=utf-8" : format == .jsonl ? "application/jsonl" : "text/plain; charset=utf-8"
        } else {
            do {
                let built = try await ForensicBundleBuilder(log: log, store: store, keys: keys).build(
                    target, organization: nil, from: range.from, to: range.to, limit: Self.exportLimit,
                    include: { f.matches($0) && Scope.covers(p, event: $0) })
                (body, count, name, type) = (
                    try ForensicBundleBuilder.zip(built.bundle), built.events, "cubby-audit-bundle.zip",
                    "application/zip"
                )
            } catch let e as ForensicBundleBuilder.Failure {
                throw DomainError.invalidRequest(e.description.prefix(1).uppercased() + e.description.dropFirst() + ".")
            }
        }
        var detail = f.detail
        detail["format"] = format?.rawValue ?? "bundle"
        detail["events"] = String(count)
        let record = AuditRecord(
            occurredAt: Date(), event: .auditExported, outcome: .success, actor: StaffDesk.actor(s.account),
            organizationId: EntityID.uuid(p.organizationId.idString), detail: detail)
        try await store.write { st in try await st.appendAudit(record) }
        return Response(
            status: .ok,
            headers: [
                .contentType: type, .contentDisposition: "attachment; filename=\"\(name)\"",
                .cacheControl: "no-store",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
