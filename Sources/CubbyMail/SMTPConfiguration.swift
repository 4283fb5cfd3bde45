import Foundation

/// How to reach the mail relay: `CUBBY_SMTP_URL`, `CUBBY_SMTP_FROM` and, for a relay with a private CA,
/// `CUBBY_SMTP_CA_FILE`.
///
/// `smtp://user:pass@host:port?tls=starttls|implicit|none`; user and password are percent-decoded; the port
/// defaults to 587 (starttls), 465 (implicit) or 25 (none); `tls` defaults to `starttls`.
public struct SMTPConfiguration: Sendable, Equatable {
    /// How the connection is protected.
    public enum Security: String, Sendable, CaseIterable {
        /// Plain TCP, upgraded with STARTTLS before anything else is sent (RFC 3207).
        case startTLS = "starttls"
        /// TLS from the first byte (RFC 8314).
        case implicitTLS = "implicit"
        /// No TLS at all: only for a relay on the same machine or network, and only when the URL says so.
        case none

        /// The port used when the URL names none.
        public var defaultPort: Int {
            switch self {
            case .startTLS: 587
            case .implicitTLS: 465
            case .none: 25
            }
        }
    }

    /// Host name or IP address of the relay.
    public var host: String
    public var port: Int
    public var security: Security
    /// User name for AUTH, percent-decoded; nil sends no AUTH.
    public var username: String?
    /// Password for AUTH, percent-decoded.
    public var password: String?
    /// The envelope sender and the From header.
    public var from: MailAddress
    /// A PEM file of the CA certificates to trust instead of the system's: for a relay with a private CA.
    public var caFile: String?
    /// The name this client gives in EHLO.
    public var clientName: String
    /// How long each step may take.
    public var timeouts: SMTPTimeouts

    /// A configuration from its parts, for callers that have them already parsed.
    public init(
        host: String, port: Int? = nil, security: Security = .startTLS, username: String? = nil,
        password: String? = nil, from: MailAddress, caFile: String? = nil, clientName: String = "localhost",
        timeouts: SMTPTimeouts = .standard
    ) {
        self.host = host
        self.port = port ?? security.defaultPort
        self.security = security
        self.username = username
        self.password = password
        self.from = from
        self.caFile = caFile
        self.clientName = clientName
        self.timeouts = timeouts
    }

    /// A configuration from the relay's URL and the sender address (`name@example.org` or `Name <name@…>`).
    public init(
        url: String, from: String, caFile: String? = nil, clientName: String = "localhost",
        timeouts: SMTPTimeouts = .standard
    ) throws(SMTPConfigurationError) {
        let parsed = try SMTPURL(url)
        let sender: MailAddress
        do { sender = try MailAddress(parsing: from) } catch {
            throw .invalidFrom("CUBBY_SMTP_FROM must be an address like Cubby <noreply@example.org>")
        }
        if let caFile, caFile.isEmpty { throw .invalidCAFile("CUBBY_SMTP_CA_FILE is empty") }
        self.init(
            host: parsed.host, port: parsed.port, security: parsed.security, username: parsed.username,
            password: parsed.password, from: sender, caFile: caFile, clientName: clientName, timeouts: timeouts)
    }

    /// The configuration the environment gives, or nil when `CUBBY_SMTP_URL` is not set (email is off).
    public init?(environment: [String: String]) throws(SMTPConfigurationError) {
        guard let url = environment["CUBBY_SMTP_URL"], !url.isEmpty else { return nil }
        guard let from = environment["CUBBY_SMTP_FROM"], !from.isEmpty else {
            throw .invalidFrom("CUBBY_SMTP_FROM must be set when CUBBY_SMTP_URL is")
        }
        try self.init(url: url, from: from, caFile: environment["CUBBY_SMTP_CA_FILE"])
    }
}

/// How long each step of an SMTP conversation may take before the attempt counts as failed (transient).
///
/// Shorter than RFC 5321 §4.5.3.2 suggests for a mail queue: a notification that waits is retried by the outbox.
public struct SMTPTimeouts: Sendable, Equatable {
    /// Opening the TCP connection.
    public var connect: Duration
    /// The greeting, each command's reply, and the TLS handshake.
    public var command: Duration
    /// Sending the message body and reading the reply to its final dot.
    public var data: Duration

    public init(connect: Duration, command: Duration, data: Duration) {
        self.connect = connect
        self.command = command
        self.data = data
    }

    /// 10 s to connect, 30 s a command, 60 s for the message.
    public static let standard = SMTPTimeouts(connect: .seconds(10), command: .seconds(30), data: .seconds(60))
}

/// Why the mail settings are refused; each message names the setting.
public enum SMTPConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidURL(String)
    case invalidFrom(String)
    case invalidCAFile(String)

    public var description: String {
        switch self {
        case .invalidURL(let why), .invalidFrom(let why), .invalidCAFile(let why): why
        }
    }
}

/// The parts of `smtp://user:pass@host:port?tls=…`.
struct SMTPURL: Equatable {
    var host: String
    var port: Int
    var security: SMTPConfiguration.Security
    var username: String?
    var password: String?

    init(_ text: String) throws(SMTPConfigurationError) {
        func bad(_ why: String) -> SMTPConfigurationError {
            .invalidURL("CUBBY_SMTP_URL \(why); expected smtp://user:pass@host:port?tls=starttls|implicit|none")
        }
        guard !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) else {
            throw bad("holds spaces, control or non-ASCII characters (percent-encode them)")
        }
        let scheme = "smtp://"
        guard text.lowercased().hasPrefix(scheme) else { throw bad("must start with smtp://") }
        var rest = Substring(text.dropFirst(scheme.count))

        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("#") else { throw bad("has a path or fragment") }

        var hostPort = rest
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            hostPort = rest[rest.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else { throw bad("names a user without a password") }
            guard let user = Self.percentDecoded(userInfo[..<colon]),
                let pass = Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
            else { throw bad("has a malformed percent-encoding in the user or password") }
            guard !user.isEmpty, !pass.isEmpty else { throw bad("has an empty user or password") }
            guard !user.unicodeScalars.contains(where: { $0.value == 0 }),
                !pass.unicodeScalars.contains(where: { $0.value == 0 })
            else { throw bad("has a NUL in the user or password") }
            username = user
            password = pass
        }

        var security = SMTPConfiguration.Security.startTLS
        if !query.isEmpty {
            for item in query.split(separator: "&", omittingEmptySubsequences: false) {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2, pair[0] == "tls" else { throw bad("has an unknown parameter \(item)") }
                guard let value = SMTPConfiguration.Security(rawValue: pair[1].lowercased()) else {
                    throw bad("has tls=\(pair[1]), which is none of starttls, implicit, none")
                }
                security = value
            }
        }
        self.security = security

        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw bad("has an unclosed [ in the host") }
            let address = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            guard address.contains(":"), address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw bad("has a malformed IPv6 address")
            }
            host = address
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad("has text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else {
            if let colon = hostPort.lastIndex(of: ":") {
                portText = hostPort[hostPort.index(after: colon)...]
                hostPort = hostPort[..<colon]
            }
            let name = String(hostPort)
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            guard !name.isEmpty, name.count <= 253,
                labels.allSatisfy({ label in
                    !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                        && label.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
                })
            else { throw bad("has no valid host name") }
            host = name
        }
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                let number = Int(portText), (1...65_535).contains(number)
            else { throw bad("has a port that is not a number 1–65535") }
            port = number
        } else {
            port = security.defaultPort
        }
    }

    /// `%XX` sequences decoded as UTF-8; nil when a `%` is not followed by two hex digits or the bytes are not UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
