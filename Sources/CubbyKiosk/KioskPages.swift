import HTTPTypes
import Foundation
import Hummingbird
import Mustache

/// The kiosk's server-rendered pages: Mustache templates, one stylesheet and one small script shipped
/// in the module.
public struct KioskPages: Sendable {
    let library: MustacheLibrary
    let stylesheet: ByteBuffer
    /// `idle.js`: takes a page back to the start after the idle timeout, unless someone is using it.
    let idleScript: ByteBuffer

    /// The templates, the stylesheet or the script are missing from the module's resources.
    public struct MissingResources: Error, CustomStringConvertible {
        /// What is missing.
        public let description: String
    }

    /// Reads the templates, the stylesheet and the script from the module's `Kiosk` resource directory.
    public static func load() async throws -> KioskPages {
        guard let directory = Bundle.module.url(forResource: "Kiosk", withExtension: nil) else {
            throw MissingResources(description: "the kiosk's templates are missing from the module's resources")
        }
        let library = try await MustacheLibrary(directory: directory.path)
        guard library.getTemplate(named: "start") != nil else {
            throw MissingResources(description: "the kiosk's start template is missing from \(directory.path)")
        }
        let css = try Data(contentsOf: directory.appendingPathComponent("kiosk.css"))
        let script = try Data(contentsOf: directory.appendingPathComponent("idle.js"))
        return KioskPages(library: library, stylesheet: ByteBuffer(bytes: css), idleScript: ByteBuffer(bytes: script))
    }

    /// Renders a screen in `language`; `unit` fills the header and the offline banner when known.
    func render(_ screen: KioskScreen, language: KioskLanguage, unit: KioskStatus?, idleSeconds: Int) -> Response {
        var context: [String: Any] = [
            "lang": language.rawValue,
            "t": language.table,
            "title": screen.title,
            "switchPath": screen.switchPath,
            "english": language == .english,
            "spanish": language == .spanish,
        ]
        if screen.returnsWhenIdle {
            context["idleSeconds"] = idleSeconds
            context["idleNote"] = language.wording.idleNote(idleSeconds)
        }
        if let unit {
            context["unitName"] = unit.unitName
            if !unit.online && !unit.lockedDown { context["offline"] = true }
        }
        if let error = screen.error { context["error"] = error }
        if let notice = screen.notice { context["notice"] = notice }
        for (key, value) in screen.values { context[key] = value }
        let html = library.render(context, withTemplate: screen.template)
            ?? "<!doctype html><html lang=\"en\"><title>Cubby</title><main><h1>Page missing</h1></main></html>"
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        for (name, value) in screen.headers { headers.append(HTTPField(name: name, value: value)) }
        return Response(status: screen.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func css() -> Response {
        Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8"], body: .init(byteBuffer: stylesheet))
    }

    func script() -> Response {
        Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8"], body: .init(byteBuffer: idleScript))
    }
}

/// One page to show: which template, its heading, the HTTP status and the values it needs.
struct KioskScreen {
    var template: String
    var title: String
    var status: HTTPResponse.Status = .ok
    /// Every screen but the untouched start screen goes back to the start after the idle timeout: it loads
    /// `idle.js` and carries the timeout in `<body data-idle-seconds>`.
    var returnsWhenIdle = true
    /// Where the language switch leads (a page that can be shown by GET).
    var switchPath = "/"
    /// Shown with `role="alert"`.
    var error: String? = nil
    /// Shown with `role="status"`.
    var notice: String? = nil
    var values: [String: Any] = [:]
    var headers: [(HTTPField.Name, String)] = []
}
