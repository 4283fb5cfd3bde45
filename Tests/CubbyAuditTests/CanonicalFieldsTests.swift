import CubbyAudit
import CubbyCore
import Foundation
import Testing

@Suite("Reading an event's organization and type from its canonical bytes")
struct CanonicalFieldsTests {
    @Test("the fields read agree with a JSON decoder on real events")
    func agrees() throws {
        let org = UUID()
        let records = [
            AuditRecord(occurredAt: Date(), type: "parcel.deposited", actor: .system, organizationId: org),
            AuditRecord(
                occurredAt: Date(), type: "x.y", actor: Actor(kind: .device, id: "u", role: "device"),
                organizationId: org, trackingNumber: "1Z\"quoted\\",
                detail: ["org": "not-the-organization", "type": "nested", "note": "a,b}c{"]),
            AuditRecord(occurredAt: Date(), type: "log.heartbeat", actor: .system),
        ]
        for record in records {
            let bytes = Data(AuditCanonicalEncoding.encode(record))
            let fields = try #require(CanonicalFields.strings(bytes, ["type", "org"]))
            #expect(fields["type"] == record.type)
            #expect(fields["org"] == record.organizationId?.idString)
        }
    }

    @Test(
        "malformed bytes, and values that need unescaping, give nil",
        arguments: [
            "", "{", "[]", #"{"type":"a""#, #"{"type":"a",}"#, #"{"type":"a"} "#, #"{"type":"a\"b"}"#, #"{"type":1}"#,
            #"{type:"a"}"#,
        ])
    func refuses(_ text: String) {
        #expect(CanonicalFields.strings(Data(text.utf8), ["type"]) == nil)
    }

    @Test("members not asked for are skipped whatever they hold")
    func skips() {
        let text = #"{"a":{"b":["}",{"c":"\""}]},"n":-1.5e3,"t":true,"type":"ok","z":null}"#
        #expect(CanonicalFields.strings(Data(text.utf8), ["type"]) == ["type": "ok"])
        #expect(CanonicalFields.strings(Data("{}".utf8), ["type"]) == [:])
    }
}
