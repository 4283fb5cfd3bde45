import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// A submitted form: `application/x-www-form-urlencoded`, or `multipart/form-data` on the routes that take a file.
public struct PortalForm: Sendable {
    var values: [String: [String]] = [:]
    /// Uploaded files by field name (multipart forms only): the file's name as sent, and its bytes.
    var files: [String: (filename: String, bytes: [UInt8])] = [:]

    /// The uploaded file of a field, if one with content was sent.
    public func file(_ name: String) -> (filename: String, bytes: [UInt8])? {
        files[name].flatMap { $0.bytes.isEmpty && $0.filename.isEmpty ? nil : $0 }
    }

    public static let maxBytes = 16 * 1024

    /// The first value of a field, or "" when absent.
    public func first(_ name: String) -> String { values[name]?.first ?? "" }
    /// Every value of a field (checkbox groups).
    public func all(_ name: String) -> [String] { values[name] ?? [] }

    public static func parse(_ text: String) throws -> PortalForm {
        var form = PortalForm()
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) throws -> String {
                guard let v = s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw PortalRefusal.badForm
                }
                return v
            }
            let key = try decode(kv[0])
            let value = kv.count > 1 ? try decode(kv[1]) : ""
            form.values[key, default: []].append(value)
        }
        return form
    }
}

/// What a portal handler gets besides the request.
public struct PortalCall: Sendable {
    /// The signed-in staff member, if any.
    public let session: StaffSession?
    /// The signed-in resident, if any.
    public let resident: ResidentSession?
    public let form: PortalForm
    /// The anti-forgery token to put in every form of the page.
    public let formToken: String
    public let address: String
}

/// Refusals of the portal's own layer (before a flow is reached).
enum PortalRefusal: Error {
    /// The anti-forgery token is missing or wrong, or the request came from another site.
    case forgery
    /// A step-up action arrived without a fresh TOTP code.
    case stepUpRequired
    case badForm
    case forbidden
    /// A single-use form came a second time (a reload or a double click).
    case resubmitted
}

/// The portal's half of the policy layer: sessions from cookies, anti-forgery tokens on every form,
/// the role check, step-up, security headers, and errors rendered as pages.
struct PortalGate: Sendable {
    let staff: StaffDesk
    let residents: ResidentDesk
    let pages: PortalPages
    let secureCookies: Bool
    let logger: Logger

    static let sessionCookie = "cubby_session"
    static let preCookie = "cubby_pre"
    static let residentCookie = "cubby_resident"

    func cookie(_ name: String, _ value: String, clear: Bool = false) -> String {
        let path = name == Self.sessionCookie ? "/admin" : name == Self.residentCookie ? "/me" : "/"
        var c = "\(name)=\(value); Path=\(path); HttpOnly; SameSite=Strict"
        if clear { c += "; Max-Age=0" }
        if secureCookies { c += "; Secure" }
        return c
    }

    /// `upload`: the largest `multipart/form-data` body the route takes (nil: forms without files only).
    func handle(
        _ req: Request, _ ctx: CubbyRequestContext, action: Action?, upload: Int? = nil,
        _ handler: @Sendable (Request, CubbyRequestContext, PortalCall) async throws -> Response
    ) async throws -> Response {
        var session: StaffSession? = nil
        if let token = req.cookies[Self.sessionCookie]?.value { session = try await staff.session(token: token) }
        var resident: ResidentSession? = nil
        if let token = req.cookies[Self.residentCookie]?.value { resident = try await residents.session(token: token) }
        var setCookies: [String] = []
        var pre = req.cookies[Self.preCookie]?.value ?? ""
        // Only a value the server made is kept: a planted one would make the pre-sign-in form token predictable.
        if session == nil && resident == nil && !staff.keys.isPreSignInToken(pre) {
            pre = staff.keys.preSignInToken()
            setCookies.append(cookie(Self.preCookie, pre))
        }
        let formToken =
            session.map { staff.keys.formToken("s:" + $0.token) }
            ?? resident.map { staff.keys.formToken("r:" + $0.token) } ?? staff.keys.formToken("p:" + pre)
        let principal = session?.principal ?? resident?.principal
        var response: Response
        do {
            var form = PortalForm()
            if req.method == .post {
                if req.headers[HTTPField.Name("Sec-Fetch-Site")!] == "cross-site" { throw PortalRefusal.forgery }
                let type = req.headers[.contentType] ?? ""
                if type.lowercased().hasPrefix("application/x-www-form-urlencoded") {
                    let body = try await req.body.collect(upTo: PortalForm.maxBytes)
                    form = try PortalForm.parse(String(buffer: body))
                } else if let upload, let boundary = MultipartForm.boundary(type) {
                    let body = try await req.body.collect(upTo: upload)
                    form = try MultipartForm.parse(Array(body.readableBytesView), boundary: boundary)
                } else {
                    throw PortalRefusal.badForm
                }
                guard KeyedHasher.constantTimeEquals(Array(form.first("csrf").utf8), Array(formToken.utf8)) else {
                    throw PortalRefusal.forgery
                }
            }
            if let action {
                guard let principal else {
                    return decorate(
                        redirect(req.uri.path.hasPrefix("/me") ? "/me/sign-in" : "/admin/sign-in"), setCookies)
                }
                guard AccessPolicy.allows(principal.role, action) else { throw PortalRefusal.forbidden }
                if action.needsStepUp, let session, !staff.isSteppedUp(session) {
                    let code = form.first("code")
                    guard !code.isEmpty else { throw PortalRefusal.stepUpRequired }
                    try await staff.stepUp(session, code: code)
                }
                if action.isSingleUseForm {
                    let once = form.first("once")
                    guard (16...64).contains(once.utf8.count) else { throw PortalRefusal.badForm }
                    let hash = Data(staff.keys.hasher.hash("cubby.form-once.v1", once))
                    let at = staff.clock.now().millisecondsSince1970
                    guard try await staff.store.write({ s in try await s.claimFormSubmission(hash: hash, at: at) })
                    else {
                        throw PortalRefusal.resubmitted
                    }
                }
            }
            response = try await handler(
                req, ctx,
                PortalCall(
                    session: session, resident: resident, form: form, formToken: formToken, address: ctx.remoteAddress))
        } catch {
            response = errorPage(error, session: session, formToken: formToken)
        }
        return decorate(response, setCookies)
    }

