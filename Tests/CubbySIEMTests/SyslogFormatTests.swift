import CubbyAudit
import CubbyCore
import Foundation
import Testing

@testable import CubbySIEM

@Suite("Syslog messages (RFC 5424), CEF lines and OCSF records")
struct SyslogFormatTests {
    static let at = Date(millisecondsSince1970: 1_795_000_000_123)
    static let org = UUID(uuidString: "6f1c2a10-0000-4000-8000-000000000001")!
    static let unit = UUID(uuidString: "6f1c2a10-0000-4000-8000-0000000000aa")!
    static let compartment = UUID(uuidString: "6f1c2a10-0000-4000-8000-0000000000bb")!
    static let eventID = UUID(uuidString: "6f1c2a10-0000-4000-8000-0000000000ee")!

    static func record(
        _ type: AuditEventType, outcome: AuditOutcome = .success, actor: Actor = .system,
        unit: UUID? = nil, compartment: UUID? = nil, parcel: UUID? = nil, detail: [String: String] = [:]
    ) -> AuditRecord {
        AuditRecord(
            id: eventID, occurredAt: at, event: type, outcome: outcome, actor: actor, organizationId: org,
            unitId: unit, compartmentId: compartment, parcelId: parcel, detail: detail)
    }

    static func event(_ r: AuditRecord) throws -> SecurityEvent {
        let (kind, severity) = try #require(SecurityEventMapping.classify(r))
        return SecurityEvent(
            record: r, leafIndex: 41, logOrigin: "lockers.example/cubby/audit/\(org.idString)", kind: kind,
            severity: severity, siteName: "Elm St", unitName: "Lobby A", compartmentLabel: "B3")
    }

