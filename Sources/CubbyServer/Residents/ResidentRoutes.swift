import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird

/// Residents' own pages under `/me`: sign-in with a one-time code, and their parcels.
struct ResidentRoutes {
    let residents: ResidentDesk
    let gate: PortalGate

    var pages: PortalPages { gate.pages }

    func register(on routes: inout GuardedRouter) {
        routes.portal(.get, "/me/sign-in", nil) { _, _, call in
            if call.resident != nil { return gate.redirect("/me") }
            return pages.page("me-sign-in", title: "Your parcels: sign in", session: nil, formToken: call.formToken)
        }
        routes.portal(.post, "/me/sign-in", nil) { _, _, call in
            let email = String(call.form.first("email").prefix(254))
            try await residents.requestCode(email: email, address: call.address)
            return pages.page(
                "me-code", title: "Enter your code", session: nil, formToken: call.formToken, ["email": email])
        }
        routes.portal(.post, "/me/verify", nil) { _, _, call in
            let email = String(call.form.first("email").prefix(254))
            do {
                let token = try await residents.signIn(
                    email: email, code: call.form.first("code"), address: call.address)
                return gate.redirect(
                    "/me",
                    cookies: [
                        gate.cookie(PortalGate.residentCookie, token),
                        gate.cookie(PortalGate.preCookie, "", clear: true),
                    ])
            } catch StaffError.signInFailed {
                return pages.page(
                    "me-code", title: "Enter your code", session: nil, formToken: call.formToken,
                    [
                        "email": email,
                        "error":
                            "The code is not right, has expired or was tried too often. Ask for a new one if needed.",
                    ],
                    status: .unauthorized)
            }
        }
        routes.portal(.get, "/me", .viewOwnParcels) { _, _, call in
            guard let r = call.resident else { throw PortalRefusal.forbidden }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate]
            let rows = try await residents.parcels(r).map { (p, unit, compartment) -> [String: Any] in
                [
                    "tracking": p.trackingNumber, "state": p.state.rawValue.replacingOccurrences(of: "_", with: " "),
                    "unit": unit?.name ?? "—", "compartment": compartment?.label ?? "—",
                    "expires": p.state == .deposited
                        ? p.expiresAt.map { formatter.string(from: Date(millisecondsSince1970: $0)) } ?? "—" : "—",
                ]
            }
            return pages.page(
                "me-parcels", title: "Your parcels", session: nil, formToken: call.formToken,
                ["parcels": rows, "hasParcels": !rows.isEmpty], resident: r)
        }
        routes.portal(.post, "/me/sign-out", .residentSignOut) { _, _, call in
            guard let r = call.resident else { throw PortalRefusal.forbidden }
            try await residents.signOut(r)
            return gate.redirect("/me/sign-in", cookies: [gate.cookie(PortalGate.residentCookie, "", clear: true)])
        }
    }
}
