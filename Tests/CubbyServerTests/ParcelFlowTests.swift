import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Parcel flows over the API")
struct ParcelFlowTests {
    static func dropoffBody(_ tracking: String, _ recipient: String, _ size: String = "M") -> String {
        #"{"trackingNumber":"\#(tracking)","recipientId":"\#(recipient)","size":"\#(size)"}"#
    }

    @Test("drop-off → deposit → notification → PIN pickup; the PIN dies after use", arguments: Backend.available)
    func dropoffToPickup(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let recipient = m.recipients[0].id
            let parcelId = try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: Self.dropoffBody("1Z0001", recipient))
                #expect(r.status == 201)
                #expect(r.body.str("state") == "reserved")
                #expect(r.body.obj("compartment")?.str("label") != nil)
                return try #require(r.body.str("parcelId"))
            }
            try await w.settle()
            let notes = try w.notifications()
            let note = try #require(notes.first)
            #expect(notes.count == 1)
            #expect(note["kind"] == "parcel.deposited")
            #expect(note["recipientId"] == recipient)
            #expect(note["parcelId"] == parcelId)
            let pin = try #require(note["pin"])
            #expect(pin.count == 10 && pin.allSatisfy(\.isNumber))
            #expect(note["qr"]?.hasPrefix("cby1.") == true)
            #expect(note["expiresAt"] != nil)

            try await w.test { c in
                let p = try await c.call(.get, "/api/v1/parcels/\(parcelId)", token: m.courierToken)
                #expect(p.status == 200)
                #expect(p.body.str("state") == "deposited")
                let pick = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(pin)"}"#)
                #expect(pick.status == 200)
                #expect(pick.body.str("parcelId") == parcelId)
                let again = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(pin)"}"#)
                #expect(again.status == 403)
                #expect(again.body.str("error") == "invalid_code")
                let after = try await c.call(.get, "/api/v1/parcels/\(parcelId)", token: m.courierToken)
                #expect(after.body.str("state") == "picked_up")
            }
            try await w.settle()
            // The door closed empty after the pickup: the compartment is free again.
            let view = try await w.desk.unit(try principal(w, .admin), id: w.unit)
            #expect(view.compartments.allSatisfy { $0.state.rawValue == "available" && $0.parcelId == nil })

            // The audit trail tells the story, and never holds the PIN or the QR token.
            let events = try await w.parts.store.read { s in try await s.auditEvents(parcel: parcelId) }
            let types = events.map(\.type)
            for t in [
                "parcel.reserved", "door.open_commanded", "door.opened", "door.closed", "parcel.deposited",
                "credential.issued", "pickup.succeeded", "compartment.freed",
            ] {
                #expect(types.contains(t), "missing \(t)")
            }
            let all = try await w.parts.store.read { s in try await s.auditEvents(from: 0, limit: 10_000) }
            for e in all {
                let text = String(decoding: e.canonical, as: UTF8.self)
                #expect(!text.contains(pin))
                #expect(!text.contains(note["qr"]!))
                #expect(!text.contains("example.org"))
            }
        }
    }

    @Test("QR token opens the door once; then neither the QR nor the PIN works", arguments: Backend.available)
    func qrPickup(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: Self.dropoffBody("QR1", m.recipients[1].id, "S"))
                #expect(r.status == 201)
            }
            try await w.settle()
            let note = try #require(try w.notifications().first)
            try await w.test { c in
                // A QR for another unit's kiosk is refused.
                let other = try await c.call(
                    .post, "/api/v1/units/\(m.units[1].id)/pickups", token: m.units[1].deviceToken,
                    json: #"{"code":"\#(note["qr"]!)"}"#)
                #expect(other.status == 403)
                let ok = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(note["qr"]!)"}"#)
                #expect(ok.status == 200)
                let qrAgain = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(note["qr"]!)"}"#)
                #expect(qrAgain.status == 403)
                let pin = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(note["pin"]!)"}"#)
                #expect(pin.status == 403)
                #expect(pin.body.str("error") == "invalid_code")
            }
        }
    }

    @Test(
        "concurrent drop-offs never share a compartment; the 25th and later get unit_full", arguments: Backend.available
    )
    func concurrentDropoffs(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let results = try await w.test { c in
                try await withThrowingTaskGroup(of: (Int, String?, String?).self) { group in
                    for i in 0..<32 {
                        group.addTask {
                            let r = try await c.call(
                                .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                                json: Self.dropoffBody("CC\(i)", m.recipients[i % 2].id, "S"))
                            return (r.status, r.body.obj("compartment")?.str("id"), r.body.str("error"))
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            let created = results.filter { $0.0 == 201 }
            let full = results.filter { $0.0 == 409 }
            #expect(created.count == 24)
            #expect(full.count == 8)
            #expect(full.allSatisfy { $0.2 == "unit_full" })
            #expect(Set(created.compactMap(\.1)).count == 24)
            let counts = try await w.counts()
            #expect(counts.parcels == 24, "a refused drop-off leaves no parcel behind")
        }
    }

    @Test(
        "best fit: smallest free compartment; accessible ones kept for recipients who need them",
        arguments: Backend.available)
    func bestFit(_ backend: Backend) async throws {
        let layout: [(SizeClass, Bool)] = [(.small, true), (.medium, false), (.large, false), (.large, true)]
        try await TestWorld.with(backend, layout: layout) { w in
            let m = w.manifest
            let needs = m.recipients.first { $0.needsAccessible }!.id
            let plain = m.recipients.first { !$0.needsAccessible }!.id
            try await w.test { c in
                func drop(_ t: String, _ r: String, _ size: String) async throws -> (Int, String?) {
                    let x = try await c.call(
                        .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                        json: Self.dropoffBody(t, r, size))
                    return (x.status, x.body.obj("compartment")?.str("label"))
                }
                // Small parcel, no need: the accessible S is skipped for the medium.
                #expect(try await drop("B1", plain, "S") == (201, "A02"))
                // Small parcel for a recipient who needs reach: the accessible S.
                #expect(try await drop("B2", needs, "S") == (201, "A01"))
                // Large, no need: the plain L.
                #expect(try await drop("B3", plain, "L") == (201, "A03"))
                // Large, no need, only the accessible L left: it is used rather than refusing.
                #expect(try await drop("B4", plain, "M") == (201, "A04"))
                let full = try await drop("B5", plain, "S")
                #expect(full.0 == 409)
            }
        }
    }

    @Test(
        "a pre-announced parcel is reserved by the courier's drop-off under the same id", arguments: Backend.available)
    func announceThenDropoff(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            try await w.test { c in
                let a = try await c.call(
                    .post, "/api/v1/parcels", token: m.carrierToken,
                    json:
                        #"{"trackingNumber":"PRE1","recipientId":"\#(m.recipients[0].id)","unitId":"\#(w.unit)","size":"L"}"#
                )
                #expect(a.status == 201)
                #expect(a.body.str("state") == "announced")
                let d = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: Self.dropoffBody("PRE1", m.recipients[0].id, "L"))
                #expect(d.status == 201)
                #expect(d.body.str("parcelId") == a.body.str("id"))
                let dup = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: Self.dropoffBody("PRE1", m.recipients[0].id, "L"))
                #expect(dup.status == 409)
                #expect(dup.body.str("error") == "duplicate_parcel")
            }
        }
    }

    @Test("a drop-off of another size than announced keeps the size measured at the unit", arguments: Backend.available)
    func dropoffSizeIsSaved(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            try await w.test { c in
                let a = try await c.call(
                    .post, "/api/v1/parcels", token: m.carrierToken,
                    json:
                        #"{"trackingNumber":"PRE2","recipientId":"\#(m.recipients[0].id)","unitId":"\#(w.unit)","size":"S"}"#
                )
                #expect(a.status == 201)
                #expect(a.body.str("size") == "S")
                let d = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: Self.dropoffBody("PRE2", m.recipients[0].id, "M"))
                #expect(d.status == 201)
                let id = try #require(a.body.str("id"))
                let p = try await c.call(.get, "/api/v1/parcels/\(id)", token: m.carrierToken)
                #expect(p.body.str("size") == "M")
            }
            let stored = try await w.parts.store.read { s in try await s.parcelCount() }
            #expect(stored == 1)
        }
    }

    @Test("expiry kills the credentials; staff removal frees the compartment", arguments: Backend.available)
    func expiryAndRemoval(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let parcelId = try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: Self.dropoffBody("EXP1", m.recipients[0].id))
                return try #require(r.body.str("parcelId"))
            }
            try await w.settle()
            let pin = try #require(try w.notifications().first?["pin"])
            w.clock.advance(6 * 86_400)
            #expect(try await w.desk.expireDue() == 0)
            w.clock.advance(86_400 + 1)
            #expect(try await w.desk.expireDue() == 1)
            try await w.test { c in
                let p = try await c.call(.get, "/api/v1/parcels/\(parcelId)", token: m.adminToken)
                #expect(p.body.str("state") == "expired")
                let pick = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(pin)"}"#)
                #expect(pick.status == 403)
                let courierRemove = try await c.call(.post, "/api/v1/parcels/\(parcelId)/remove", token: m.courierToken)
                #expect(courierRemove.status == 403)
                let rm = try await c.call(.post, "/api/v1/parcels/\(parcelId)/remove", token: m.adminToken)
                #expect(rm.status == 200)
                #expect(rm.body.str("state") == "removed")
                let again = try await c.call(.post, "/api/v1/parcels/\(parcelId)/remove", token: m.adminToken)
                #expect(again.status == 409)
                #expect(again.body.str("error") == "invalid_state")
            }
            try await w.settle()
            let view = try await w.desk.unit(try principal(w, .admin), id: w.unit)
            #expect(view.compartments.allSatisfy { $0.state.rawValue == "available" })
        }
    }

    @Test("a drop-off never completed is cancelled when its reservation runs out", arguments: Backend.available)
    func reservationTimeout(_ backend: Backend) async throws {
        try await TestWorld.with(backend, simulate: false) { w in
            let m = w.manifest
            let p = try principal(w, .courier)
            let d = try await w.desk.dropoff(
                p, unitId: w.unit, trackingNumber: "TO1", recipientId: m.recipients[0].id, size: .small)
            w.clock.advance(599)
            #expect(try await w.desk.expireDue() == 0)
            w.clock.advance(2)
            #expect(try await w.desk.expireDue() == 1)
            let parcel = try await w.desk.parcel(p, id: d.parcel.id)
            #expect(parcel.state.rawValue == "cancelled")
            let c = try await w.parts.store.read { s in try await s.compartment(d.compartment.id) }
            #expect(c?.state.rawValue == "available")
            #expect(c?.parcelId == nil)
            // A late door report with an item no longer deposits anything.
            try await w.desk.handle(
                UnitDoorEvent(
                    kind: .doorClosed, unitId: w.unit, compartmentId: d.compartment.id, itemPresent: true,
                    occurredAt: w.clock.now), actor: .system)
            #expect(try await w.desk.parcel(p, id: d.parcel.id).state.rawValue == "cancelled")
        }
    }
}

