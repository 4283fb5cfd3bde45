import CubbyKiosk
import Foundation
import HTTPTypes
import NIOCore
import Testing

let tracking = "1Z999AA10123456784"

extension Kiosk {
    /// Signs the courier in and opens the drop-off form; returns the form.
    mutating func signIn(_ credential: String = "cby_courier_secret") async throws -> Page {
        let redirect = try await post("/courier/sign-in", [("credential", credential)])
        #expect(redirect.status == .seeOther)
        #expect(redirect.headers[.location] == "/courier/dropoff")
        return try await get("/courier/dropoff")
    }

    mutating func dropOff(_ form: Page, tracking: String = tracking, recipient: String = "r-204", size: String = "M")
        async throws -> Page
    {
        try await post(
            "/courier/dropoff",
            [
                ("once", form.once ?? ""), ("tracking", tracking), ("recipient", recipient), ("size", size),
            ])
    }
}

@Suite("Kiosk: couriers")
struct KioskCourierTests {
    @Test("sign in, two drop-offs in a row, Done signs out, and the cookie is refused after", arguments: Speech.both)
    func courierFlow(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        locker.set { $0.dropoffResults = [.opened(compartmentLabel: "A4"), .opened(compartmentLabel: "C2")] }
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            let signInPage = try await kiosk.get("/courier")
            #expect(signInPage.status == .ok)
            #expect(signInPage.h1 == speech.signInTitle)
            #expect(signInPage.htmlLang == speech.lang)
            #expect(signInPage.idleReturn == "60 s")
            let field = try #require(Page.firstMatch(#"(<input id="credential"[^>]*>)"#, in: signInPage.html))
            #expect(field.contains(#"type="password""#) && field.contains(#"maxlength="256""#))
            #expect(signInPage.html.contains(#"<label for="credential">"#))

            let redirect = try await kiosk.post("/courier/sign-in", [("credential", "cby_courier_secret")])
            #expect(redirect.status == .seeOther)
            #expect(locker.signIns == ["cby_courier_secret"])
            let cookieLine = try #require(redirect.setCookies.first { $0.hasPrefix(courierCookie + "=") })
            let token = try #require(redirect.cookie(courierCookie))
            #expect(token.count == 32 && token.allSatisfy(\.isHexDigit), "a 128-bit random token: \(token)")
            #expect(
                cookieLine.contains("HttpOnly") && cookieLine.contains("SameSite=Strict")
                    && cookieLine.contains("Path=/"))
            #expect(!cookieLine.contains("Max-Age") && !cookieLine.contains("Expires"))

            let form = try await kiosk.get("/courier/dropoff")
            #expect(form.status == .ok)
            #expect(form.h1 == speech.dropoffTitle)
            #expect(form.html.contains("Parcel Express"))
            #expect(form.idleReturn == "60 s")
            for size in ["S", "M", "L", "XL"] {
                #expect(
                    form.html.contains(
                        #"<input type="radio" name="size" id="size-\#(size)" value="\#(size)" required>"#))
                #expect(form.html.contains(#"<label for="size-\#(size)">"#))
            }
            #expect(form.html.contains(#"<form method="post" action="/courier/done">"#))

            let first = try await kiosk.dropOff(form)
            #expect(first.status == .ok)
            #expect(first.result == speech.putParcel)
            #expect(first.html.contains(#"action="/courier/dropoff""#), "the form is there again for the next parcel")
            #expect(
                first.html.contains(
                    #"id="tracking" name="tracking" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="64" required autofocus value="""#
                ))
            let second = try await kiosk.dropOff(first, tracking: "1ZSECOND", recipient: "r-9", size: "XL")
            #expect(second.status == .ok)
            #expect(second.result?.contains("1ZSECOND") == true)
            #expect(second.result?.contains("C2") == true)
            #expect(second.htmlLang == speech.lang)

