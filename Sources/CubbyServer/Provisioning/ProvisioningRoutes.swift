import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// The JSON API of sites, locker units, compartments and carriers: thin handlers over `ProvisioningDesk`.
struct ProvisioningRoutes {
    let desk: ProvisioningDesk
    let parcels: ParcelDesk

    struct SiteRequest: Decodable {
        var name: String
        var address: String
        var timeZone: String
        var languages: [String]?
        var pickupLifetimeSeconds: Int?
        var reservationSeconds: Int?
        var reminderHours: [Int]?
        var quietHours: String??
        static let fields: Set<String> = [
            "name", "address", "timeZone", "languages", "pickupLifetimeSeconds", "reservationSeconds", "reminderHours",
            "quietHours",
        ]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            name = try c.decode(String.self, forKey: UnitLayout.Key("name"))
            address = try c.decode(String.self, forKey: UnitLayout.Key("address"))
            timeZone = try c.decode(String.self, forKey: UnitLayout.Key("timeZone"))
            languages = try c.decodeIfPresentRefusingNull([String].self, forKey: UnitLayout.Key("languages"))
            pickupLifetimeSeconds = try c.decodeIfPresentRefusingNull(
                Int.self, forKey: UnitLayout.Key("pickupLifetimeSeconds"))
            reservationSeconds = try c.decodeIfPresentRefusingNull(
                Int.self, forKey: UnitLayout.Key("reservationSeconds"))
            reminderHours = try c.decodeIfPresentRefusingNull([Int].self, forKey: UnitLayout.Key("reminderHours"))
            quietHours = try SiteRequest.quietHours(c)
        }

