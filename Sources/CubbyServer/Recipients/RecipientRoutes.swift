import CubbyAudit
import CubbyCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The recipient directory's routes: thin handlers that check input and call the `RecipientDesk`.
struct RecipientRoutes {
    let desk: RecipientDesk

    func register(on routes: inout GuardedRouter) {
        routes.api(.post, "/api/v1/recipients", .createRecipient) { req, ctx, p in try await create(req, ctx, p) }
        routes.api(.get, "/api/v1/recipients", .readRecipient) { req, _, p in try await search(req, p) }
        routes.api(.post, "/api/v1/recipients/import", .importRecipients) { req, ctx, p in
            try await importCSV(req, ctx, p)
        }
        routes.api(.get, "/api/v1/recipients/:recipientId", .readRecipient) { _, ctx, p in
            JSONResponse.make(Body(try await desk.get(p, id: try RequestValidation.pathID(ctx, "recipientId"))))
        }
        routes.api(.patch, "/api/v1/recipients/:recipientId", .updateRecipient) { req, ctx, p in
            try await update(req, ctx, p)
        }
        routes.api(.post, "/api/v1/recipients/:recipientId/deactivate", .deactivateRecipient) { _, ctx, p in
            JSONResponse.make(Body(try await desk.deactivate(p, id: try RequestValidation.pathID(ctx, "recipientId"))))
        }
    }

    /// How recipient errors answer.
    static func describe(_ e: RecipientError) -> (HTTPResponse.Status, String, String, HTTPFields) {
        switch e {
        case .deactivated(let m): (.conflict, "recipient_deactivated", m + "; nothing new is delivered to them", [:])
        case .exists(let field):
            (
                .conflict, "recipient_exists",
                "another recipient of the organization already has this \(field) (deactivated recipients keep theirs)",
                [:]
            )
        case .invalid(_, let m): (.badRequest, "invalid_request", m, [:])
        case .importTooLarge(let m): (.contentTooLarge, "import_too_large", m, [:])
        case .notCSV: (.unsupportedMediaType, "unsupported_media_type", "send the file as text/csv (UTF-8)", [:])
        case .invalidCSV(let m): (.badRequest, "invalid_csv", m, [:])
        case .preferenceRefused(let m): (.conflict, "parcel_ready_needs_channel", m, [:])
        }
    }

    // MARK: bodies

    /// A recipient as the API shows it to staff.
    struct Body: Encodable {
        var id, siteId: String
        var name, email, phone, apartment, externalId: String?
        var preferredLanguage: String
        var needsAccessible, active: Bool
        var createdAt, updatedAt: String
        var deactivatedAt: String?

        init(_ r: Recipient) {
            id = r.id
            siteId = r.siteId
            name = r.name
            email = r.email
            phone = r.phone
            apartment = r.apartment
            externalId = r.externalId
            preferredLanguage = r.preferredLanguage.rawValue
            needsAccessible = r.needsAccessible
            active = r.active
            createdAt = AuditCanonicalEncoding.timestamp(r.createdAt)
            updatedAt = AuditCanonicalEncoding.timestamp(r.updatedAt)
            deactivatedAt = r.deactivatedAt.map(AuditCanonicalEncoding.timestamp)
        }

        enum CodingKeys: String, CodingKey {
            case id, siteId, name, email, phone, apartment, externalId, preferredLanguage, needsAccessible, active
            case createdAt, updatedAt, deactivatedAt
        }