    func redirect(_ location: String, cookies: [String] = []) -> Response {
        var r = Response(status: .seeOther, headers: [.location: location])
        for c in cookies { r.headers.append(HTTPField(name: .setCookie, value: c)) }
        return r
    }

    func decorate(_ response: Response, _ cookies: [String]) -> Response {
        var r = response
        for c in cookies { r.headers.append(HTTPField(name: .setCookie, value: c)) }
        r.headers[.cacheControl] = "no-store"
        r.headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        r.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        r.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        r.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return r
    }

    func errorPage(_ error: any Error, session: StaffSession?, formToken: String) -> Response {
        let (status, title, message): (HTTPResponse.Status, String, String)
        var headers: HTTPFields = [:]
        switch error {
        case PortalRefusal.forgery:
            (status, title, message) = (
                .forbidden, "Form expired", "This form could not be accepted. Go back, reload the page and try again."
            )
        case PortalRefusal.stepUpRequired:
            (status, title, message) = (
                .forbidden, "Code needed",
                "This action needs a fresh code from your authenticator. Go back and enter the code it shows now."
            )
        case PortalRefusal.resubmitted:
            (status, title, message) = (
                .conflict, "Already done",
                "This form was already sent once; nothing was done again. Open the page anew to do it again."
            )
        case PortalRefusal.badForm:
            (status, title, message) = (
                .badRequest, "Form not readable", "The form could not be read. Go back and try again."
            )
        case PortalRefusal.forbidden, DomainError.forbidden:
            (status, title, message) = (.forbidden, "Not allowed", "Your role does not allow this.")
        case let e as StaffError:
            if case .tooManyAttempts(let wait) = e { headers[.retryAfter] = String(wait) }
            let code: HTTPResponse.Status =
                switch e {
                case .tooManyAttempts: .tooManyRequests
                case .grant: .forbidden
                case .sessionEnded: .unauthorized
                default: .badRequest
                }
            (status, title, message) = (code, "Not done", e.message)
        case DomainError.notFound:
            (status, title, message) = (.notFound, "Not found", "There is no such page or item.")
        case DomainError.invalidRequest(let m):
            (status, title, message) = (.badRequest, "Not done", m)
        case let e as DeliveryError:
            (status, title, message) = (
                .conflict, "Not done", e.message.prefix(1).uppercased() + e.message.dropFirst() + "."
            )
        case let e as ParcelChangeError:
            let m = ParcelRoutes.message(e)
            (status, title, message) = (.conflict, "Not done", m.prefix(1).uppercased() + m.dropFirst() + ".")
        case let e as ProvisioningError:
            (status, title, message) = (
                .conflict, "Not done", e.message.prefix(1).uppercased() + e.message.dropFirst() + "."
            )
        case DomainError.invalidState(let m):
            (status, title, message) = (.conflict, "Not done", m.prefix(1).uppercased() + m.dropFirst() + ".")
        case let e as HTTPError where e.status == .contentTooLarge:
            (status, title, message) = (.contentTooLarge, "Too large", "The form is too large.")
        case is NIOTooManyBytesError:
            (status, title, message) = (.contentTooLarge, "Too large", "The form is too large.")
        default:
            logger.error("portal request failed", metadata: ["error": "\(String(reflecting: error))"])
            (status, title, message) = (
                .internalServerError, "Something went wrong", "The request could not be completed. Try again later."
            )
        }
        var r = pages.page(
            "message", title: title, session: session, formToken: formToken, ["message": message], status: status)
        for h in headers { r.headers.append(h) }
        return r
    }
}
