import HTTPTypes

/// The host names a local server answers to: its listen host, `localhost`, `127.0.0.1` and `[::1]`, and
/// any names it is configured with. A request naming any other host in `Host` is refused (421), whatever
/// address it reached: a page whose name an attacker has pointed at this address (DNS rebinding) must not
/// be served, nor its forms accepted.
public struct LocalHostNames: Sendable, Equatable {
    /// Lowercased names, IPv6 addresses in brackets.
    public let names: Set<String>

    public init(listenHost: String, extra: [String] = []) {
        var names: Set<String> = ["localhost", "127.0.0.1", "[::1]"]
        for name in [listenHost] + extra where !name.isEmpty {
            let lower = name.lowercased()
            names.insert(lower.contains(":") && !lower.hasPrefix("[") ? "[\(lower)]" : lower)
        }
        self.names = names
    }

    /// Whether `authority` (a `Host` header) names one of the names, with no port or with `port`.
    public func accepts(_ authority: String?, port: Int?) -> Bool {
        guard let authority, let (name, given) = Self.split(authority.lowercased()) else { return false }
        guard names.contains(name) else { return false }
        guard let given else { return true }
        return port == nil || given == port
    }

    /// `name` and `port` of an authority; nil when it is not one.
    static func split(_ authority: String) -> (name: String, port: Int?)? {
        let name: Substring
        let rest: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            name = authority[...close]
            rest = authority[authority.index(after: close)...]
        } else if let colon = authority.firstIndex(of: ":") {
            name = authority[..<colon]
            rest = authority[colon...]
        } else {
            name = Substring(authority)
            rest = ""
        }
        guard !name.isEmpty else { return nil }
        if rest.isEmpty { return (String(name), nil) }
        let digits = rest.dropFirst()
        guard rest.first == ":", !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(digits), (0...65535).contains(port)
        else { return nil }
        return (String(name), port)
    }
}

extension LocalRequest {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// A request sent by another site or origin: the browser says so (`Sec-Fetch-Site`), or `Origin` names
    /// another origin than the one the request was sent to (`Host`).
    ///
    /// Under `Referrer-Policy: no-referrer` the browser sends `Origin: null` even for the page's own forms,
    /// so "null" passes only together with `Sec-Fetch-Site: same-origin`. A request without either header
    /// (curl, a script) is not a browser's cross-site request.
    public var isCrossSite: Bool {
        let site = headers[Self.secFetchSite]?.lowercased()
        if site == "cross-site" || site == "same-site" { return true }
        guard let origin = headers[.origin]?.lowercased() else { return false }
        if origin == "null" { return site != "same-origin" }
        guard let authority = authority?.lowercased(), !authority.isEmpty else { return true }
        return origin != "http://\(authority)" && origin != "https://\(authority)"
    }
}
