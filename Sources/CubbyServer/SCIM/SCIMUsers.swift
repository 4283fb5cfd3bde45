import CubbyCore
import CubbyStore
import Foundation

/// A recipient as a SCIM User, and the SCIM operations on recipients: every change goes through the recipient
/// directory (`RecipientDesk`), which checks the fields, keeps emails and external ids unique and audits the
/// change with the scim credential as its actor.
struct SCIMUsers: Sendable {
    let desk: RecipientDesk
    /// The absolute address of `/scim/v2` as clients reach it.
    let base: String
    /// Where the setup is documented.
    let documentation: String

    /// The attributes PATCH reaches: the declared ones, `externalId`, and `name`, read only when a request
    /// carries no `displayName`.
    static let patchable: [SCIMAttribute] =
        SCIMDiscovery.userAttributes + [
            SCIMAttribute(name: "externalId", type: .string, description: "", caseExact: true),
            SCIMAttribute(
                name: "name", type: .complex, description: "",
                subAttributes: [
                    "formatted", "givenName", "familyName", "middleName", "honorificPrefix", "honorificSuffix",
                ]
                .map { SCIMAttribute(name: $0, type: .string, description: "") }),
        ]

    static let engine = SCIMPatchEngine(attributes: patchable, schema: SCIMSchemas.user)

    func location(_ id: String) -> String { "\(base)/Users/\(id)" }

    /// The recipient desk acts for a scim credential as an administrator of the credential's one site; the
    /// audit log names the credential.
    static func deskPrincipal(_ p: Principal) -> Principal {
        Principal(role: .admin, credentialId: p.credentialId, organizationId: p.organizationId, siteIds: p.siteIds)
    }

    // MARK: documents

