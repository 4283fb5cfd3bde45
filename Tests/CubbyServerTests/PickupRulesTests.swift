import CubbyCore
import CubbyCrypto
import CubbyDemo
import CubbyDevices
import CubbyEdge
import CubbyKiosk
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import Testing

/// One table of presented codes, run through both places that check them: the server's pickup route and the
/// unit's own controller (offline, from the state the server sends it). Both must agree on every row.
@Suite("Pickup-code rules: the server and the unit decide alike")
struct PickupRulesTests {
    /// What the recipient was sent for one parcel.
    struct Issued: Sendable {
        var pin: String
        var qr: String
        var keys: LockerKeys
        var otherUnit: String
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var opens: Bool
        var code: @Sendable (Issued) throws -> String
        var testDescription: String { name }
    }

    /// Re-signs the parcel's QR claims after `change`, with the server's own key.
    static func resigned(_ issued: Issued, _ change: (inout QRTokenClaims) -> Void) throws -> String {
        var claims = try #require(issued.keys.qr.verify(issued.qr))
        change(&claims)
        return try issued.keys.qr.issue(claims)
    }

    static let rows: [Row] = [
        Row(name: "the PIN as sent", opens: true) { $0.pin },
        Row(name: "the PIN typed in groups with spaces and dashes", opens: true) { i in
            let p = Array(i.pin)
            return String(p[0..<3]) + " " + String(p[3..<6]) + "-" + String(p[6...])
        },
        Row(name: "the PIN with whitespace and a line break around it", opens: true) { " \t" + $0.pin + "\n" },
        Row(name: "the PIN missing its last digit", opens: false) { String($0.pin.dropLast()) },
        Row(name: "the PIN with one digit more", opens: false) { $0.pin + "7" },
        Row(name: "the PIN with its last digit changed", opens: false) { i in
            String(i.pin.dropLast()) + (i.pin.last == "0" ? "1" : "0")
        },
        Row(name: "the PIN in Arabic-Indic digits", opens: false) { i in
            String(i.pin.unicodeScalars.map { Character(UnicodeScalar(0x0660 + ($0.value - 0x30))!) })
        },
        Row(name: "the PIN in full-width digits", opens: false) { i in
            String(i.pin.unicodeScalars.map { Character(UnicodeScalar(0xFF10 + ($0.value - 0x30))!) })
        },
        Row(name: "the PIN with a letter in place of a digit", opens: false) { "A" + String($0.pin.dropFirst()) },
        Row(name: "an empty code", opens: false) { _ in "" },
        Row(name: "the QR token as sent", opens: true) { $0.qr },
        Row(name: "the QR token with whitespace around it", opens: true) { "  " + $0.qr + "\n" },
        Row(name: "the QR token with its signature altered", opens: false) { i in
            let last = i.qr.last == "A" ? "B" : "A"
            return String(i.qr.dropLast()) + last
        },
        Row(name: "the QR token without its signature", opens: false) { i in
            String(i.qr[..<i.qr.lastIndex(of: ".")!])
        },
        Row(name: "a validly signed QR token for another unit", opens: false) { i in
            try resigned(i) { $0.u = UUID(uuidString: i.otherUnit)! }
        },
        Row(name: "a validly signed QR token that has expired", opens: false) { i in
            try resigned(i) {
                $0 = QRTokenClaims(
                    parcel: $0.p, unit: $0.u, compartment: $0.c, expiresAt: Date().addingTimeInterval(-60), nonce: $0.n)
            }
        },
        Row(name: "a validly signed QR token with another nonce", opens: false) { i in
            try resigned(i) { $0.n = Base64URL.encode(SecretGenerator.bytes(16)) }
        },
        Row(name: "a validly signed QR token naming another compartment", opens: false) { i in
            try resigned(i) { $0.c = UUID() }
        },
    ]

    /// Many free failures, so the rows' rejections never lock PIN entry on either side.
    static let policy = PinEntryPolicy(pinLength: 10, freeFailures: 1000, dailyFailureBudget: 100_000)

    @Test("one table of codes, the same answer at the server and at the unit", arguments: rows)
    func bothSidesAgree(_ row: Row) async throws {
        try await TestWorld.with(.sqlite, policy: Self.policy, start: Date()) { w in
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: w.manifest.courierToken,
                    json: #"{"trackingNumber":"RULE1","recipientId":"\#(w.manifest.recipients[0].id)","size":"S"}"#)
                #expect(r.status == 201)
            }
            try await w.settle()
            let note = try #require(try w.notifications().last)
            let issued = Issued(
                pin: try #require(note["pin"]), qr: try #require(note["qr"]), keys: w.parts.keys,
                otherUnit: w.manifest.units[1].id)
            let code = try row.code(issued)

            // At the unit: its controller checks the code by itself, from the state the server sends it.
            let journal = try await EdgeJournal.open(path: w.dir + "/journal.sqlite", logger: TestWorld.logger)
            let bus = SimulatedLockBus(boards: 2, closeAfter: .milliseconds(50))
            let controller = LockerController(
                journal: journal, bus: bus, camera: SimulatedCamera(unitName: "Lobby A"), logger: TestWorld.logger)
            try await controller.start(uplink: nil, sensors: nil)
            await controller.apply(state: try await w.parts.edges.state(unitId: w.unit))
            let atUnit = await controller.pickup(code: code, method: .pin)
            await controller.stop()
            await journal.close()
            #expect(atUnit.isOpened == row.opens, "at the unit: \(atUnit)")

            // At the server: the kiosk's pickup route, at the wall-clock time the unit checked the code at (a
            // loaded machine can take longer than a token's margin between the world's start and this check).
            w.catchUpWithWallClock()
            let body = String(decoding: try JSONEncoder().encode(["code": code]), as: UTF8.self)
            let atServer = try await w.test { c in
                try await c.call(.post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: body)
            }
            if row.opens {
                #expect(atServer.status == 200, "at the server: \(atServer.status) \(atServer.body)")
            } else {
                // An empty code is refused as bad input before any check; every other refusal is the same 403.
                #expect(
                    atServer.status == (code.isEmpty ? 400 : 403), "at the server: \(atServer.status) \(atServer.body)")
            }
        }
    }

    @Test("a code is read the same way on both sides: QR by its prefix, PINs without spaces and dashes")
    func presentedCodes() {
        #expect(PresentedCode(" 123 456-7890\n") == .pin("1234567890"))
        #expect(PresentedCode("cby1.abc.def ") == .qr("cby1.abc.def"))
        #expect(PresentedCode("cby1.abc.def").method == "qr")
        #expect(PresentedCode("12").method == "pin")
        let rules = PickupCodeRules(pinLength: 4)
        #expect(rules.isWellFormedPIN("0123"))
        #expect(!rules.isWellFormedPIN("012"))
        #expect(!rules.isWellFormedPIN("01234"))
        #expect(!rules.isWellFormedPIN("٠١٢٣"))
        #expect(!rules.isWellFormedPIN("01a3"))
    }
}
