import CubbyCore
import Foundation
import Testing

@Suite("Pickup deadlines: how far staff may extend one, and who may change a parcel")
struct PickupDeadlineTests {
    static let day: Int64 = 86_400_000

    @Test("a parcel waits at most twice its site's pickup lifetime after its deposit, and never more than 30 days")
    func latest() {
        let deposited: Int64 = 1_795_000_000_000
        #expect(
            PickupDeadline.latest(depositedAt: deposited, siteLifetimeSeconds: 7 * 86_400) == deposited + 14 * Self.day)
        #expect(PickupDeadline.latest(depositedAt: deposited, siteLifetimeSeconds: 86_400) == deposited + 2 * Self.day)
        // A site that keeps parcels 20 days: 40 would be too long; 30 is the most any site may set.
        #expect(
            PickupDeadline.latest(depositedAt: deposited, siteLifetimeSeconds: 20 * 86_400) == deposited + 30 * Self.day
        )
        #expect(PickupDeadline.extensionDays == 1...30)
        #expect(ParcelChangeError.beyondSiteLimit(latest: 0).code == "beyond_site_limit")
    }

    @Test("the parcel pages and their actions are the administrators' alone; reassigning asks for a fresh code")
    func policy() {
        for action in [Action.viewParcels, .reassignParcel, .extendParcel] {
            for role in Principal.Role.allCases {
                #expect(AccessPolicy.allows(role, action) == [.admin, .superAdmin].contains(role), "\(role) \(action)")
            }
            #expect(AccessPolicy.reach(.admin, action) == .sites)
            #expect(AccessPolicy.reach(.superAdmin, action) == .organization)
        }
        #expect(Action.reassignParcel.needsStepUp)
        #expect(!Action.extendParcel.needsStepUp && !Action.viewParcels.needsStepUp)
    }
}
