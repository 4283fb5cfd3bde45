import CubbyCore
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a webhook may be sent: `https` to a public address. With `allowPrivate` (tests, closed networks) plain
/// `http` to a loopback host and any address are allowed too.
public struct WebhookAddressRules: Sendable {
    public var allowPrivate: Bool

    public init(allowPrivate: Bool) { self.allowPrivate = allowPrivate }

    /// The longest URL a subscription may have.
    public static let maxLength = 2048

    /// The checked URL of a subscription, or `invalidRequest` saying what is wrong. Names are resolved only when
    /// sending (`resolvedAddressesArePublic`); an address written as an IP literal is checked here already.
    public func check(_ text: String) throws -> URL {
        func refuse(_ why: String) -> DomainError { .invalidRequest("url " + why) }
        guard text.utf8.count <= Self.maxLength else { throw refuse("is longer than \(Self.maxLength) characters") }
        guard let comps = URLComponents(string: text), let scheme = comps.scheme?.lowercased(),
            let host = comps.host, !host.isEmpty, let url = comps.url
        else { throw refuse("must be an absolute https:// address") }
        guard comps.user == nil && comps.password == nil else { throw refuse("must not carry a user name or password") }
        guard comps.fragment == nil else { throw refuse("must not have a fragment") }
        if let port = comps.port, !(1...65535).contains(port) { throw refuse("has an invalid port") }
        let bare = Self.bareHost(host)
        switch scheme {
        case "https": break
        case "http":
            guard allowPrivate, Self.isLoopbackName(bare) else {
                throw refuse("must use https (http only to a loopback host when private addresses are allowed)")
            }
        default: throw refuse("must be an absolute https:// address")
        }
        if !allowPrivate {
            if Self.isLoopbackName(bare) || bare.hasSuffix(".localhost") || bare.hasSuffix(".local") {
                throw refuse("must name a public host")
            }
            if let literal = IPAddress(bare), !literal.isPublic { throw refuse("must name a public address") }
        }
        return url
    }

    /// Whether every address `host` resolves to is public (always true with `allowPrivate`); throws when it does not
    /// resolve. Checked before each attempt, so that a name that later points inside the network is refused.
    public func resolvedAddressesArePublic(_ host: String) async throws -> Bool {
        if allowPrivate { return true }
        let addresses = try await Self.resolve(Self.bareHost(host))
        return !addresses.isEmpty && addresses.allSatisfy(\.isPublic)
    }

    static func bareHost(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h.hasSuffix(".") { h = String(h.dropLast()) }
        return h
    }

    static func isLoopbackName(_ host: String) -> Bool {
        host == "localhost" || IPAddress(host)?.isLoopback == true
    }

    /// The addresses a name resolves to (getaddrinfo, off the cooperative threads).
    static func resolve(_ host: String) async throws -> [IPAddress] {
        if let literal = IPAddress(host) { return [literal] }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                #if canImport(Glibc)
                    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                #else
                    hints.ai_socktype = SOCK_STREAM
                #endif
                var result: UnsafeMutablePointer<addrinfo>? = nil
                let status = getaddrinfo(host, nil, &hints, &result)
                guard status == 0, let first = result else {
                    continuation.resume(throwing: WebhookDeliveryError.unresolvable(host))
                    return
                }
                defer { freeaddrinfo(first) }
                var out: [IPAddress] = []
                var cursor: UnsafeMutablePointer<addrinfo>? = first
                while let ai = cursor {
                    if let sa = ai.pointee.ai_addr {
                        if ai.pointee.ai_family == AF_INET {
                            sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                                let raw = p.pointee.sin_addr.s_addr.bigEndian
                                out.append(
                                    .v4([
                                        UInt8(raw >> 24), UInt8((raw >> 16) & 0xFF), UInt8((raw >> 8) & 0xFF),
                                        UInt8(raw & 0xFF),
                                    ]))
                            }
                        } else if ai.pointee.ai_family == AF_INET6 {
                            sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                                var addr = p.pointee.sin6_addr
                                out.append(.v6(withUnsafeBytes(of: &addr) { Array($0) }))
                            }
                        }
                    }
                    cursor = ai.pointee.ai_next
                }
                continuation.resume(returning: out)
            }
        }
    }
}

/// An IPv4 or IPv6 address and whether it is reachable on the public internet.
public enum IPAddress: Sendable, Equatable {
    case v4([UInt8])
    case v6([UInt8])

    /// Parses a literal address (no brackets).
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let raw = v4.s_addr.bigEndian
            self = .v4([UInt8(raw >> 24), UInt8((raw >> 16) & 0xFF), UInt8((raw >> 8) & 0xFF), UInt8(raw & 0xFF)])
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    public var isLoopback: Bool {
        switch self {
        case .v4(let b): b[0] == 127
        case .v6(let b): b == Array(repeating: 0, count: 15) + [1] || (embeddedV4?.isLoopback ?? false)
        }
    }

    /// An IPv4 address carried inside an IPv6 one (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`).
    var embeddedV4: IPAddress? {
        guard case .v6(let b) = self else { return nil }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return .v4(Array(b[12...])) }
        if b[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return .v4(Array(b[12...])) }
        return nil
    }

    /// False for loopback, private, shared, link-local, documentation, benchmarking, multicast, reserved and
    /// unspecified addresses (RFC 6890 and the IANA special-purpose registries).
    public var isPublic: Bool {
        switch self {
        case .v4(let b):
            let (a, c) = (b[0], b[1])
            if a == 0 || a == 10 || a == 127 || a >= 224 { return false }
            if a == 100 && (c & 0xC0) == 64 { return false }  // 100.64.0.0/10 shared address space
            if a == 169 && c == 254 { return false }
            if a == 172 && (c & 0xF0) == 16 { return false }
            if a == 192 && c == 168 { return false }
            if a == 192 && c == 0 && (b[2] == 0 || b[2] == 2) { return false }
            if a == 198 && (c & 0xFE) == 18 { return false }
            if a == 198 && c == 51 && b[2] == 100 { return false }
            if a == 203 && c == 0 && b[2] == 113 { return false }
            return true
        case .v6(let b):
            if let v4 = embeddedV4 { return v4.isPublic }
            if b.allSatisfy({ $0 == 0 }) || isLoopback { return false }
            if (b[0] & 0xFE) == 0xFC { return false }  // fc00::/7 unique local
            if b[0] == 0xFE && (b[1] & 0xC0) == 0x80 { return false }  // fe80::/10 link-local
            if b[0] == 0xFE && (b[1] & 0xC0) == 0xC0 { return false }  // fec0::/10 site-local (deprecated)
            if b[0] == 0xFF { return false }  // multicast
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return false }  // documentation
            if b[0] == 0x01 && b[1...7].allSatisfy({ $0 == 0 }) { return false }  // 100::/64 discard
            if b[0..<12].allSatisfy({ $0 == 0 }) { return false }  // IPv4-compatible (deprecated)
            return (b[0] & 0xE0) == 0x20  // global unicast 2000::/3
        }
    }
}

/// Why a webhook attempt could not be made.
public enum WebhookDeliveryError: Error, CustomStringConvertible {
    case unresolvable(String)
    public var description: String {
        switch self {
        case .unresolvable(let host): "\(host) does not resolve"
        }
    }
}
