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

    /// A form sent by another site or origin (`LocalRequest.isCrossSite`).
    static func isForeign(_ request: LocalRequest) -> Bool { request.isCrossSite }

    static func normalised(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }
}