        /// Empty fields are sent as null, never left out.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(siteId, forKey: .siteId)
            try c.encode(name, forKey: .name)
            try c.encode(email, forKey: .email)
            try c.encode(phone, forKey: .phone)
            try c.encode(apartment, forKey: .apartment)
            try c.encode(externalId, forKey: .externalId)
            try c.encode(preferredLanguage, forKey: .preferredLanguage)
            try c.encode(needsAccessible, forKey: .needsAccessible)
            try c.encode(active, forKey: .active)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(updatedAt, forKey: .updatedAt)
            try c.encode(deactivatedAt, forKey: .deactivatedAt)
        }
    }

    struct PageBody: Encodable {
        var recipients: [Body]
        var nextCursor: String?

        enum CodingKeys: String, CodingKey { case recipients, nextCursor }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(recipients, forKey: .recipients)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
    }

    struct CreateRequest: Decodable {
        var siteId: String
        var name: String
        var email: String?
        var phone: String?
        var apartment: String?
        var externalId: String?
        var preferredLanguage: String?
        var needsAccessible: Bool?
        static let fields: Set<String> = [
            "siteId", "name", "email", "phone", "apartment", "externalId", "preferredLanguage", "needsAccessible",
        ]
    }

    /// A change: an absent field stays; `null` clears an optional one.
    struct PatchRequest: Decodable {
        var siteId: String?
        var name: String?
        var email: String??
        var phone: String??
        var apartment: String??
        var externalId: String??
        var preferredLanguage: String?
        var needsAccessible: Bool?
        static let fields = CreateRequest.fields

        enum CodingKeys: String, CodingKey {
            case siteId, name, email, phone, apartment, externalId, preferredLanguage, needsAccessible
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func clearable(_ key: CodingKeys) throws -> String?? {
                guard c.contains(key) else { return nil }
                if try c.decodeNil(forKey: key) { return .some(nil) }
                return .some(try c.decode(String.self, forKey: key))
            }
            // Fields that cannot be cleared: present means a value, and null is refused.
            func value<T: Decodable>(_ type: T.Type, _ key: CodingKeys) throws -> T? {
                c.contains(key) ? try c.decode(type, forKey: key) : nil
            }
            siteId = try value(String.self, .siteId)
            name = try value(String.self, .name)
            email = try clearable(.email)
            phone = try clearable(.phone)
            apartment = try clearable(.apartment)
            externalId = try clearable(.externalId)
            preferredLanguage = try value(String.self, .preferredLanguage)
            needsAccessible = try value(Bool.self, .needsAccessible)
        }
    }

    static func language(_ text: String) throws -> PreferredLanguage {
        guard let l = PreferredLanguage(rawValue: text) else {
            throw RecipientError.invalid(field: "preferredLanguage", "preferredLanguage must be en or es")
        }
        return l
    }

    // MARK: handlers

    func create(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let body = try await JSONBody.decode(CreateRequest.self, from: req, context: ctx, allowed: CreateRequest.fields)
        let draft = RecipientDraft(
            siteId: body.siteId, name: body.name, email: body.email, phone: body.phone, apartment: body.apartment,
            externalId: body.externalId, preferredLanguage: try body.preferredLanguage.map(Self.language) ?? .en,
            needsAccessible: body.needsAccessible ?? false)
        let r = try await desk.create(p, draft)
        return JSONResponse.make(Body(r), status: .created, headers: [.location: "/api/v1/recipients/\(r.id)"])
    }

    func update(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let id = try RequestValidation.pathID(ctx, "recipientId")
        let body = try await JSONBody.decode(PatchRequest.self, from: req, context: ctx, allowed: PatchRequest.fields)
        let patch = RecipientPatch(
            siteId: body.siteId, name: body.name, email: body.email, phone: body.phone, apartment: body.apartment,
            externalId: body.externalId, preferredLanguage: try body.preferredLanguage.map(Self.language),
            needsAccessible: body.needsAccessible)
        return JSONResponse.make(Body(try await desk.update(p, id: id, patch)))
    }

    static let searchParameters: Set<String> = ["email", "apartment", "externalId", "siteId", "limit", "cursor"]

    func search(_ req: Request, _ p: Principal) async throws -> Response {
        let query = req.uri.queryParameters
        for (key, _) in query where !Self.searchParameters.contains(String(key)) {
            throw APIError.invalidRequest(
                "unknown query parameter \(key); use email, apartment, externalId, siteId, limit, cursor")
        }
        let lookup = RecipientLookup.keys(
            email: query.get("email"), externalId: query.get("externalId"), apartment: query.get("apartment"))
        let limit = try RequestValidation.query(req, "limit", 50, 1...RecipientDesk.maxPageSize)
        let page = try await desk.search(
            p, lookup, siteId: query.get("siteId"), limit: limit, cursor: query.get("cursor"))
        return JSONResponse.make(PageBody(recipients: page.recipients.map(Body.init), nextCursor: page.nextCursor))
    }

    static let importParameters: Set<String> = ["siteId", "dryRun", "deactivateMissing"]

    func importCSV(_ req: Request, _ ctx: CubbyRequestContext, _ p: Principal) async throws -> Response {
        let query = req.uri.queryParameters
        for (key, _) in query where !Self.importParameters.contains(String(key)) {
            throw APIError.invalidRequest("unknown query parameter \(key); use siteId, dryRun, deactivateMissing")
        }
        guard let siteId = query.get("siteId") else { throw APIError.invalidRequest("missing query parameter siteId") }
        func flag(_ name: String) throws -> Bool {
            switch query.get(name) {
            case nil, "false": return false
            case "true": return true
            default: throw APIError.invalidRequest("\(name) must be true or false")
            }
        }
        let options = RecipientImportOptions(
            siteId: siteId, dryRun: try flag("dryRun"), deactivateMissing: try flag("deactivateMissing"))
        let media = req.headers[.contentType].map {
            $0.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
        guard media == "text/csv" else { throw RecipientError.notCSV }
        // The import has its own body limit, checked before the body is read when the length is announced.
        if let length = req.headers[.contentLength].flatMap(Int.init), length > RecipientImport.maxBytes {
            throw RecipientError.importTooLarge("the file is larger than \(RecipientImport.maxBytes) bytes")
        }
        var request = req
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: RecipientImport.maxBytes) } catch is NIOTooManyBytesError {
            throw RecipientError.importTooLarge("the file is larger than \(RecipientImport.maxBytes) bytes")
        }
        let report = try await desk.importCSV(p, csv: Array(buffer.readableBytesView), options: options)
        return JSONResponse.make(report, status: report.rejected > 0 ? .unprocessableContent : .ok)
    }
}
