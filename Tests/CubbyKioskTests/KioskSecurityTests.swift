import CubbyKiosk
import Foundation
import HTTPTypes
import NIOCore
import Testing

@Suite("Kiosk: lockdown, forgery, headers, errors")
struct KioskSecurityTests {
    static let headers: [(String, String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]

    static func expectSecurityHeaders(_ page: Page, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for (name, value) in headers {
            #expect(page.headers[HTTPField.Name(name)!] == value, "\(name) on \(what)", sourceLocation: sourceLocation)
        }
    }

    @Test("lockdown: every page shows only the lockdown screen and no form reaches the backend", arguments: Speech.both)
    func lockdown(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        locker.set { $0.pickupResult = .opened(compartmentLabel: "B3") }
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            let form = try await kiosk.signIn()
            locker.set { $0.status.lockedDown = true }
            for path in ["/", "/courier", "/courier/dropoff"] {
                let page = try await kiosk.get(path)
                #expect(page.status == .serviceUnavailable, "GET \(path)")
                #expect(page.h1 == speech.lockdownTitle, "GET \(path)")
                #expect(
                    page.html.contains(#"role="alert" id="lockdown"><p class="big-text">\#(speech.lockdownMessage)"#))
                #expect(!page.html.contains("<form"), "GET \(path) shows a form")
                #expect(page.htmlLang == speech.lang)
                #expect(page.idleReturn == "60 s", "the lockdown screen looks again for a release")
            }
            // "/" above ended the courier's session; sign in again is refused too.
            let posts: [(String, [(String, String)])] = [
                ("/pickup", [("method", "pin"), ("code", "12345678")]),
                ("/pickup", [("method", "qr"), ("code", "token")]),
                ("/pickup", [("method", "rfid"), ("code", "card")]),
                ("/courier/sign-in", [("credential", "cby_courier_secret")]),
                (
                    "/courier/dropoff",
                    [("once", form.once ?? ""), ("tracking", tracking), ("recipient", "r"), ("size", "S")]
                ),
            ]
            for (path, fields) in posts {
                let page = try await kiosk.post(path, fields)
                #expect(page.status == .conflict, "POST \(path)")
                #expect(page.h1 == speech.lockdownTitle, "POST \(path)")
                #expect(!page.html.contains("<form"))
            }
            #expect(locker.pickups.isEmpty)
            #expect(locker.dropoffs.isEmpty)
            #expect(locker.signIns.count == 1, "only the sign-in before the lockdown")
            // Done still ends a session, and answers with the lockdown screen.
            let done = try await kiosk.post("/courier/done", [])
            #expect(done.status == .conflict)
            #expect(done.h1 == speech.lockdownTitle)
        }
    }

    @Test("lockdown with a live courier session: the drop-off is refused without calling the backend")
    func lockdownKeepsDropoffsOut() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            let form = try await kiosk.signIn()
            locker.set { $0.status.lockedDown = true }
            let page = try await kiosk.dropOff(form)
            #expect(page.status == .conflict)
            #expect(page.h1 == Speech.english.lockdownTitle)
            #expect(locker.dropoffs.isEmpty)
        }
    }

    @Test(
        "forms from another site or origin are refused",
        arguments: [
            ["Sec-Fetch-Site": "cross-site"],
            ["Sec-Fetch-Site": "same-site"],
            ["Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"],
            ["Origin": "http://evil.example"],
            ["Origin": "null"],
            ["Origin": "null", "Sec-Fetch-Site": "none"],
            ["Origin": "http://localhost:9999"],
            ["Origin": "https://localhost.evil.example"],
            ["Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.2"],
        ])
    func crossSite(_ sent: [String: String]) async throws {
        let locker = RecordingLocker()
        locker.set { $0.pickupResult = .opened(compartmentLabel: "B3") }
        try await withKiosk(locker) { kiosk in
            let form = try await kiosk.signIn()
            var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            for (name, value) in sent { headers[HTTPField.Name(name)!] = value }
            let posts: [(String, String)] = [
                ("/pickup", formBody([("method", "pin"), ("code", "12345678")])),
                ("/courier/sign-in", formBody([("credential", "cby_courier_secret")])),
                (
                    "/courier/dropoff",
                    formBody([("once", form.once ?? ""), ("tracking", tracking), ("recipient", "r"), ("size", "S")])
                ),
                ("/courier/done", ""),
                ("/no-such-path", ""),
            ]
            for (path, body) in posts {
                let page = try await kiosk.send(path, method: .post, headers: headers, body: body)
                #expect(page.status == .forbidden, "POST \(path) with \(sent)")
                #expect(page.alert == "This request did not come from the locker&#39;s own screen, so it was refused.")
                Self.expectSecurityHeaders(page, "a refused form")
            }
            #expect(locker.pickups.isEmpty)
            #expect(locker.signIns.count == 1)
            #expect(locker.dropoffs.isEmpty)
            #expect(locker.signOuts.isEmpty)
        }
    }

    @Test("forms from the page itself pass: same origin, or no browser headers at all")
    func sameOrigin() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            let variants: [HTTPFields] = [
                [.contentType: "application/x-www-form-urlencoded"],
                [.contentType: "application/x-www-form-urlencoded", .origin: "http://localhost"],
                [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("Sec-Fetch-Site")!: "same-origin"],
                [.contentType: "application/x-www-form-urlencoded", HTTPField.Name("Sec-Fetch-Site")!: "none"],
                // What Chromium sends for the page's own form under Referrer-Policy: no-referrer.
                [
                    .contentType: "application/x-www-form-urlencoded", .origin: "null",
                    HTTPField.Name("Sec-Fetch-Site")!: "same-origin",
                ],
            ]
            for headers in variants {
                let page = try await kiosk.send("/pickup", method: .post, headers: headers, body: "method=pin&code=1")
                #expect(page.status == .forbidden)
                #expect(page.alert == Speech.english.rejected)
            }
            #expect(locker.pickups.count == variants.count)
        }
    }

    @Test("the security headers are on every response")
    func securityHeaders() async throws {
        let locker = RecordingLocker()
        locker.set { $0.pickupResult = .opened(compartmentLabel: "B3") }
        try await withKiosk(locker) { kiosk in
            let css = try await kiosk.get("/static/kiosk.css")
            #expect(css.status == .ok)
            #expect(css.headers[.contentType] == "text/css; charset=utf-8")
            #expect(css.html.contains("min-height"))
            Self.expectSecurityHeaders(css, "the stylesheet")
            let start = try await kiosk.get("/")
            #expect(start.headers[.contentType] == "text/html; charset=utf-8")
            Self.expectSecurityHeaders(start, "the start page")
            Self.expectSecurityHeaders(try await kiosk.post("/pickup", [("method", "pin"), ("code", "1")]), "a pickup")
            Self.expectSecurityHeaders(try await kiosk.get("/nowhere"), "a 404")
            Self.expectSecurityHeaders(try await kiosk.send("/", method: .delete, headers: [:], body: nil), "a 405")
            Self.expectSecurityHeaders(try await kiosk.post("/courier/sign-in", [("credential", "c")]), "a redirect")
            Self.expectSecurityHeaders(try await kiosk.get("/courier/dropoff"), "the drop-off form")
            Self.expectSecurityHeaders(try await kiosk.post("/courier/done", []), "the sign-out page")
            // Nothing on the pages needs more than the policy allows: no inline script or style, no
            // script but the kiosk's own idle script, and that one not on the start screen.
            let courier = try await kiosk.get("/courier")
            #expect(start.scriptTags.isEmpty)
            #expect(courier.scriptTags == [#"<script src="/static/idle.js" defer>"#])
            for page in [start, courier] {
                #expect(!page.html.contains("style="))
                #expect(Page.firstMatch(#"(\son[a-z]+=)"#, in: page.html) == nil, "an inline event handler")
                #expect(!page.html.contains("javascript:"))
                #expect(page.html.contains(#"<link rel="stylesheet" href="/static/kiosk.css">"#))
            }
        }
    }

    @Test("unknown paths get a 404 page, wrong methods a 405 page", arguments: Speech.both)
    func notFoundAndWrongMethod(_ speech: Speech) async throws {
        try await withKiosk(RecordingLocker()) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            for path in ["/nowhere", "/courier/x", "/static/other.css", "/pickup/pin", "/../etc/passwd", "/%00"] {
                let page = try await kiosk.get(path)
                #expect(page.status == .notFound, "\(path)")
                #expect(page.h1 == speech.notFoundTitle)
                #expect(page.htmlLang == speech.lang)
                #expect(page.idleReturn == "60 s")
            }
            let wrong: [(String, HTTPRequest.Method, String)] = [
                ("/pickup", .get, "POST"), ("/", .post, "GET, HEAD"), ("/", .put, "GET, HEAD"),
                ("/courier/done", .get, "POST"), ("/courier/dropoff", .delete, "GET, HEAD, POST"),
                ("/courier/sign-in", .patch, "POST"), ("/static/kiosk.css", .post, "GET, HEAD"),
                ("/static/idle.js", .post, "GET, HEAD"), ("/static/idle.js", .delete, "GET, HEAD"),
            ]
            for (path, method, allow) in wrong {
                let page = try await kiosk.send(path, method: method, headers: [:], body: nil)
                #expect(page.status == .methodNotAllowed, "\(method) \(path)")
                #expect(page.headers[.allow] == allow, "\(method) \(path)")
                #expect(page.html.contains("<h1>"))
            }
            let head = try await kiosk.send("/", method: .head, headers: [:], body: nil)
            #expect(head.status == .ok)
        }
    }

    @Test("forms that cannot be read: 400 or 413, never a 500, never the backend")
    func unreadableForms() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.signIn()
            let paths = ["/pickup", "/courier/sign-in", "/courier/dropoff"]
            for path in paths {
                let json = try await kiosk.send(
                    path, method: .post, headers: [.contentType: "application/json"], body: #"{"code":"1"}"#)
                #expect(json.status == .badRequest, "JSON to \(path)")
                #expect(json.alert == "The form could not be read. Go back to the start and try again.")
                let none = try await kiosk.send(path, method: .post, headers: [:], body: "code=1")
                #expect(none.status == .badRequest, "no content type to \(path)")
                let broken = try await kiosk.send(
                    path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: "method=pin&code=%zz&credential=%&tracking=%E0%A4%A")
                #expect(broken.status == .badRequest, "bad percent-encoding to \(path)")
                let huge = try await kiosk.send(
                    path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: "method=pin&code=" + String(repeating: "9", count: 9000))
                #expect(huge.status == .contentTooLarge, "a large body to \(path)")
                #expect(huge.alert == "The form is too large. Go back to the start and try again.")
            }
            #expect(locker.pickups.isEmpty)
            #expect(locker.dropoffs.isEmpty)
            #expect(locker.signIns.count == 1)
        }
    }

    @Test("odd input never gets a 500")
    func noServerErrors() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            let form = try await kiosk.signIn()
            let bodies = [
                "", "&&&", "=", "code", "method=pin&method=qr&code=1&code=2", "%F0%9F%98%80=%F0%9F%98%80",
                "method=pin&code=%F0%9F%98%80", "method=qr&code=" + String(repeating: "%C3%A9", count: 512),
                "once=\(form.once ?? "")&tracking=%C3%A9&recipient=%0A&size=M", "credential=%00",
                "method=rfid&code=+++", "size=S&size=XL",
            ]
            for path in ["/pickup", "/courier/sign-in", "/courier/dropoff", "/courier/done"] {
                for body in bodies {
                    let page = try await kiosk.send(
                        path, method: .post,
                        headers: [.contentType: "application/x-www-form-urlencoded; charset=UTF-8"], body: body)
                    #expect(
                        page.status.code < 500 || page.status == .serviceUnavailable,
                        "POST \(path) \(body.prefix(40)): \(page.status)")
                    #expect(page.html.hasPrefix("<!doctype html>"), "POST \(path): not a page")
                }
            }
            for query in [
                "/?lang=%00", "/?lang=" + String(repeating: "e", count: 4000), "/courier?x=%zz", "/?lang=es&lang=en",
            ] {
                let page = try await kiosk.get(query)
                #expect(page.status.code < 500, "GET \(query.prefix(40))")
            }
            // 512 two-byte characters are within the limit, so that pickup reached the backend.
            #expect(locker.pickups.contains { $0.code.count == 512 })
        }
    }

    /// The idle timeouts to try, each with the sentence the pages must then say.
    static let idleTimeouts: [(Int, String)] = [
        (60, "Without a touch, this screen goes back to the start after 60 seconds."),
        (5, "Without a touch, this screen goes back to the start after 5 seconds."),
        (1, "Without a touch, this screen goes back to the start after 1 second."),
    ]

    @Test(
        "every page but the start screen loads the idle script with the configured timeout, and says so",
        arguments: idleTimeouts)
    func idleReturn(_ seconds: Int, _ sentence: String) async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker, idleTimeoutSeconds: seconds) { kiosk in
            let start = try await kiosk.get("/")
            #expect(start.idleReturn == nil, "the start screen stays")
            #expect(start.scriptTags.isEmpty)
            #expect(!start.html.contains("data-idle-seconds"))
            #expect(!start.html.contains(#"id="idle-note""#))
            #expect(start.html.contains("<body>\n"))
            var pages: [(String, Page)] = []
            locker.set { $0.pickupResult = .opened(compartmentLabel: "B3") }
            pages.append(("opened", try await kiosk.post("/pickup", [("method", "pin"), ("code", "1")])))
            locker.set { $0.pickupResult = .rejected }
            pages.append(("rejected", try await kiosk.post("/pickup", [("method", "pin"), ("code", "1")])))
            locker.set { $0.pickupResult = .lockedOut(retryAfterSeconds: 30) }
            pages.append(("locked out", try await kiosk.post("/pickup", [("method", "pin"), ("code", "1")])))
            pages.append(("bad input", try await kiosk.post("/pickup", [("method", "pin"), ("code", "")])))
            pages.append(
                ("unreadable form", try await kiosk.send("/pickup", method: .post, headers: [:], body: "code=1")))
            pages.append(("sign-in", try await kiosk.get("/courier")))
            pages.append(("sign-in refused", try await kiosk.post("/courier/sign-in", [("credential", "")])))
            let form = try await kiosk.signIn()
            pages.append(("drop-off form", form))
            let result = try await kiosk.dropOff(form)
            pages.append(("drop-off result", result))
            pages.append(("signed out", try await kiosk.post("/courier/done", [])))
            pages.append(("not found", try await kiosk.get("/missing")))
            pages.append(("wrong method", try await kiosk.send("/courier/done", method: .get, headers: [:], body: nil)))
            locker.set { $0.status.lockedDown = true }
            pages.append(("lockdown", try await kiosk.get("/")))
            for (name, page) in pages {
                #expect(page.idleReturn == "\(seconds) s", "\(name)")
                #expect(page.scriptTags == [#"<script src="/static/idle.js" defer>"#], "\(name): other scripts")
                #expect(page.html.contains(#"<body data-idle-seconds="\#(seconds)">"#), "\(name)")
                #expect(!page.html.contains("http-equiv"), "\(name): a meta refresh is back")
                #expect(
                    page.html.contains(#"<p class="hint idle" id="idle-note">\#(sentence)</p>"#),
                    "\(name): the timeout is not announced")
            }
            _ = try await kiosk.get("/?lang=es")
            locker.set { $0.status.lockedDown = false }
            let spanish = try await kiosk.get("/courier")
            let note = seconds == 1 ? "después de 1 segundo." : "a los \(seconds) segundos."
            #expect(spanish.html.contains("Si nadie toca la pantalla, se vuelve al inicio \(note)"))
            #expect(spanish.idleReturn == "\(seconds) s")
        }
    }

    @Test("the idle script: its route, its type, and what it listens to")
    func idleScript() async throws {
        try await withKiosk(RecordingLocker(), idleTimeoutSeconds: 5) { kiosk in
            let script = try await kiosk.get("/static/idle.js")
            #expect(script.status == .ok)
            #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
            Self.expectSecurityHeaders(script, "the idle script")
            let source = script.html
            #expect(!source.contains("<"), "markup in the script")
            // It reads the timeout the page carries, not one of its own.
            #expect(source.contains(#"getAttribute("data-idle-seconds")"#))
            // Any of these starts the wait again.
            let events = try #require(Page.firstMatch(#"RESET_EVENTS = \[([^\]]*)\]"#, in: source))
            let names = Set(Page.allMatches(#""([a-z]+)""#, in: events))
            #expect(names == ["keydown", "pointerdown", "touchstart", "input"])
            #expect(source.contains("addEventListener(type, restart"))
            #expect(source.contains("clearTimeout(timer)") && source.contains("setTimeout(backToStart"))
            // It goes to the start screen that also forgets the language.
            #expect(source.contains(#""/?idle=1""#))
            #expect(!source.contains("eval(") && !source.contains("innerHTML"))

            let head = try await kiosk.send("/static/idle.js", method: .head, headers: [:], body: nil)
            #expect(head.status == .ok)
            #expect(head.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(try await kiosk.get("/static/idle.js?v=1").html == source)
            #expect(try await kiosk.get("/static/other.js").status == .notFound)
        }
    }

    @Test("every page is in the chosen language", arguments: Speech.both)
    func everyPageInLanguage(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            var pages: [Page] = [try await kiosk.get("/"), try await kiosk.get("/courier")]
            pages.append(try await kiosk.post("/pickup", [("method", "pin"), ("code", "1")]))
            let form = try await kiosk.signIn()
            pages.append(form)
            pages.append(try await kiosk.dropOff(form))
            pages.append(try await kiosk.post("/courier/done", []))
            pages.append(try await kiosk.get("/nope"))
            for page in pages {
                #expect(page.htmlLang == speech.lang)
                if speech.lang == "es" {
                    #expect(page.html.contains("Casillero de paquetes Cubby"))
                    #expect(!page.html.contains("Cubby parcel locker"))
                } else {
                    #expect(page.html.contains("Cubby parcel locker"))
                }
            }
        }
    }
}
