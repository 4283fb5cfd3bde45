import HTTPTypes

/// The kiosk's outer layer: refuses forms sent from other sites and names the security headers every
/// response carries (`KioskRoutes.respond(to:)` applies both).
enum KioskShield {
    static let securityHeaders: [(HTTPField.Name, String)] = [
        // Scripts only from the kiosk itself (idle.js), never inline.
        (
            HTTPField.Name("Content-Security-Policy")!,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        (.cacheControl, "no-store"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
    ]

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// A form sent by another site or origin: the browser says so (`Sec-Fetch-Site`), or `Origin` names
    /// another origin than the one the request was sent to.
    ///
    /// Under `Referrer-Policy: no-referrer` the browser sends `Origin: null` even for the page's own forms,
    /// so "null" passes only together with `Sec-Fetch-Site: same-origin`.
    static func isForeign(_ request: LocalRequest) -> Bool {
        let site = request.headers[secFetchSite]?.lowercased()
        if site == "cross-site" || site == "same-site" { return true }
        guard let origin = request.headers[.origin]?.lowercased() else { return false }
        if origin == "null" { return site != "same-origin" }
        guard let authority = request.authority?.lowercased(), !authority.isEmpty else { return true }
        return origin != "http://\(authority)" && origin != "https://\(authority)"
    }

    static func normalised(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }
}
