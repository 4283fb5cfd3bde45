import CubbyAudit
import Foundation

/// Syslog severities (RFC 5424 §6.2.1), 0 the most severe.
public enum SyslogSeverity: Int, Sendable, CaseIterable {
    case emergency = 0
    case alert, critical, error, warning, notice, informational, debug
}

/// One syslog message in the format of RFC 5424 §6:
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG`.
///
/// Header fields are printable US-ASCII without spaces and cut to their RFC lengths; an empty one is the NILVALUE
/// `-`. No structured data is sent (`-`): everything a receiver needs is in the message, a CEF line or an OCSF JSON
/// object. A message that is all ASCII is sent as it is; one that is not starts with the UTF-8 byte order mark, as
/// §6.4 asks.
public struct SyslogMessage: Sendable, Equatable {
    /// Facility 13, "log audit" (§6.2.1): the records of a verifiable audit log.
    public static let logAuditFacility = 13

    public var facility: Int
    public var severity: SyslogSeverity
    public var timestamp: Date
    public var hostname: String
    public var appName: String
    public var procID: String
    public var msgID: String
    public var message: String

    public init(
        facility: Int = SyslogMessage.logAuditFacility, severity: SyslogSeverity, timestamp: Date, hostname: String,
        appName: String = "cubby", procID: String, msgID: String, message: String
    ) {
        self.facility = facility
        self.severity = severity
        self.timestamp = timestamp
        self.hostname = hostname
        self.appName = appName
        self.procID = procID
        self.msgID = msgID
        self.message = message
    }

    /// PRI: facility × 8 + severity (§6.2.1).
    public var priority: Int { facility * 8 + severity.rawValue }

    /// The message's bytes, without any transport framing.
    public var bytes: [UInt8] {
        var head = "<\(priority)>1 "
        head += AuditCanonicalEncoding.timestamp(timestamp) + " "
        head += Self.field(hostname, max: 255) + " "
        head += Self.field(appName, max: 48) + " "
        head += Self.field(procID, max: 128) + " "
        head += Self.field(msgID, max: 32) + " "
        head += "-"
        var out = Array(head.utf8)
        guard !message.isEmpty else { return out }
        out.append(0x20)
        let body = Array(message.utf8)
        if body.contains(where: { $0 >= 0x80 }) { out += [0xEF, 0xBB, 0xBF] }
        return out + body
    }

    /// A header field: printable ASCII (33–126) only, other characters dropped, at most `max` characters; `-` when
    /// nothing is left.
    static func field(_ text: String, max: Int) -> String {
        let kept = text.unicodeScalars.filter { $0.value >= 33 && $0.value <= 126 }.prefix(max)
        return kept.isEmpty ? "-" : String(String.UnicodeScalarView(kept))
    }
}

/// How messages are framed on a stream: octet counting, `MSG-LEN SP SYSLOG-MSG` (RFC 5425 §4.3 for TLS, RFC 6587
/// §3.4.1 for TCP). A datagram (RFC 5426) carries one message and no framing.
public enum SyslogFraming {
    public static func octetCounted(_ message: [UInt8]) -> [UInt8] {
        Array("\(message.count) ".utf8) + message
    }
}
