import CubbyAudit
import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The portal's parcel pages: a search of the parcels at the staff member's sites, and each parcel's page with its
/// timeline (stills and inclusion proofs) and the staff actions on it: reassign, extend the deadline, remove.
struct ParcelPortalRoutes {
    let finder: ParcelFinder
    let gate: PortalGate

    var pages: PortalPages { gate.pages }
    var desk: ParcelDesk { finder.desk }

    /// How many parcels one page of results shows.
    static let pageSize = 50

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/admin/parcels", .viewParcels) { req, _, call in
            try await searchPage(req, call)
        }
        routes.portal(.get, "/admin/parcels/:parcelId", .viewParcels) { req, ctx, call in
            try await parcelPage(
                call, parcelId: ctx.parameters.get("parcelId") ?? "",
                notice: Self.notices[req.uri.queryParameters.get("done") ?? ""])
        }
        routes.portal(.get, "/admin/parcels/:parcelId/stills/:sha256", .viewParcels) { _, ctx, call in
            let s = try session(call)
            let still = try await finder.still(
                s.principal, parcelId: ctx.parameters.get("parcelId") ?? "", sha256: ctx.parameters.get("sha256") ?? "")
            // Only the types a unit's camera stores are served as images; anything else is a download.
            let type =
                ["image/jpeg", "image/png"].contains(still.contentType) ? still.contentType : "application/octet-stream"
            return Response(
                status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: still.bytes)))
        }
        routes.portal(.get, "/admin/parcels/:parcelId/events/:eventId/proof", .viewParcels) { _, ctx, call in
            let s = try session(call)
            let proof = try await finder.proof(
                s.principal, parcelId: ctx.parameters.get("parcelId") ?? "",
                eventId: ctx.parameters.get("eventId") ?? "")
            return JSONResponse.make(ProofBody(proof))
        }
        routes.portal(.post, "/admin/parcels/:parcelId/reassign", .reassignParcel) { _, ctx, call in
            try await reassign(call, parcelId: ctx.parameters.get("parcelId") ?? "")
        }
        routes.portal(.post, "/admin/parcels/:parcelId/extend", .extendParcel) { _, ctx, call in
            try await extend(call, parcelId: ctx.parameters.get("parcelId") ?? "")
        }
        routes.portal(.post, "/admin/parcels/:parcelId/remove", .removeParcel) { _, ctx, call in
            let parcelId = ctx.parameters.get("parcelId") ?? ""
            return try await act(call, parcelId: parcelId, done: "removed") { s, id in
                _ = try await desk.remove(s.principal, parcelId: id)
            }
        }
    }

    static let notices: [String: String] = [
        "reassigned":
            "The parcel is given to the new recipient. Any earlier codes no longer open the door; if the parcel was waiting in its compartment, the new recipient is sent new ones.",
        "extended":
            "The pickup deadline is moved. The PIN works until the new deadline; a QR code sent earlier keeps the deadline it was issued with.",
        "removed": "The parcel is marked removed and its door is opening: take it out and close the door.",
    ]

    func session(_ call: PortalCall) throws -> StaffSession {
        guard let s = call.session else { throw PortalRefusal.forbidden }
        return s
    }

    // MARK: actions

    /// Runs a staff action on a parcel and goes back to its page; input or state the action refuses gives the page
    /// again with the reason, and changes nothing.
    func act(
        _ call: PortalCall, parcelId: String, done: String,
        _ body: (StaffSession, String) async throws -> Void
    ) async throws -> Response {
        let s = try session(call)
        // A parcel outside the caller's reach is "not found" before any input is looked at.
        let dossier = try await finder.dossier(s.principal, parcelId: parcelId)
        let id = dossier.parcel.id
        do {
            try await body(s, id)
        } catch let refusal as ParcelActionRefusal {
            return try await parcelPage(call, parcelId: id, error: refusal.message, status: refusal.status)
        } catch DomainError.invalidRequest(let m) {
            return try await parcelPage(call, parcelId: id, error: m, status: .badRequest)
        } catch DomainError.invalidState(let m) {
            return try await parcelPage(call, parcelId: id, error: Self.sentence(m), status: .conflict)
        } catch DomainError.unitLockedDown {
            return try await parcelPage(
                call, parcelId: id,
                error:
                    "The unit is locked down: its doors stay shut and the parcel stays as it is until the lockdown is released.",
                status: .conflict)
        } catch let e as ParcelChangeError {
            return try await parcelPage(
                call, parcelId: id, error: Self.sentence(ParcelRoutes.message(e)), status: .conflict)
        } catch let e as RecipientError {
            let (status, _, message, _) = RecipientRoutes.describe(e)
            return try await parcelPage(call, parcelId: id, error: Self.sentence(message), status: status)
        }
        return gate.redirect("/admin/parcels/\(id)?done=\(done)")
    }

    /// Why a form on a parcel's page was not accepted.
    struct ParcelActionRefusal: Error {
        var message: String
        var status: HTTPResponse.Status = .badRequest
    }

    static func sentence(_ text: String) -> String {
        let t = text.prefix(1).uppercased() + text.dropFirst()
        return t.hasSuffix(".") ? t : t + "."
    }

    func reassign(_ call: PortalCall, parcelId: String) async throws -> Response {
        try await act(call, parcelId: parcelId, done: "reassigned") { s, id in
            let email = call.form.first("email").trimmingWhitespace()
            let external = call.form.first("externalId").trimmingWhitespace()
            guard email.isEmpty != external.isEmpty else {
                throw ParcelActionRefusal(
                    message: "Give the new recipient's email address or external id (one of the two).")
            }
            guard email.unicodeScalars.count <= 254, external.unicodeScalars.count <= RecipientRules.maxExternalIdLength
            else {
                throw ParcelActionRefusal(message: "The email address or external id is too long.")
            }
            let found =
                email.isEmpty
                ? try await finder.recipients.find(s.principal, externalId: external)
                : try await finder.recipients.find(s.principal, email: email)
            let parcel = try await desk.parcel(s.principal, id: id)
            guard let recipient = found, recipient.siteId == parcel.siteId else {
                throw ParcelActionRefusal(
                    message:
                        "No recipient at this parcel's site has that \(email.isEmpty ? "external id" : "email address")."
                )
            }
            _ = try await desk.reassign(s.principal, parcelId: id, recipientId: recipient.id)
        }
    }

    func extend(_ call: PortalCall, parcelId: String) async throws -> Response {
        try await act(call, parcelId: parcelId, done: "extended") { s, id in
            let text = call.form.first("days").trimmingWhitespace()
            guard let days = Int(text), PickupDeadline.extensionDays.contains(days) else {
                throw ParcelActionRefusal(
                    message:
                        "Days must be a whole number from \(PickupDeadline.extensionDays.lowerBound) to \(PickupDeadline.extensionDays.upperBound)."
                )
            }
            _ = try await desk.extend(s.principal, parcelId: id, days: days)
        }
    }

    // MARK: proof

    /// An event's inclusion proof as a signed-in staff member reads it: enough to check it with any RFC 6962
    /// verifier against the signed checkpoint it names.
    struct ProofBody: Encodable {
        var eventId: String
        var type: String
        var occurredAt: String
        var log: String
        var leafIndex: Int64
        var treeSize: Int64
        var leafHash: String
        var proof: [String]
        var checkpoint: String
        /// The event's canonical bytes (base64): SHA-256 of 0x00 ‖ these is the leaf hash.
        var canonical: String

        init(_ p: ParcelEventProof) {
            eventId = p.event.id
            type = p.event.type
            occurredAt = AuditCanonicalEncoding.timestamp(Date(millisecondsSince1970: p.event.occurredAt))
            log = p.origin
            leafIndex = p.index
            treeSize = p.checkpoint.size
            leafHash = p.leafHash
            proof = p.proof
            checkpoint = p.checkpoint.note
            canonical = p.event.canonical.base64EncodedString()
        }
    }
}
