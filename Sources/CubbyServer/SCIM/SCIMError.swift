import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error answered in the SCIM error schema (RFC 7644 §3.12): `status` as a string, `scimType` where one applies.
public struct SCIMError: Error, Equatable, Sendable {
    /// The `scimType` values of RFC 7644 §3.12 that this server uses.
    public enum Kind: String, Sendable {
        case invalidFilter, tooMany, uniqueness, mutability, invalidSyntax, invalidPath, noTarget, invalidValue
        case invalidVers, sensitive
    }

    public var status: Int
    public var scimType: Kind?
    public var detail: String

    public init(_ status: Int, _ scimType: Kind? = nil, _ detail: String) {
        self.status = status
        self.scimType = scimType
        self.detail = detail
    }

    public static func invalidFilter(_ detail: String) -> SCIMError { SCIMError(400, .invalidFilter, detail) }
    public static func invalidPath(_ detail: String) -> SCIMError { SCIMError(400, .invalidPath, detail) }
    public static func invalidValue(_ detail: String) -> SCIMError { SCIMError(400, .invalidValue, detail) }
    public static func invalidSyntax(_ detail: String) -> SCIMError { SCIMError(400, .invalidSyntax, detail) }
    public static func noTarget(_ detail: String) -> SCIMError { SCIMError(400, .noTarget, detail) }
    public static func mutability(_ detail: String) -> SCIMError { SCIMError(400, .mutability, detail) }
    public static func uniqueness(_ detail: String) -> SCIMError { SCIMError(409, .uniqueness, detail) }
    public static let notFound = SCIMError(404, nil, "Resource not found")

    /// The error's document.
    public var document: SCIMJSON {
        var body: [String: SCIMJSON] = [
            "schemas": .array([.string(SCIMSchemas.error)]), "status": .string(String(status)),
            "detail": .string(detail),
        ]
        if let scimType { body["scimType"] = .string(scimType.rawValue) }
        return .object(body)
    }
}

/// SCIM responses: `application/scim+json`, never cached.
enum SCIMResponse {
    static let mediaType = "application/scim+json"

    static func make(
        _ document: SCIMJSON, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) -> Response {
        var fields = headers
        fields[.contentType] = "\(mediaType); charset=utf-8"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: document.data)))
    }

    static func error(_ e: SCIMError, headers: HTTPFields = [:]) -> Response {
        make(e.document, status: HTTPResponse.Status(code: e.status), headers: headers)
    }
}
