import HTTPTypes
import Foundation
import Hummingbird
import Logging

/// The kiosk's outer layer: refuses forms sent from other sites, turns every failure into a page,
/// and puts the security headers on every response.
struct KioskShield: RouterMiddleware {
    typealias Context = BasicRequestContext

    let routes: KioskRoutes

    static let securityHeaders: [(HTTPField.Name, String)] = [
        // Scripts only from the kiosk itself (idle.js), never inline.
        (HTTPField.Name("Content-Security-Policy")!,
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        (.cacheControl, "no-store"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
    ]

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response: Response
        if request.method != .get && request.method != .head && Self.isForeign(request) {
            response = await page(request, title: \.refusedTitle, message: \.crossSite, status: .forbidden)
        } else {
            do {
                response = try await next(request, context)
            } catch let error as any HTTPResponseError where error.status == .notFound {
                if let allowed = KioskRoutes.allowedMethods[Self.normalised(request.uri.path)] {
                    response = await page(request, title: \.wrongMethodTitle, message: \.wrongMethod, status: .methodNotAllowed)
                    response.headers[.allow] = allowed
                } else {
                    response = await page(request, title: \.notFoundTitle, message: \.notFound, status: .notFound)
                }
            } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
                response = await page(request, title: \.failureTitle, message: \.formTooLarge, status: .contentTooLarge)
            } catch {
                routes.logger.error("kiosk request failed", metadata: ["error": "\(String(reflecting: error))"])
                response = await page(request, title: \.failureTitle, message: \.failure, status: .internalServerError)
            }
        }
        for (name, value) in Self.securityHeaders { response.headers[name] = value }
        return response
    }

    /// A form sent by another site or origin: the browser says so (`Sec-Fetch-Site`), or `Origin` names
    /// another origin than the one the request was sent to.
    ///
    /// Under `Referrer-Policy: no-referrer` the browser sends `Origin: null` even for the page's own forms,
    /// so "null" passes only together with `Sec-Fetch-Site: same-origin`.
    static func isForeign(_ request: Request) -> Bool {
        let site = request.headers[secFetchSite]?.lowercased()
        if site == "cross-site" || site == "same-site" { return true }
        guard let origin = request.headers[.origin]?.lowercased() else { return false }
        if origin == "null" { return site != "same-origin" }
        guard let authority = request.head.authority?.lowercased(), !authority.isEmpty else { return true }
        return origin != "http://\(authority)" && origin != "https://\(authority)"
    }

    static func normalised(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    func page(
        _ request: Request, title: KeyPath<KioskWording, String>, message: KeyPath<KioskWording, String>,
        status: HTTPResponse.Status
    ) async -> Response {
        let (language, _) = KioskRoutes.language(for: request)
        let w = language.wording
        let screen = KioskScreen(template: "message", title: w[keyPath: title], status: status, error: w[keyPath: message])
        return routes.pages.render(screen, language: language, unit: await routes.backend.status(), idleSeconds: routes.idleSeconds)
    }
}
