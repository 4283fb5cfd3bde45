import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation

/// Request and response bodies of the JSON API (see Resources/openapi.yaml).
enum API {
    struct DropoffRequest: Decodable {
        var trackingNumber: String
        var recipientId: String
        var size: String
        static let fields: Set<String> = ["trackingNumber", "recipientId", "size"]
    }

    struct AnnounceRequest: Decodable {
        var trackingNumber: String
        var recipientId: String
        var unitId: String
        var size: String
        static let fields: Set<String> = ["trackingNumber", "recipientId", "unitId", "size"]
    }

    struct ReassignRequest: Decodable {
        var recipientId: String
        static let fields: Set<String> = ["recipientId"]
    }

    struct ExtendRequest: Decodable {
        var days: Int
        static let fields: Set<String> = ["days"]
    }

    struct PickupRequest: Decodable {
        var code: String
        static let fields: Set<String> = ["code"]
    }

    struct UnitEventRequest: Decodable {
        var type: String
        var compartmentId: String
        var itemPresent: Bool?
        var occurredAt: String?
        static let fields: Set<String> = ["type", "compartmentId", "itemPresent", "occurredAt"]
    }

    struct CompartmentRef: Encodable {
        var id: String
        var label: String
        var size: String
        init(_ c: CompartmentRecord) {
            id = c.id
            label = c.label
            size = c.size.rawValue
        }
    }

    struct DropoffResponse: Encodable {
        var parcelId: String
        var state: String
        var compartment: CompartmentRef
        var reservedUntil: String?
    }

    struct PickupResponse: Encodable {
        var parcelId: String
        var compartment: CompartmentRef
    }

    struct Parcel: Encodable {
        var id, state, trackingNumber, recipientId, carrierId, unitId, size: String
        var compartment: CompartmentRef?
        var createdAt: String
        var reservedUntil, depositedAt, expiresAt, pickedUpAt, expiredAt, removedAt, cancelledAt: String?

        init(_ p: ParcelRecord, compartment: CompartmentRecord?) {
            id = p.id
            state = p.state.rawValue
            trackingNumber = p.trackingNumber
            recipientId = p.recipientId
            carrierId = p.carrierId
            unitId = p.unitId
            size = p.size.rawValue
            self.compartment = compartment.map(CompartmentRef.init)
            createdAt = time(p.createdAt)
            reservedUntil = p.reservedUntil.map(time)
            depositedAt = p.depositedAt.map(time)
            expiresAt = p.expiresAt.map(time)
            pickedUpAt = p.pickedUpAt.map(time)
            expiredAt = p.expiredAt.map(time)
            removedAt = p.removedAt.map(time)
            cancelledAt = p.cancelledAt.map(time)
        }

        // Encode nulls explicitly so clients see every field.
        enum CodingKeys: String, CodingKey {
            case id, state, trackingNumber, recipientId, carrierId, unitId, size, compartment, createdAt
            case reservedUntil, depositedAt, expiresAt, pickedUpAt, expiredAt, removedAt, cancelledAt
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(state, forKey: .state)
            try c.encode(trackingNumber, forKey: .trackingNumber)
            try c.encode(recipientId, forKey: .recipientId)
            try c.encode(carrierId, forKey: .carrierId)
            try c.encode(unitId, forKey: .unitId)
            try c.encode(size, forKey: .size)
            try c.encode(compartment, forKey: .compartment)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(reservedUntil, forKey: .reservedUntil)
            try c.encode(depositedAt, forKey: .depositedAt)
            try c.encode(expiresAt, forKey: .expiresAt)
            try c.encode(pickedUpAt, forKey: .pickedUpAt)
            try c.encode(expiredAt, forKey: .expiredAt)
            try c.encode(removedAt, forKey: .removedAt)
            try c.encode(cancelledAt, forKey: .cancelledAt)
        }
    }

    struct Compartment: Encodable {
        var id, label, size: String
        var width, height, depth: Int64
        var accessible: Bool
        var state, door: String
        var parcelId: String?
        init(_ c: CompartmentRecord) {
            id = c.id
            label = c.label
            size = c.size.rawValue
            width = c.widthMm
            height = c.heightMm
            depth = c.depthMm
            accessible = c.accessible
            state = c.state.rawValue
            door = c.door.rawValue
            parcelId = c.parcelId
        }

