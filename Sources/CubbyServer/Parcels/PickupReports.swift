import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// "Not you? Report it": the link in a pickup receipt. A recipient who did not take the parcel says so, and staff get
/// an alert at the parcel's unit. The signed token names the parcel and its recipient and is the whole authority,
/// so the link works from the message without signing in.
public struct PickupReports: Sendable {
    let ledger: Ledger
    let keys: LockerKeys

    public init(ledger: Ledger, keys: LockerKeys) {
        self.ledger = ledger
        self.keys = keys
    }

    /// The alert staff get.
    public static let alertKind = "pickup.disputed"

    /// The token of a parcel's report link.
    public func token(parcel: String, recipient: String) -> String {
        Self.token(keys: keys, parcel: parcel, recipient: recipient)
    }

    /// The token of a parcel's report link, made with the server's keys.
    static func token(keys: LockerKeys, parcel: String, recipient: String) -> String {
        let mac = keys.hasher.hash("cubby.pickup-report.v1", parcel, recipient)
        return [parcel, recipient, Base64URL.encode(Array(mac.prefix(16)))].joined(separator: ".")
    }

    /// The parcel and recipient a token names, or `notFound` when it is not one of the server's.
    func target(_ token: String) throws -> (parcel: String, recipient: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let parcel = EntityID.parse(parts[0]), parcel == parts[0],
            let recipient = EntityID.parse(parts[1]), recipient == parts[1],
            KeyedHasher.constantTimeEquals(
                Array(self.token(parcel: parcel, recipient: recipient).utf8), Array(token.utf8))
        else { throw DomainError.notFound("this report link is not valid") }
        return (parcel, recipient)
    }

    /// The parcel a report link is about, with its unit and compartment, for the page that asks to confirm.
    public func parcel(_ token: String) async throws -> (ParcelRecord, UnitRecord?, CompartmentRecord?) {
        let t = try target(token)
        return try await ledger.store.read { s in
            guard let parcel = try await s.parcel(t.parcel), parcel.recipientId == t.recipient else {
                throw DomainError.notFound("this report link is not valid")
            }
            let unit = try await s.unit(parcel.unitId)
            let compartment = try await parcel.compartmentId.asyncMap { try await s.compartment($0) } ?? nil
            return (parcel, unit, compartment)
        }
    }

    /// Records the report: an alert for staff at the parcel's unit and a `pickup.reported` event, once per parcel
    /// (a second report changes nothing). Only a picked-up parcel can be reported. Returns whether this was the first.
    @discardableResult
    public func report(token: String, origin: String) async throws -> Bool {
        let t = try target(token)
        let actor = Actor(kind: .recipient, id: t.recipient, role: "recipient")
        return try await ledger.write { s in
            guard let parcel = try await s.parcel(t.parcel, lock: true), parcel.recipientId == t.recipient else {
                throw DomainError.notFound("this report link is not valid")
            }
            guard parcel.state == .pickedUp else {
                throw DomainError.invalidState("the parcel has not been picked up; nothing to report")
            }
            if try await s.auditEvents(parcel: parcel.id).contains(where: {
                $0.type == AuditEventType.pickupReported.rawValue
            }) {
                return false
            }
            let unit = try await s.unit(parcel.unitId)
            try await s.insertAlert(
                AlertRecord(
                    id: EntityID.make(), organizationId: parcel.organizationId, siteId: parcel.siteId,
                    unitId: parcel.unitId, compartmentId: parcel.compartmentId, kind: Self.alertKind,
                    detail:
                        "the recipient of parcel \(parcel.trackingNumber) reports that they did not pick it up (\(origin.prefix(80)))",
                    createdAt: ledger.clock.now().millisecondsSince1970))
            try await ledger.audit(
                s, .pickupReported, actor: actor, unit: unit, parcel: parcel, compartmentId: parcel.compartmentId)
            return true
        }
    }
}

/// The report link's routes: a page that asks to confirm, and the report itself.
struct PickupReportRoutes {
    let reports: PickupReports
    let gate: PortalGate?

    func register(on routes: inout GuardedRouter) {
        routes.open(.post, "/report/:token") { req, ctx in
            let first = try await reports.report(
                token: ctx.parameters.get("token") ?? "", origin: "report link " + ctx.remoteAddress)
            let text =
                first
                ? "Thank you. The building's staff have been alerted and will look into it."
                : "This was already reported; the building's staff have been alerted."
            return PortalPages.linkAnswer(req, pages: gate?.pages, title: "Report a pickup", text)
        }
        guard let gate else { return }
        routes.portal(.get, "/report/:token", nil) { _, ctx, call in
            let token = ctx.parameters.get("token") ?? ""
            let (parcel, unit, compartment) = try await reports.parcel(token)
            return gate.pages.page(
                "report-pickup", title: "Report a pickup", session: nil, formToken: call.formToken,
                [
                    "token": token, "tracking": parcel.trackingNumber, "unit": unit?.name ?? "the locker",
                    "compartment": compartment?.label ?? "—",
                    "pickedUp": parcel.state == .pickedUp,
                ])
        }
    }
}
