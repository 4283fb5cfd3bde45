/// A step of the SMTP conversation, named in errors and logs.
public enum SMTPStep: String, Sendable, Equatable {
    case connect, greeting, ehlo
    case startTLS = "starttls"
    case auth
    case mailFrom = "mail-from"
    case rcptTo = "rcpt-to"
    case data, message, quit
}

/// Why a message was not handed to the relay, and whether trying again later can help.
///
/// `isPermanent` is what the outbox needs: a permanent failure (a 5xx reply: a bad address, a refused sender,
/// wrong credentials; or settings the relay cannot work with) goes to the dead letters, a transient one (a 4xx
/// reply, a network fault, a timeout, a TLS failure) is retried.
public enum SMTPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The relay answered `code` at `step`; `message` is its reply text.
    case rejected(step: SMTPStep, code: Int, message: String)
    /// The connection could not be opened, or broke.
    case connection(step: SMTPStep, String)
    /// The relay did not answer within the step's time.
    case timeout(step: SMTPStep)
    /// The TLS handshake failed or the relay's certificate was not trusted.
    case tls(String)
    /// The URL asks for STARTTLS and the relay does not offer it: nothing, least of all the password, is sent in
    /// the clear. Transient, since a relay's offer can be stripped on the way by an attacker for a while.
    case startTLSUnavailable
    /// Credentials are set and the relay offers neither AUTH PLAIN nor AUTH LOGIN.
    case authenticationUnavailable(offered: [String])
    /// The relay broke the protocol (a malformed reply, bytes after the STARTTLS reply).
    case protocolViolation(String)
    /// The message itself cannot be sent (an address the client refuses).
    case invalidMessage(String)

    /// True when sending the same message again cannot succeed without a change of address or settings.
    public var isPermanent: Bool {
        switch self {
        case .rejected(_, let code, _): code >= 500
        case .connection, .timeout, .tls, .startTLSUnavailable, .protocolViolation: false
        case .authenticationUnavailable, .invalidMessage: true
        }
    }

    /// The reply code, when the relay gave one.
    public var replyCode: Int? {
        if case .rejected(_, let code, _) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .rejected(let step, let code, let message): "the relay answered \(code) to \(step.rawValue): \(message)"
        case .connection(let step, let why): "connection failed at \(step.rawValue): \(why)"
        case .timeout(let step): "the relay did not answer in time at \(step.rawValue)"
        case .tls(let why): "TLS failed: \(why)"
        case .startTLSUnavailable: "the relay does not offer STARTTLS; nothing was sent in the clear"
        case .authenticationUnavailable(let offered):
            "the relay offers no AUTH mechanism this client has (PLAIN, LOGIN); it offers \(offered)"
        case .protocolViolation(let why): "the relay broke the SMTP protocol: \(why)"
        case .invalidMessage(let why): "the message cannot be sent: \(why)"
        }
    }
}

/// One reply of the relay: a three-digit code and its text lines (RFC 5321 §4.2).
public struct SMTPReply: Sendable, Equatable {
    public var code: Int
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// 2xx.
    public var isPositive: Bool { (200..<300).contains(code) }

    /// The text lines joined with spaces, shortened for errors and logs.
    public var text: String { String(lines.joined(separator: " ").prefix(300)) }
}

/// Splits the relay's bytes into replies: `250-first` lines continue a reply, `250 last` (or `250`) ends it.
struct SMTPReplyParser {
    /// A reply line longer than this is a broken or hostile relay (RFC 5321 §4.5.3.1.5 allows 512).
    static let maxLineLength = 4_096
    /// A reply of more lines than this likewise.
    static let maxLines = 200

    private var pending: [UInt8] = []
    private var lines: [String] = []
    private var code: Int?

    /// Whether bytes are waiting that end no reply yet.
    var isEmpty: Bool { pending.isEmpty && lines.isEmpty }

    mutating func append(_ bytes: some Sequence<UInt8>) { pending.append(contentsOf: bytes) }

    /// The next whole reply in the bytes received, if there is one.
    mutating func next() throws(SMTPError) -> SMTPReply? {
        while let newline = pending.firstIndex(of: 0x0A) {
            var line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            if line.last == 0x0D { line.removeLast() }
            guard line.count <= Self.maxLineLength else { throw .protocolViolation("a reply line is too long") }
            guard line.count >= 3, line[0...2].allSatisfy({ (0x30...0x39).contains($0) }),
                (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(line[0]),
                line.count == 3 || line[3] == UInt8(ascii: " ") || line[3] == UInt8(ascii: "-")
            else { throw .protocolViolation("a reply line does not start with a code: \(Self.printable(line))") }
            let lineCode = Int(String(decoding: line[0...2], as: UTF8.self))!
            if let code, code != lineCode {
                throw .protocolViolation("a multi-line reply changes its code from \(code) to \(lineCode)")
            }
            code = lineCode
            lines.append(line.count > 4 ? Self.printable(line[4...]) : "")
            guard lines.count <= Self.maxLines else { throw .protocolViolation("a reply has too many lines") }
            if line.count == 3 || line[3] == UInt8(ascii: " ") {
                let reply = SMTPReply(code: lineCode, lines: lines)
                lines = []
                code = nil
                return reply
            }
        }
        guard pending.count <= Self.maxLineLength else { throw .protocolViolation("a reply line is too long") }
        return nil
    }

    /// The bytes as text with anything but printable ASCII replaced, for errors and logs.
    static func printable(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.prefix(300).map { (0x20..<0x7F).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }
}
