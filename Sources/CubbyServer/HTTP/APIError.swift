import CubbyCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// Errors of the HTTP layer itself (before the domain is reached).
public enum APIError: Error, Equatable {
    case unauthorized
    case forbidden
    /// The action needs a person with a fresh second factor, which an API credential cannot give.
    case stepUpRequired(String)
    case invalidJSON(String)
    case invalidRequest(String)
    case payloadTooLarge(Int)
    case unsupportedMediaType
    /// Too many failed attempts from one address (unit enrollment): `429` with `Retry-After`.
    case tooManyAttempts(retryAfterSeconds: Int, String)
}

/// The error body every 4xx and 5xx carries.
struct ErrorBody: Codable {
    var error: String
    var message: String
}

/// The one place where errors become HTTP answers: `{"error": code, "message": text}`.
struct ErrorMapping<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let (status, code, message, headers) = Self.describe(error)
            if status == .internalServerError {
                logger.error(
                    "request failed",
                    metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            }
            // SCIM clients read errors in the SCIM error schema (RFC 7644 §3.12), whatever raised them.
            if request.uri.path.hasPrefix(SCIMRoutes.prefix + "/") || request.uri.path == SCIMRoutes.prefix {
                let scimType = (error as? SCIMError)?.scimType ?? (status == .badRequest ? .invalidSyntax : nil)
                return SCIMResponse.error(SCIMError(Int(status.code), scimType, message), headers: headers)
            }
            return JSONResponse.make(ErrorBody(error: code, message: message), status: status, headers: headers)
        }
    }

    static func describe(_ error: any Error) -> (HTTPResponse.Status, String, String, HTTPFields) {
        switch error {
        case let e as DomainError:
            switch e {
            case .notFound(let m): return (.notFound, "not_found", m, [:])
            case .unitFull: return (.conflict, "unit_full", "no free compartment at this unit fits the parcel", [:])
            case .unitLockedDown:
                return (
                    .conflict, "unit_locked_down",
                    "the unit is locked down after a tamper signal; no door opens there until staff release it", [:]
                )
            case .invalidState(let m): return (.conflict, "invalid_state", m, [:])
            case .duplicateParcel:
                return (
                    .conflict, "duplicate_parcel",
                    "a live parcel with this tracking number already exists for the carrier", [:]
                )
            case .invalidCode: return (.forbidden, "invalid_code", "the code is not valid", [:])
            case .lockedOut(let seconds, let reason):
                let message =
                    reason == .suspended
                    ? "PIN entry at this unit is suspended; QR codes still work"
                    : "too many failed codes; PIN entry at this unit is locked for \(seconds) s; QR codes still work"
                return (.tooManyRequests, "locked_out", message, [.retryAfter: String(seconds)])
            case .invalidRequest(let m): return (.badRequest, "invalid_request", m, [:])
            case .forbidden(let m): return (.forbidden, "forbidden", m, [:])
            }
        case let e as ProvisioningError:
            return (.conflict, e.code, e.message, [:])
        case let e as RecipientError: return RecipientRoutes.describe(e)
        case let e as DeliveryError: return (.conflict, e.code, e.message, [:])
        case let e as ParcelChangeError: return (.conflict, e.code, ParcelRoutes.message(e), [:])
        case let e as APIError:
            switch e {
            case .unauthorized:
                return (
                    .unauthorized, "unauthorized", "a valid bearer credential is required", [.wwwAuthenticate: "Bearer"]
                )
            case .forbidden: return (.forbidden, "forbidden", "this credential may not perform this operation", [:])
            case .stepUpRequired(let m): return (.forbidden, "step_up_required", m, [:])
            case .invalidJSON(let m): return (.badRequest, "invalid_json", m, [:])
            case .invalidRequest(let m): return (.badRequest, "invalid_request", m, [:])
            case .payloadTooLarge(let n):
                return (.contentTooLarge, "payload_too_large", "the request body exceeds \(n) bytes", [:])
            case .unsupportedMediaType:
                return (.unsupportedMediaType, "unsupported_media_type", "send the body as application/json", [:])
            case .tooManyAttempts(let seconds, let m):
                return (.tooManyRequests, "too_many_attempts", m, [.retryAfter: String(seconds)])
            }
        case let e as HTTPError:
            switch e.status {
            case .notFound: return (.notFound, "not_found", "no such resource", [:])
            case .methodNotAllowed:
                return (.methodNotAllowed, "method_not_allowed", "method not allowed on this resource", e.headers)
            case .contentTooLarge: return (.contentTooLarge, "payload_too_large", "the request body is too large", [:])
            default:
                if e.status.code < 500 { return (e.status, "invalid_request", e.body ?? e.status.reasonPhrase, [:]) }
            }
        case let e as SCIMError:
            return (HTTPResponse.Status(code: e.status), e.scimType?.rawValue ?? "scim_error", e.detail, [:])
        case is NIOTooManyBytesError:
            return (.contentTooLarge, "payload_too_large", "the request body is too large", [:])
        case is HTTPParserError:
            // The body broke HTTP's own framing (a chunk size that is not hex, say) while it was being read.
            return (.badRequest, "malformed_request", "the request is not well-formed HTTP/1.1", [.connection: "close"])
        default: break
        }
        return (.internalServerError, "internal", "internal error", [:])
    }
}

/// JSON responses with the project's encoding (ISO dates are strings already).
enum JSONResponse {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response
    {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        let data = (try? encoder.encode(value)) ?? Data("{\"error\":\"internal\",\"message\":\"encoding failed\"}".utf8)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
