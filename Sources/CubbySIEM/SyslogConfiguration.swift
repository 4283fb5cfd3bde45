import Foundation

/// Where security events go: `CUBBY_SYSLOG_URL` and, for a receiver with a private CA, `CUBBY_SYSLOG_CA_FILE`.
///
/// `tls://host:6514?format=cef|ocsf` (RFC 5425, the default port 6514), `tcp://host:601` (RFC 6587, octet counting,
/// in the clear) or `udp://host:514` (RFC 5426, in the clear, no delivery guarantee). `format` defaults to `ocsf`.
public struct SyslogConfiguration: Sendable, Equatable {
    public enum Transport: String, Sendable, CaseIterable {
        case tls, tcp, udp

        public var defaultPort: Int {
            switch self {
            case .tls: 6514
            case .tcp: 601
            case .udp: 514
            }
        }
    }

    public enum Format: String, Sendable, CaseIterable {
        case cef, ocsf
    }

    public var transport: Transport
    public var host: String
    public var port: Int
    public var format: Format
    /// A PEM file of the CA certificates to trust instead of the system's.
    public var caFile: String?

    public init(transport: Transport, host: String, port: Int? = nil, format: Format = .ocsf, caFile: String? = nil) {
        self.transport = transport
        self.host = host
        self.port = port ?? transport.defaultPort
        self.format = format
        self.caFile = caFile
    }

    /// Parses the URL; the error names what is wrong without repeating the whole URL.
    public init(url text: String, caFile: String? = nil) throws(SyslogError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            let transport = Transport(rawValue: scheme)
        else { throw .configuration("CUBBY_SYSLOG_URL must start with tls://, tcp:// or udp://") }
        guard let host = url.host, !host.isEmpty else { throw .configuration("CUBBY_SYSLOG_URL names no host") }
        guard url.user == nil, url.password == nil else {
            throw .configuration("CUBBY_SYSLOG_URL takes no user or password")
        }
        guard url.path.isEmpty || url.path == "/" else { throw .configuration("CUBBY_SYSLOG_URL takes no path") }
        if let port = url.port, !(1...65535).contains(port) {
            throw .configuration("CUBBY_SYSLOG_URL's port must be 1 to 65535")
        }
        var format = Format.ocsf
        for item in url.queryItems ?? [] {
            guard item.name == "format", let value = item.value, let f = Format(rawValue: value.lowercased()) else {
                throw .configuration("CUBBY_SYSLOG_URL takes only format=cef or format=ocsf")
            }
            format = f
        }
        if caFile != nil, transport != .tls {
            throw .configuration("CUBBY_SYSLOG_CA_FILE is for tls:// only")
        }
        // An IPv6 literal comes back in brackets.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.init(transport: transport, host: bare, port: url.port, format: format, caFile: caFile)
    }

    /// The configuration the environment asks for, or nil when `CUBBY_SYSLOG_URL` is unset or empty.
    public static func fromEnvironment(_ env: [String: String]) throws(SyslogError) -> SyslogConfiguration? {
        guard let url = env["CUBBY_SYSLOG_URL"], !url.isEmpty else {
            if env["CUBBY_SYSLOG_CA_FILE"].map({ !$0.isEmpty }) == true {
                throw .configuration("CUBBY_SYSLOG_CA_FILE is set but CUBBY_SYSLOG_URL is not")
            }
            return nil
        }
        let ca = env["CUBBY_SYSLOG_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        return try SyslogConfiguration(url: url, caFile: ca)
    }
}

/// Why events could not be sent.
public enum SyslogError: Error, Sendable, Equatable, CustomStringConvertible {
    case configuration(String)
    case connection(String)
    case tls(String)
    case timeout

    public var description: String {
        switch self {
        case .configuration(let m): m
        case .connection(let m): "cannot reach the syslog receiver: \(m)"
        case .tls(let m): "TLS with the syslog receiver failed: \(m)"
        case .timeout: "the syslog receiver did not take the records in time"
        }
    }
}