        /// Absent (nil), null (`.some(nil)`: no quiet hours) or the text.
        static func quietHours(_ c: KeyedDecodingContainer<UnitLayout.Key>) throws -> String?? {
            let key = UnitLayout.Key("quietHours")
            guard c.contains(key) else { return nil }
            return .some(try c.decodeNil(forKey: key) ? nil : try c.decode(String.self, forKey: key))
        }
    }

    struct SitePatch: Decodable {
        var name: String?
        var address: String?
        var timeZone: String?
        var languages: [String]?
        var pickupLifetimeSeconds: Int?
        var reservationSeconds: Int?
        var reminderHours: [Int]?
        var quietHours: String??

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            name = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("name"))
            address = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("address"))
            timeZone = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("timeZone"))
            languages = try c.decodeIfPresentRefusingNull([String].self, forKey: UnitLayout.Key("languages"))
            pickupLifetimeSeconds = try c.decodeIfPresentRefusingNull(
                Int.self, forKey: UnitLayout.Key("pickupLifetimeSeconds"))
            reservationSeconds = try c.decodeIfPresentRefusingNull(
                Int.self, forKey: UnitLayout.Key("reservationSeconds"))
            reminderHours = try c.decodeIfPresentRefusingNull([Int].self, forKey: UnitLayout.Key("reminderHours"))
            quietHours = try SiteRequest.quietHours(c)
        }
    }

    struct UnitRename: Decodable {
        var name: String
        static let fields: Set<String> = ["name"]
    }

    struct CompartmentPatch: Decodable {
        var size: String?
        var widthMm: Int?
        var heightMm: Int?
        var depthMm: Int?
        var accessible: Bool?
        static let fields: Set<String> = ["size", "widthMm", "heightMm", "depthMm", "accessible"]

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            size = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("size"))
            widthMm = try c.decodeIfPresentRefusingNull(Int.self, forKey: UnitLayout.Key("widthMm"))
            heightMm = try c.decodeIfPresentRefusingNull(Int.self, forKey: UnitLayout.Key("heightMm"))
            depthMm = try c.decodeIfPresentRefusingNull(Int.self, forKey: UnitLayout.Key("depthMm"))
            accessible = try c.decodeIfPresentRefusingNull(Bool.self, forKey: UnitLayout.Key("accessible"))
        }
    }

    struct CarrierRequest: Decodable {
        var name: String
        var siteIds: [String]
        static let fields: Set<String> = ["name", "siteIds"]
    }

    struct CarrierPatch: Decodable {
        var name: String?
        var siteIds: [String]?

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: UnitLayout.Key.self)
            name = try c.decodeIfPresentRefusingNull(String.self, forKey: UnitLayout.Key("name"))
            siteIds = try c.decodeIfPresentRefusingNull([String].self, forKey: UnitLayout.Key("siteIds"))
        }
    }

    func register(on routes: inout GuardedRouter) {
        routes.api(.post, "/api/v1/sites", .createSite) { req, ctx, p in
            let b = try await JSONBody.decode(SiteRequest.self, from: req, context: ctx, allowed: SiteRequest.fields)
            let site = try await desk.createSite(
                p,
                .init(
                    name: b.name, address: b.address, timeZone: b.timeZone, languages: b.languages,
                    pickupLifetimeSeconds: b.pickupLifetimeSeconds, reservationSeconds: b.reservationSeconds,
                    reminderHours: b.reminderHours, quietHours: b.quietHours))
            return JSONResponse.make(
                API.Site(site), status: .created, headers: [.location: "/api/v1/sites/\(site.id)"])
        }
        routes.api(.get, "/api/v1/sites", .readSite) { _, _, p in
            JSONResponse.make(["sites": try await desk.sites(p).map(API.Site.init)])
        }
        routes.api(.get, "/api/v1/sites/:siteId", .readSite) { _, ctx, p in
            JSONResponse.make(API.Site(try await desk.site(p, id: try RequestValidation.pathID(ctx, "siteId"))))
        }
        routes.api(.patch, "/api/v1/sites/:siteId", .updateSite) { req, ctx, p in
            let id = try RequestValidation.pathID(ctx, "siteId")
            let b = try await JSONBody.decode(SitePatch.self, from: req, context: ctx, allowed: SiteRequest.fields)
            let site = try await desk.updateSite(
                p, id: id,
                .init(
                    name: b.name, address: b.address, timeZone: b.timeZone, languages: b.languages,
                    pickupLifetimeSeconds: b.pickupLifetimeSeconds, reservationSeconds: b.reservationSeconds,
                    reminderHours: b.reminderHours, quietHours: b.quietHours))
            return JSONResponse.make(API.Site(site))
        }
        routes.api(.post, "/api/v1/sites/:siteId/units", .createUnit) { req, ctx, p in
            let siteId = try RequestValidation.pathID(ctx, "siteId")
            let layout = try await JSONBody.decode(UnitLayout.self, from: req, context: ctx, allowed: UnitLayout.fields)
            let built = try await desk.createUnit(p, siteId: siteId, layout: layout)
            return try await unitResponse(p, built.unit.id, status: .created)
        }
        routes.api(.patch, "/api/v1/units/:unitId", .renameUnit) { req, ctx, p in
            let unitId = try RequestValidation.pathID(ctx, "unitId")
            let b = try await JSONBody.decode(UnitRename.self, from: req, context: ctx, allowed: UnitRename.fields)
            _ = try await desk.renameUnit(p, unitId: unitId, name: b.name)
            return try await unitResponse(p, unitId)
        }
        routes.api(.post, "/api/v1/units/:unitId/decommission", .decommissionUnit) { _, ctx, p in
            let unitId = try RequestValidation.pathID(ctx, "unitId")
            _ = try await desk.decommissionUnit(p, unitId: unitId)
            return try await unitResponse(p, unitId)
        }
        routes.api(.patch, "/api/v1/units/:unitId/compartments/:compartmentId", .changeCompartment) { req, ctx, p in
            let unitId = try RequestValidation.pathID(ctx, "unitId")
            let compartmentId = try RequestValidation.pathID(ctx, "compartmentId")
            let b = try await JSONBody.decode(
                CompartmentPatch.self, from: req, context: ctx, allowed: CompartmentPatch.fields)
            let c = try await desk.changeCompartment(
                p, unitId: unitId, compartmentId: compartmentId,
                .init(
                    size: b.size, widthMm: b.widthMm, heightMm: b.heightMm, depthMm: b.depthMm,
                    accessible: b.accessible))
            return JSONResponse.make(API.Compartment(c))
        }
        routes.api(.post, "/api/v1/carriers", .createCarrier) { req, ctx, p in
            let b = try await JSONBody.decode(
                CarrierRequest.self, from: req, context: ctx, allowed: CarrierRequest.fields)
            let view = try await desk.createCarrier(p, name: b.name, siteIds: b.siteIds)
            return JSONResponse.make(
                API.Carrier(view), status: .created, headers: [.location: "/api/v1/carriers/\(view.carrier.id)"])
        }
        routes.api(.get, "/api/v1/carriers", .readCarrier) { _, _, p in
            JSONResponse.make(["carriers": try await desk.carriers(p).map(API.Carrier.init)])
        }
        routes.api(.get, "/api/v1/carriers/:carrierId", .readCarrier) { _, ctx, p in
            JSONResponse.make(
                API.Carrier(try await desk.carrier(p, id: try RequestValidation.pathID(ctx, "carrierId"))))
        }
        routes.api(.patch, "/api/v1/carriers/:carrierId", .updateCarrier) { req, ctx, p in
            let id = try RequestValidation.pathID(ctx, "carrierId")
            let b = try await JSONBody.decode(
                CarrierPatch.self, from: req, context: ctx, allowed: CarrierRequest.fields)
            return JSONResponse.make(
                API.Carrier(try await desk.updateCarrier(p, id: id, name: b.name, siteIds: b.siteIds)))
        }
        routes.api(.post, "/api/v1/carriers/:carrierId/deactivate", .deactivateCarrier) { _, ctx, p in
            let id = try RequestValidation.pathID(ctx, "carrierId")
            return JSONResponse.make(API.Carrier(try await desk.deactivateCarrier(p, id: id)))
        }
    }

    /// The unit as `GET /api/v1/units/{unitId}` answers it.
    func unitResponse(_ p: Principal, _ unitId: String, status: HTTPResponse.Status = .ok) async throws -> Response {
        let view = try await parcels.unit(p, id: unitId)
        var headers: HTTPFields = [:]
        if status == .created { headers[.location] = "/api/v1/units/\(unitId)" }
        return JSONResponse.make(
            API.Unit(view, policy: parcels.policy, now: parcels.clock.now()), status: status, headers: headers)
    }
}