            let courier = KioskCourier(handle: "h-1", displayName: "Parcel Express")
            #expect(
                locker.dropoffs == [
                    .init(courier: courier, trackingNumber: tracking, recipientId: "r-204", size: "M"),
                    .init(courier: courier, trackingNumber: "1ZSECOND", recipientId: "r-9", size: "XL"),
                ])
            #expect(locker.signOuts.isEmpty)

            let stale = kiosk.cookies
            let done = try await kiosk.post("/courier/done", [])
            #expect(done.status == .ok)
            #expect(done.h1 != nil)
            #expect(done.html.contains(speech.signedOut))
            #expect(done.cookie(courierCookie) == "")
            #expect(done.setCookies.contains { $0.hasPrefix(courierCookie + "=;") && $0.contains("Max-Age=0") })
            #expect(locker.signOuts == [courier])

            // The old cookie no longer works, for the form nor for a drop-off.
            kiosk.cookies = stale
            let after = try await kiosk.get("/courier/dropoff")
            #expect(after.status == .unauthorized)
            #expect(after.alert == speech.sessionEnded)
            kiosk.cookies = stale
            let refused = try await kiosk.dropOff(second)
            #expect(refused.status == .unauthorized)
            #expect(refused.alert == speech.sessionEnded)
            #expect(locker.dropoffs.count == 2)
            #expect(locker.signOuts.count == 1, "signed out once")
        }
    }

    @Test("a refused credential: a message and no session")
    func refusedCredential() async throws {
        let locker = RecordingLocker()
        locker.set { $0.courier = nil }
        try await withKiosk(locker) { kiosk in
            for speech in Speech.both {
                _ = try await kiosk.get("/?lang=\(speech.lang)")
                let page = try await kiosk.post("/courier/sign-in", [("credential", "wrong-secret-value")])
                #expect(page.status == .forbidden)
                #expect(page.alert == speech.signInRefused)
                #expect(!page.html.contains("wrong-secret-value"))
                #expect(page.cookie(courierCookie) == nil)
            }
            locker.set { $0.status.online = false }
            _ = try await kiosk.get("/?lang=en")
            let offline = try await kiosk.post("/courier/sign-in", [("credential", "x")])
            #expect(offline.alert?.contains("cannot reach the server") == true)
            // Without a session the drop-off form sends the courier to sign in.
            let form = try await kiosk.get("/courier/dropoff")
            #expect(form.status == .seeOther)
            #expect(form.headers[.location] == "/courier")
        }
    }

    @Test("the drop-off answers other than opened", arguments: Speech.both)
    func dropoffResults(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        locker.set {
            $0.dropoffResults = [
                .unitFull, .offline, .invalid(message: #"Unknown recipient <b>"r-1"</b> & more"#), .lockedDown,
                .signedOut,
            ]
        }
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            var form = try await kiosk.signIn()

            let full = try await kiosk.dropOff(form, size: "XL")
            #expect(full.status == .conflict)
            #expect(full.alert == speech.unitFull)
            #expect(full.html.contains(#"value="\#(tracking)""#), "the entered values are kept")
            #expect(full.html.contains(#"value="XL" required checked"#))
            form = full

            let offline = try await kiosk.dropOff(form)
            #expect(offline.status == .serviceUnavailable)
            #expect(offline.alert == speech.dropoffOffline)
            form = offline

            let invalid = try await kiosk.dropOff(form)
            #expect(invalid.status == .unprocessableContent)
            #expect(
                invalid.alert == speech.invalidPrefix
                    + "Unknown recipient &lt;b&gt;&quot;r-1&quot;&lt;/b&gt; &amp; more")
            #expect(!invalid.html.contains("<b>"))
            form = invalid

            let lockdown = try await kiosk.dropOff(form)
            #expect(lockdown.status == .conflict)
            #expect(lockdown.h1 == speech.lockdownTitle)

            let form2 = try await kiosk.get("/courier/dropoff")
            let signedOut = try await kiosk.dropOff(form2)
            #expect(signedOut.status == .unauthorized)
            #expect(signedOut.alert == speech.sessionEnded)
            #expect(signedOut.h1 == speech.signInTitle)
            #expect(signedOut.cookie(courierCookie) == "")
            #expect(kiosk.cookies[courierCookie] == nil)
            #expect(locker.dropoffs.count == 5)
        }
    }

    @Test("a second tap on the same form opens nothing again")
    func doubleSubmission() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            let form = try await kiosk.signIn()
            let first = try await kiosk.dropOff(form)
            #expect(first.status == .ok)
            let again = try await kiosk.dropOff(form)
            #expect(again.status == .conflict)
            #expect(again.html.contains("That form was already sent; nothing was opened again."))
            #expect(locker.dropoffs.count == 1)
            // The form shown with that message works.
            let next = try await kiosk.dropOff(again)
            #expect(next.status == .ok)
            #expect(locker.dropoffs.count == 2)
            // A made-up value does nothing.
            let forged = try await kiosk.post(
                "/courier/dropoff", [("once", "00"), ("tracking", "T"), ("recipient", "R"), ("size", "S")])
            #expect(forged.status == .conflict)
            #expect(locker.dropoffs.count == 2)
        }
    }

    @Test("bad drop-off input gets a message and never reaches the backend")
    func dropoffInputLimits() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            let form = try await kiosk.signIn()
            let cases: [(String, String, String, String)] = [
                (String(repeating: "T", count: 65), "r", "S", "The tracking number can have at most 64 characters."),
                ("", "r", "S", "Enter the tracking number."),
                ("T", String(repeating: "r", count: 65), "S", "The recipient ID can have at most 64 characters."),
                ("T", " ", "S", "Enter the recipient ID."),
                ("T", "r", "XXL", "Choose the parcel size: S, M, L or XL."),
                ("T", "r", "s", "Choose the parcel size: S, M, L or XL."),
                ("T", "r", "", "Choose the parcel size: S, M, L or XL."),
                ("T\u{7}", "r", "S", "The entry contains characters that are not allowed."),
            ]
            for (t, r, s, message) in cases {
                let page = try await kiosk.dropOff(form, tracking: t, recipient: r, size: s)
                #expect(page.status == .badRequest, "\(message)")
                #expect(page.alert == message)
                #expect(page.once == form.once, "a refused form keeps its single-use value")
            }
            #expect(locker.dropoffs.isEmpty)
            let longest = try await kiosk.dropOff(
                form, tracking: String(repeating: "T", count: 64), recipient: String(repeating: "r", count: 64),
                size: "L")
            #expect(longest.status == .ok)
            #expect(locker.dropoffs.count == 1)

            let longCredential = try await kiosk.post(
                "/courier/sign-in", [("credential", String(repeating: "c", count: 257))])
            #expect(longCredential.status == .badRequest)
            #expect(longCredential.alert == "That credential is too long to be valid.")
            let emptyCredential = try await kiosk.post("/courier/sign-in", [("credential", "")])
            #expect(emptyCredential.alert == "Type or scan your credential first.")
            #expect(locker.signIns.count == 1)
            let atLimit = try await kiosk.post("/courier/sign-in", [("credential", String(repeating: "c", count: 256))])
            #expect(atLimit.status == .seeOther)
            #expect(locker.signIns.count == 2)
        }
    }

    @Test("an idle courier session ends after the timeout and is signed out")
    func idleExpiry() async throws {
        let locker = RecordingLocker()
        let clock = ManualClock()
        try await withKiosk(locker, clock: clock) { kiosk in
            _ = try await kiosk.signIn()
            clock.advance(by: .seconds(59))
            // A request within the timeout keeps the session going.
            let shown = try await kiosk.get("/courier/dropoff")
            #expect(shown.status == .ok)
            clock.advance(by: .seconds(59))
            let first = try await kiosk.dropOff(shown)
            #expect(first.status == .ok)
            #expect(locker.signOuts.isEmpty)
            clock.advance(by: .seconds(60))
            let expired = try await kiosk.dropOff(first)
            #expect(expired.status == .unauthorized)
            #expect(expired.alert == Speech.english.sessionEnded)
            #expect(locker.dropoffs.count == 1)
            #expect(locker.signOuts == [KioskCourier(handle: "h-1", displayName: "Parcel Express")])
        }
    }

    @Test("the idle timeout is configurable and ends sessions without a request")
    func idleTimeoutSetting() async throws {
        let locker = RecordingLocker()
        let clock = ManualClock()
        let routes = KioskRoutes(backend: locker, pages: KioskPages(), idleTimeoutSeconds: 30, now: { clock.now() })
        do {
            var kiosk = Kiosk(routes)
            let form = try await kiosk.signIn()
            #expect(form.idleReturn == "30 s")
            #expect(form.html.contains("this screen goes back to the start after 30 seconds."))
            clock.advance(by: .seconds(29))
            await routes.endIdleSessions()
            #expect(locker.signOuts.isEmpty)
            clock.advance(by: .seconds(1))
            await routes.endIdleSessions()
            #expect(locker.signOuts.count == 1)
            #expect(try await kiosk.get("/courier/dropoff").status == .unauthorized)
        }
    }

    @Test("going back to the start screen ends the courier's session")
    func startEndsSession() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.signIn()
            let stale = kiosk.cookies
            let start = try await kiosk.get("/")
            #expect(start.status == .ok)
            #expect(start.cookie(courierCookie) == "")
            #expect(locker.signOuts.count == 1)
            kiosk.cookies = stale
            #expect(try await kiosk.get("/courier/dropoff").status == .unauthorized)
        }
    }

    @Test("the sign-in page sends a signed-in courier to the form; a new sign-in replaces the old session")
    func signInAgain() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.signIn()
            let first = try #require(kiosk.cookies[courierCookie])
            let page = try await kiosk.get("/courier")
            #expect(page.status == .seeOther)
            #expect(page.headers[.location] == "/courier/dropoff")
            _ = try await kiosk.signIn()
            let second = try #require(kiosk.cookies[courierCookie])
            #expect(first != second)
            #expect(locker.signOuts.count == 1, "the replaced session is signed out")
        }
    }

    @Test("a made-up or malformed courier cookie is refused")
    func forgedCookie() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.signIn()
            for value in [
                String(repeating: "0", count: 32), "abc", String(repeating: "g", count: 32),
                String(repeating: "A", count: 32),
            ] {
                let page = try await kiosk.get("/courier/dropoff", headers: [.cookie: "\(courierCookie)=\(value)"])
                #expect(page.status == .unauthorized, "cookie \(value)")
            }
            let empty = try await kiosk.get("/courier/dropoff", headers: [.cookie: "\(courierCookie)="])
            #expect(empty.status == .seeOther && empty.headers[.location] == "/courier")
            #expect(locker.dropoffs.isEmpty)
        }
    }
}