/// A principal of the world's organization for calling the flows directly.
func principal(_ w: TestWorld, _ role: Principal.Role) throws -> Principal {
    let m = w.manifest
    let org = try #require(OrganizationID(uuidString: m.organizationId))
    let site = try #require(SiteID(uuidString: m.siteId))
    switch role {
    case .admin, .superAdmin: return Principal(role: role, credentialId: .make(), organizationId: org, siteIds: [site])
    case .resident: return Principal(role: .resident, credentialId: .make(), organizationId: org)
    case .courier:
        return Principal(
            role: .courier, credentialId: .make(), organizationId: org, carrierId: CarrierID(uuidString: m.carrierId),
            siteIds: [site], subjectId: .make())
    case .carrier:
        return Principal(
            role: .carrier, credentialId: .make(), organizationId: org, carrierId: CarrierID(uuidString: m.carrierId),
            siteIds: [site])
    case .device:
        return Principal(
            role: .device, credentialId: .make(), organizationId: org, unitId: UnitID(uuidString: w.unit),
            siteIds: [site])
    case .auditor: return Principal(role: .auditor, credentialId: .make(), organizationId: org, siteIds: [site])
    case .scim: return Principal(role: .scim, credentialId: .make(), organizationId: org, siteIds: [site])
    }
}
