import CubbyCore
import CubbyDemo
import CubbyServer
import CubbyStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("a parcel is addressed to a recipient of the unit's own site")
struct RecipientSiteTests {
    @Test(
        "a drop-off or announcement naming a resident of another site of the organization is 404 and changes nothing",
        arguments: Backend.available)
    func otherSiteRecipient(_ backend: Backend) async throws {
        try await TestWorld.with(backend) { w in
            let m = w.manifest
            let otherSite = EntityID.make()
            let stranger = EntityID.make()
            let at = w.clock.now.millisecondsSince1970
            try await w.parts.store.write { s in
                try await s.insertSite(
                    SiteRecord(id: otherSite, organizationId: m.organizationId, name: "Hillside Court", createdAt: at))
                try await s.insertRecipient(
                    RecipientRecord(
                        id: stranger, organizationId: m.organizationId, siteId: otherSite, needsAccessible: false,
                        dataKey: nil, contact: nil, createdAt: at))
            }
            let before = try await w.counts()
            try await w.test { c in
                let drop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: ParcelFlowTests.dropoffBody("SITE1", stranger))
                #expect(drop.status == 404)
                #expect(drop.body.str("error") == "not_found")
                let announce = try await c.call(
                    .post, "/api/v1/parcels", token: m.carrierToken,
                    json:
                        #"{"unitId":"\#(w.unit)","trackingNumber":"SITE2","recipientId":"\#(stranger)","size":"S"}"#)
                #expect(announce.status == 404)
                #expect(announce.body.str("error") == "not_found")
            }
            #expect(try await w.counts() == before)
            // A resident of the unit's own site is still served.
            try await w.test { c in
                let drop = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: ParcelFlowTests.dropoffBody("SITE3", m.recipients[0].id))
                #expect(drop.status == 201)
            }
        }
    }
}