        // Every field is sent, `parcelId` as null when the compartment is empty.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(id, forKey: "id")
            try c.encode(label, forKey: "label")
            try c.encode(size, forKey: "size")
            try c.encode(width, forKey: "width")
            try c.encode(height, forKey: "height")
            try c.encode(depth, forKey: "depth")
            try c.encode(accessible, forKey: "accessible")
            try c.encode(state, forKey: "state")
            try c.encode(door, forKey: "door")
            try c.encode(parcelId, forKey: "parcelId")
        }
    }

    struct PinEntryStatus: Encodable {
        var state: String
        var lockedUntil: String?
        var failuresLast24h: Int
        var dailyBudget: Int

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(state, forKey: "state")
            try c.encode(lockedUntil, forKey: "lockedUntil")
            try c.encode(failuresLast24h, forKey: "failuresLast24h")
            try c.encode(dailyBudget, forKey: "dailyBudget")
        }
    }

    struct Unit: Encodable {
        var id, siteId, name: String
        var compartments: [Compartment]
        var pinEntry: PinEntryStatus
        /// When the unit was decommissioned (null: in service).
        var decommissionedAt: String?
        /// When the unit was locked down and why (null: not locked down).
        var lockedDownAt: String?
        var lockdownReason: String?

        init(_ view: ParcelDesk.UnitView, policy: PinEntryPolicy, now: Date) {
            id = view.unit.id
            siteId = view.unit.siteId
            name = view.unit.name
            compartments = view.compartments.map(Compartment.init)
            pinEntry = API.pinStatus(view, policy: policy, now: now)
            decommissionedAt = view.unit.decommissionedAt.map(API.time)
            lockedDownAt = view.unit.lockedDownAt.map(API.time)
            lockdownReason = view.unit.lockedDownAt == nil ? nil : view.unit.lockdownReason
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(id, forKey: "id")
            try c.encode(siteId, forKey: "siteId")
            try c.encode(name, forKey: "name")
            try c.encode(compartments, forKey: "compartments")
            try c.encode(pinEntry, forKey: "pinEntry")
            try c.encode(decommissionedAt != nil, forKey: "decommissioned")
            try c.encode(decommissionedAt, forKey: "decommissionedAt")
            try c.encode(lockedDownAt != nil, forKey: "lockedDown")
            try c.encode(lockedDownAt, forKey: "lockedDownAt")
            try c.encode(lockdownReason, forKey: "lockdownReason")
        }
    }

    struct AuditActor: Encodable {
        var kind: String
        var id: String?
        var role: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(kind, forKey: "kind")
            try c.encode(id, forKey: "id")
            try c.encode(role, forKey: "role")
        }
    }

    struct AuditEvent: Encodable {
        var index: Int64
        var id, occurredAt, type, outcome: String
        var actor: AuditActor
        var organizationId, siteId, unitId, compartmentId, parcelId, trackingNumber: String?
        var detail: [String: String]
        var canonical: String
        var leafHash: String

        init(_ e: StoredAuditEvent, index: Int64) {
            self.index = index
            id = e.id
            occurredAt = time(e.occurredAt)
            type = e.type
            outcome = e.outcome
            actor = AuditActor(kind: e.actorKind, id: e.actorId, role: e.actorRole)
            organizationId = e.organizationId
            siteId = e.siteId
            unitId = e.unitId
            compartmentId = e.compartmentId
            parcelId = e.parcelId
            trackingNumber = e.trackingNumber
            detail = e.detailMap
            canonical = e.canonical.base64EncodedString()
            leafHash = e.leafHash.base64EncodedString()
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(index, forKey: "index")
            try c.encode(id, forKey: "id")
            try c.encode(occurredAt, forKey: "occurredAt")
            try c.encode(type, forKey: "type")
            try c.encode(outcome, forKey: "outcome")
            try c.encode(actor, forKey: "actor")
            try c.encode(organizationId, forKey: "organizationId")
            try c.encode(siteId, forKey: "siteId")
            try c.encode(unitId, forKey: "unitId")
            try c.encode(compartmentId, forKey: "compartmentId")
            try c.encode(parcelId, forKey: "parcelId")
            try c.encode(trackingNumber, forKey: "trackingNumber")
            try c.encode(detail, forKey: "detail")
            try c.encode(canonical, forKey: "canonical")
            try c.encode(leafHash, forKey: "leafHash")
        }
    }

    struct AuditPage: Encodable {
        var events: [AuditEvent]
        var next: Int64?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: APIKey.self)
            try c.encode(events, forKey: "events")
            try c.encode(next, forKey: "next")
        }
    }

    static func time(_ ms: Int64) -> String { AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: ms)) }

    static func pinStatus(_ view: ParcelDesk.UnitView, policy: PinEntryPolicy, now: Date) -> PinEntryStatus {
        let state = view.unit.pinEntry
        let label: String
        if state.suspended || view.failuresLast24h >= policy.dailyFailureBudget {
            label = "suspended"
        } else if let until = state.lockedUntil, until > now {
            label = "locked_out"
        } else {
            label = "open"
        }
        return PinEntryStatus(
            state: label, lockedUntil: state.lockedUntil.map { AuditCanonicalEncoding.timestamp($0) },
            failuresLast24h: view.failuresLast24h, dailyBudget: policy.dailyFailureBudget)
    }
}

private func time(_ ms: Int64) -> String { API.time(ms) }

/// A JSON key named by a string literal: the explicit `encode(to:)` methods above send `null` for an empty
/// optional (`KeyedEncodingContainer.encode` of an optional writes null; the synthesized one would leave the key out).
struct APIKey: CodingKey, ExpressibleByStringLiteral {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
    init(stringLiteral value: String) { stringValue = value }
}