    func render(_ r: Recipient) -> [String: SCIMJSON] {
        var doc: [String: SCIMJSON] = [
            "schemas": .array([.string(SCIMSchemas.user)]), "id": .string(r.id), "active": .bool(r.active),
            "preferredLanguage": .string(r.preferredLanguage.rawValue),
            "meta": .object([
                "resourceType": .string("User"), "location": .string(location(r.id)),
                "created": .string(Self.timestamp(r.createdAt)), "lastModified": .string(Self.timestamp(r.updatedAt)),
            ]),
        ]
        if let email = r.email {
            doc["userName"] = .string(email)
            doc["emails"] = .array([
                .object(["value": .string(email), "type": .string("work"), "primary": .bool(true)])
            ])
        }
        if let name = r.name { doc["displayName"] = .string(name) }
        if let phone = r.phone {
            doc["phoneNumbers"] = .array([.object(["value": .string(phone), "type": .string("mobile")])])
        }
        if let externalId = r.externalId { doc["externalId"] = .string(externalId) }
        return doc
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// What a User document asks for, in the desk's terms.
    struct Fields: Equatable {
        var email: String
        var name: String
        var phone: String?
        var language: PreferredLanguage
        var externalId: String?
        var active: Bool
    }

    /// Reads a whole User (POST, PUT, or the result of a PATCH). Attributes not declared are ignored, and so are
    /// read-only ones (`id`, `meta`, `emails`).
    static func fields(_ doc: [String: SCIMJSON]) throws(SCIMError) -> Fields {
        func string(_ key: String, _ value: SCIMJSON?) throws(SCIMError) -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let s)?: return s.isEmpty ? nil : s
            default: throw SCIMError.invalidValue("\(key) must be a string")
            }
        }
        guard let email = try string("userName", doc.attribute("userName")) else {
            throw SCIMError.invalidValue("userName (the recipient's email address) is required")
        }
        var name = try string("displayName", doc.attribute("displayName"))
        if name == nil, let n = doc.attribute("name") {
            guard let o = n.objectValue else { throw SCIMError.invalidValue("name must be an object") }
            name = try string("name.formatted", o.attribute("formatted"))
            if name == nil {
                var parts: [String] = []
                for k in ["givenName", "middleName", "familyName"] {
                    if let part = try string("name.\(k)", o.attribute(k)) { parts.append(part) }
                }
                name = parts.isEmpty ? nil : parts.joined(separator: " ")
            }
        }
        guard let name else { throw SCIMError.invalidValue("displayName (the recipient's name) is required") }
        var phone: String? = nil
        switch doc.attribute("phoneNumbers") {
        case nil, .null?: break
        case .array(let items)?:
            var numbers: [(type: String?, value: String)] = []
            for item in items {
                guard let o = item.objectValue else { throw SCIMError.invalidValue("phoneNumbers must hold objects") }
                if let v = try string("phoneNumbers.value", o.attribute("value")) {
                    numbers.append((try string("phoneNumbers.type", o.attribute("type"))?.lowercased(), v))
                }
            }
            phone = (numbers.first { $0.type == "mobile" } ?? numbers.first)?.value
        default: throw SCIMError.invalidValue("phoneNumbers must be an array")
        }
        // RFC 3966 form (`tel:+1-201-555-0123`) is the same number.
        if let p = phone, p.lowercased().hasPrefix("tel:") { phone = String(p.dropFirst(4)) }
        var language = PreferredLanguage.en
        if let text = try string("preferredLanguage", doc.attribute("preferredLanguage")) {
            guard let l = PreferredLanguage(naming: text) else {
                throw SCIMError.invalidValue(
                    "preferredLanguage must be one of \(PreferredLanguage.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            language = l
        }
        var active = true
        if let a = doc.attribute("active"), a != .null {
            guard let b = a.lenientBool else { throw SCIMError.invalidValue("active must be true or false") }
            active = b
        }
        return Fields(
            email: email, name: name, phone: phone, language: language,
            externalId: try string("externalId", doc.attribute("externalId")), active: active)
    }

    /// A POST or PUT body: a User of the core schema.
    static func userDocument(_ body: SCIMJSON) throws(SCIMError) -> [String: SCIMJSON] {
        guard let doc = body.objectValue else { throw SCIMError.invalidSyntax("the body must be a User object") }
        let schemas = doc.attribute("schemas")?.arrayValue?.compactMap(\.stringValue) ?? []
        guard schemas.contains(where: { $0.lowercased() == SCIMSchemas.user.lowercased() }) else {
            throw SCIMError.invalidValue("schemas must list \(SCIMSchemas.user)")
        }
        // Attributes written with the schema's URN as a prefix, or inside an object named by it, are the same.
        var out: [String: SCIMJSON] = [:]
        for (key, value) in doc {
            if key.lowercased() == SCIMSchemas.user.lowercased(), let inner = value.objectValue {
                out.merge(inner) { $1 }
            } else if key.lowercased().hasPrefix(SCIMSchemas.user.lowercased() + ":") {
                out[String(key.dropFirst(SCIMSchemas.user.count + 1))] = value
            } else {
                out[key] = value
            }
        }
        return out
    }

    // MARK: operations

    func create(_ p: Principal, _ body: SCIMJSON) async throws -> Recipient {
        let f = try Self.fields(try Self.userDocument(body))
        guard let site = p.siteIds.first, p.siteIds.count == 1 else {
            throw SCIMError(403, nil, "The credential is not bound to one site")
        }
        let d = Self.deskPrincipal(p)
        var created = try await mapped {
            try await desk.create(
                d,
                RecipientDraft(
                    siteId: site.idString, name: f.name, email: f.email, phone: f.phone, externalId: f.externalId,
                    preferredLanguage: f.language), actor: p.actor)
        }
        if !f.active {
            let id = created.id
            created = try await mapped { try await desk.deactivate(d, id: id, actor: p.actor) }
        }
        return created
    }

    /// The user, if it is active and in the credential's site.
    func get(_ p: Principal, _ id: String) async throws -> Recipient {
        let r = try await mapped { try await desk.get(Self.deskPrincipal(p), id: id) }
        guard r.active else { throw SCIMError.notFound }
        return r
    }

    func replace(_ p: Principal, _ id: String, _ body: SCIMJSON) async throws -> Recipient {
        let f = try Self.fields(try Self.userDocument(body))
        _ = try await get(p, id)
        return try await apply(p, id, f)
    }

    func patch(_ p: Principal, _ id: String, _ body: SCIMJSON) async throws -> Recipient {
        let current = try await get(p, id)
        let patched = try Self.engine.apply(message: body, to: render(current))
        return try await apply(p, id, try Self.fields(patched))
    }

    /// Writes the fields that differ, then deactivates when `active` became false.
    func apply(_ p: Principal, _ id: String, _ f: Fields) async throws -> Recipient {
        let d = Self.deskPrincipal(p)
        var r = try await mapped {
            try await desk.update(
                d, id: id,
                RecipientPatch(
                    name: f.name, email: .some(f.email), phone: .some(f.phone), externalId: .some(f.externalId),
                    preferredLanguage: f.language), actor: p.actor)
        }
        if !f.active { r = try await mapped { try await desk.deactivate(d, id: id, actor: p.actor) } }
        return r
    }

    /// DELETE deactivates: the recipient's live pickups stay valid, SCIM no longer shows them.
    func delete(_ p: Principal, _ id: String) async throws {
        _ = try await get(p, id)
        _ = try await mapped { try await desk.deactivate(Self.deskPrincipal(p), id: id, actor: p.actor) }
    }

    /// The active users matching `filter`, one page of them, and how many match in all.
    func list(_ p: Principal, filter: SCIMFilter?, startIndex: Int, count: Int) async throws -> (Int, [Recipient]) {
        let d = Self.deskPrincipal(p)
        guard let filter else {
            return try await mapped { try await desk.activePage(d, offset: startIndex - 1, limit: count) }
        }
        // One equality on an indexed attribute finds the candidates; the whole filter is checked on each.
        var candidates: [Recipient]? = nil
        for term in filter.conjuncts {
            guard case .compare(let path, .eq, .string(let value)) = term,
                path.schema == nil || path.schema?.lowercased() == SCIMSchemas.user.lowercased()
            else { continue }
            switch (path.name.lowercased(), path.subAttribute?.lowercased()) {
            case ("id", nil):
                candidates = []
                if let id = EntityID.parse(value), let r = try? await get(p, id) { candidates = [r] }
            case ("username", nil), ("emails", nil), ("emails", "value"):
                candidates = try await lookup { try await desk.find(d, email: value) }
            case ("externalid", nil):
                candidates = try await lookup { try await desk.find(d, externalId: value) }
            default: continue
            }
            break
        }
        guard let candidates else {
            throw SCIMError.invalidFilter(
                "Filters must include an eq comparison of userName, externalId or id (joined with and)")
        }
        var matching: [Recipient] = []
        for r in candidates where r.active {
            if try filter.matches(render(r)) { matching.append(r) }
        }
        let page = Array(matching.dropFirst(startIndex - 1).prefix(count))
        return (matching.count, page)
    }

    /// A lookup by a value that may not be one the desk accepts (a malformed email finds nobody).
    private func lookup(_ body: () async throws -> Recipient?) async throws -> [Recipient] {
        do { return try await body().map { [$0] } ?? [] } catch is RecipientError { return [] }
    }

    /// The desk's refusals in SCIM's terms.
    private func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as RecipientError {
            switch e {
            case .exists(let field):
                throw SCIMError.uniqueness(
                    "Another recipient of the organization already has this \(field == "email" ? "userName" : field)")
            case .invalid(let field, let message):
                let names = ["email": "userName", "name": "displayName", "phone": "phoneNumbers"]
                throw SCIMError.invalidValue("\(names[field] ?? field): \(message)")
            case .deactivated: throw SCIMError.notFound
            default: throw SCIMError.invalidValue("\(e)")
            }
        } catch let e as DomainError {
            if case .notFound = e { throw SCIMError.notFound }
            throw e
        }
    }
}