    @Test("the header: PRI from facility and severity, an RFC 3339 time, fields cut and cleaned, NILVALUE when empty")
    func header() {
        let m = SyslogMessage(
            severity: .critical, timestamp: Self.at, hostname: "lockers.example", procID: "4242", msgID: "unit.tamper",
            message: "hello")
        #expect(
            String(decoding: m.bytes, as: UTF8.self)
                == "<106>1 2026-11-18T11:06:40.123Z lockers.example cubby 4242 unit.tamper - hello")
        let odd = SyslogMessage(
            facility: 10, severity: .informational, timestamp: Self.at, hostname: "a b\tc", procID: "",
            msgID: String(repeating: "x", count: 40), message: "")
        #expect(
            String(decoding: odd.bytes, as: UTF8.self)
                == "<86>1 2026-11-18T11:06:40.123Z abc cubby - \(String(repeating: "x", count: 32)) -")
    }

    @Test("a message with non-ASCII text starts with the UTF-8 byte order mark; an ASCII one does not")
    func bom() {
        let plain = SyslogMessage(
            severity: .notice, timestamp: Self.at, hostname: "h", procID: "1", msgID: "m", message: "abc")
        #expect(!plain.bytes.contains(0xEF))
        let accented = SyslogMessage(
            severity: .notice, timestamp: Self.at, hostname: "h", procID: "1", msgID: "m", message: "Peña")
        let bytes = accented.bytes
        let prefix = Array("<109>1 2026-11-18T11:06:40.123Z h cubby 1 m - ".utf8)
        #expect(Array(bytes.prefix(prefix.count)) == prefix)
        #expect(Array(bytes.dropFirst(prefix.count).prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(String(decoding: bytes.dropFirst(prefix.count + 3), as: UTF8.self) == "Peña")
    }

    @Test("octet counting puts the length in bytes, not characters, before the message")
    func framing() {
        #expect(
            String(decoding: SyslogFraming.octetCounted(Array("<13>1 - - - - - -".utf8)), as: UTF8.self)
                == "17 <13>1 - - - - - -")
        #expect(SyslogFraming.octetCounted(Array("é".utf8)) == Array("2 ".utf8) + [0xC3, 0xA9])
    }

    @Test("CEF escapes | and \\ in the header, \\ = and line breaks in values")
    func cefEscaping() {
        #expect(CEFFormat.header("a|b\\c\nd") == "a\\|b\\\\c d")
        #expect(CEFFormat.value("x=1\\2\r\n|\r") == "x\\=1\\\\2\\n|\\r")
    }

    @Test("a tamper signal as a CEF line: severity 10, the leaf index and origin, the unit and compartment")
    func cefTamper() throws {
        let e = try Self.event(Self.record(.unitTamper, unit: Self.unit, compartment: Self.compartment))
        let line = CEFFormat.line(e, productVersion: "1.0")
        #expect(line.hasPrefix("CEF:0|Cubby|Cubby|1.0|unit.tamper|Tamper signal at a locker unit|10|rt=1795000000123 "))
        #expect(line.contains("externalId=\(Self.eventID.idString) cat=finding outcome=success"))
        #expect(line.contains("cs2Label=logOrigin cs2=lockers.example/cubby/audit/\(Self.org.idString)"))
        #expect(line.contains("cn1Label=leafIndex cn1=41"))
        #expect(line.contains("deviceExternalId=\(Self.unit.idString) dvchost=Lobby A"))
        #expect(line.contains("cs4=\(Self.compartment.idString) B3"))
        #expect(line.hasSuffix("msg=Tamper signal at a locker unit at site Elm St, unit Lobby A, compartment B3"))
    }

    @Test(
        "what is forwarded, and as which OCSF class and activity",
        arguments: [
            (AuditEventType.unitTamper, 2004, 1, 5), (.unitLockedDown, 2004, 1, 5), (.unitLockdownReleased, 2004, 3, 3),
            (.alertResolved, 2004, 3, 1), (.unitPinEntrySuspended, 2004, 1, 4), (.staffSignedIn, 3002, 1, 1),
            (.staffSignInFailed, 3002, 1, 3), (.staffSignedOut, 3002, 2, 1), (.staffStepUpFailed, 3002, 99, 3),
            (.staffInvited, 3001, 1, 2), (.staffRoleChanged, 3001, 7, 3), (.staffLocked, 3001, 9, 4),
            (.staffDeactivated, 3001, 5, 3), (.credentialRevoked, 3001, 6, 3),
        ])
    func classes(type: AuditEventType, classUID: Int, activity: Int, severity: Int) throws {
        let e = try Self.event(Self.record(type))
        let r = OCSFFormat.record(e, productVersion: "1.0")
        #expect(r["class_uid"] as? Int == classUID)
        #expect(r["activity_id"] as? Int == activity)
        #expect(r["type_uid"] as? Int == classUID * 100 + activity)
        #expect(r["severity_id"] as? Int == severity)
    }

    @Test("parcel traffic and a parcel's pickup codes stay out; an API credential goes")
    func notForwarded() {
        #expect(SecurityEventMapping.classify(Self.record(.parcelDeposited)) == nil)
        #expect(SecurityEventMapping.classify(Self.record(.doorOpened)) == nil)
        #expect(SecurityEventMapping.classify(Self.record(.credentialIssued, parcel: UUID())) == nil)
        #expect(SecurityEventMapping.classify(Self.record(.credentialIssued))?.0 == .accountChange(.create))
    }

    @Test("an OCSF record names its leaf, log and event, and never the address in the detail's other facts")
    func ocsfMetadata() throws {
        let actor = Actor(kind: .admin, id: "acct-1", role: "admin")
        let e = try Self.event(
            Self.record(
                .staffSignInFailed, outcome: .failure, actor: actor,
                detail: ["reason": "password", "address": "192.0.2.7"]))
        let r = OCSFFormat.record(e, productVersion: "1.0")
        let metadata = try #require(r["metadata"] as? [String: Any])
        #expect(metadata["sequence"] as? Int64 == 41)
        #expect(metadata["log_name"] as? String == "lockers.example/cubby/audit/\(Self.org.idString)")
        #expect(metadata["uid"] as? String == Self.eventID.idString)
        #expect(metadata["version"] as? String == "1.5.0")
        #expect(metadata["tenant_uid"] as? String == Self.org.idString)
        #expect(r["status_id"] as? Int == 2)
        #expect(r["status_detail"] as? String == "password")
        #expect((r["src_endpoint"] as? [String: String])?["ip"] == "192.0.2.7")
        #expect((r["user"] as? [String: String])?["uid"] == "acct-1")
        let unmapped = try #require(r["unmapped"] as? [String: Any])
        #expect(unmapped["detail_address"] == nil)
        #expect(unmapped["detail_reason"] as? String == "password")
    }

    @Test("an account change names the account it changed, not the administrator who changed it")
    func accountSubject() throws {
        let actor = Actor(kind: .admin, id: "acct-admin", role: "super_admin")
        let e = try Self.event(
            Self.record(
                .staffRoleChanged, actor: actor, detail: ["account": "acct-9", "from": "admin", "to": "auditor"]))
        let r = OCSFFormat.record(e, productVersion: "1.0")
        #expect((r["user"] as? [String: String])?["uid"] == "acct-9")
        #expect(((r["actor"] as? [String: Any])?["user"] as? [String: String])?["uid"] == "acct-admin")
        #expect(CEFFormat.line(e, productVersion: "1.0").contains("duid=acct-9"))
    }

    @Test("the JSON is one ASCII line with keys sorted; other characters are \\u escapes")
    func ocsfJSON() throws {
        var e = try Self.event(Self.record(.unitTamper, unit: Self.unit))
        e.unitName = "Peña 😀"
        let text = OCSFFormat.json(e, productVersion: "1.0")
        #expect(text.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(!text.contains("\n"))
        #expect(text.contains(#""name":"Pe\u00f1a \ud83d\ude00""#))
        let back = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(((back["resources"] as? [[String: Any]])?.first?["name"] as? String) == "Peña 😀")
        #expect(text.hasPrefix(#"{"activity_id":1,"activity_name":"Create""#))
    }
}