extension API {
    /// A site's settings.
    struct Site: Encodable {
        var id, name, address, timeZone: String
        var languages: [String]
        var pickupLifetimeSeconds, reservationSeconds: Int64
        var reminderHours: [Int]
        /// Nil when the site has none.
        var quietHours: String?
        var createdAt: String
        var updatedAt: String?

        init(_ s: SiteRecord) {
            id = s.id
            name = s.name
            address = s.address
            timeZone = s.timeZone
            languages = ProvisioningRules.list(s.languages)
            pickupLifetimeSeconds = s.pickupLifetimeSeconds
            reservationSeconds = s.reservationSeconds
            reminderHours = ProvisioningRules.hours(s.reminderHours)
            quietHours = s.quietHours.isEmpty ? nil : s.quietHours
            createdAt = API.time(s.createdAt)
            updatedAt = s.updatedAt.map(API.time)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(id, forKey: "id")
            try c.encode(name, forKey: "name")
            try c.encode(address, forKey: "address")
            try c.encode(timeZone, forKey: "timeZone")
            try c.encode(languages, forKey: "languages")
            try c.encode(pickupLifetimeSeconds, forKey: "pickupLifetimeSeconds")
            try c.encode(reservationSeconds, forKey: "reservationSeconds")
            try c.encode(reminderHours, forKey: "reminderHours")
            try c.encode(quietHours, forKey: "quietHours")
            try c.encode(createdAt, forKey: "createdAt")
            try c.encode(updatedAt, forKey: "updatedAt")
        }
    }

    /// A carrier and the sites it serves (those the caller reaches).
    struct Carrier: Encodable {
        var id, name: String
        var siteIds: [String]
        var active: Bool
        var createdAt: String
        var deactivatedAt: String?

        init(_ v: ProvisioningDesk.CarrierView) {
            id = v.carrier.id
            name = v.carrier.name
            siteIds = v.siteIds
            active = v.carrier.deactivatedAt == nil
            createdAt = API.time(v.carrier.createdAt)
            deactivatedAt = v.carrier.deactivatedAt.map(API.time)
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(id, forKey: "id")
            try c.encode(name, forKey: "name")
            try c.encode(siteIds, forKey: "siteIds")
            try c.encode(active, forKey: "active")
            try c.encode(createdAt, forKey: "createdAt")
            try c.encode(deactivatedAt, forKey: "deactivatedAt")
        }
    }
}
