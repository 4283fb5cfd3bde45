import CubbyCore
import CubbyStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore

/// The portal's server-rendered pages (Mustache templates shipped with the server).
public struct PortalPages: Sendable {
    let library: MustacheLibrary
    let stylesheet: ByteBuffer

    public static func load() async throws -> PortalPages {
        guard let dir = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw StoreError.corrupt("the portal's templates are missing from the server's resources")
        }
        let library = try await MustacheLibrary(directory: dir.path)
        let css = try Data(contentsOf: dir.appendingPathComponent("portal.css"))
        return PortalPages(library: library, stylesheet: ByteBuffer(bytes: css))
    }

    /// The answer to a link followed from a message (unsubscribe, report a pickup), which a mail client may post
    /// too: a page for a browser, plain text otherwise.
    static func linkAnswer(
        _ req: Request, pages: PortalPages?, title: String, _ text: String, status: HTTPResponse.Status = .ok
    ) -> Response {
        if let pages, req.headers[.accept]?.contains("text/html") == true {
            return pages.page(
                "link-answer", title: title, session: nil, formToken: "", ["message": text], status: status)
        }
        return Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    /// Renders `template` inside the common layout.
    func page(
        _ template: String, title: String, session: StaffSession?, formToken: String, _ values: [String: Any] = [:],
        status: HTTPResponse.Status = .ok, resident: ResidentSession? = nil
    ) -> Response {
        var context: [String: Any] = ["title": title, "formToken": formToken]
        if resident != nil { context["resident"] = true }
        if let session {
            let role = session.principal.role
            context["signedIn"] = true
            context["me"] = ["email": session.account.email, "role": role.rawValue]
            context["canViewUsers"] = AccessPolicy.allows(role, .viewUsers)
            context["canViewCredentials"] = AccessPolicy.allows(role, .viewCredentials)
            context["canViewDeliveries"] = AccessPolicy.allows(role, .readDeliveries)
            context["canViewParcels"] = AccessPolicy.allows(role, .viewParcels)
            context["canViewAlerts"] = AccessPolicy.allows(role, .readAlerts)
            context["canViewAudit"] = AccessPolicy.allows(role, .readAudit)
            context["canViewRecipients"] = AccessPolicy.allows(role, .readRecipient)
            context["canViewReports"] = AccessPolicy.allows(role, .viewReports)
            context["canViewSites"] = AccessPolicy.allows(role, .readSite)
            context["canViewCarriers"] = AccessPolicy.allows(role, .readCarrier)
        }
        for (k, v) in values { context[k] = v }
        let html =
            library.render(context, withTemplate: template)
            ?? "<!doctype html><title>Cubby</title><p>Page \(template) is missing.</p>"
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func css() -> Response {
        Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: stylesheet))
    }
}
