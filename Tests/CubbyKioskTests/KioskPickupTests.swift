import CubbyKiosk
import Foundation
import HTTPTypes
import NIOCore
import Testing

/// What the kiosk must say in one language; written out here, independently of the module's wording.
struct Speech: Sendable, CustomTestStringConvertible {
    var lang: String
    var startTitle: String
    var courierButton: String
    var offline: String
    var opened: String
    var rejected: String
    var lockedOut270: String
    var lockedOut60: String
    var lockedOut1: String
    var lockdownTitle: String
    var lockdownMessage: String
    var signInTitle: String
    var signInRefused: String
    var dropoffTitle: String
    var putParcel: String
    var unitFull: String
    var dropoffOffline: String
    var invalidPrefix: String
    var sessionEnded: String
    var signedOut: String
    var codeMissing: String
    var notFoundTitle: String

    var testDescription: String { lang }

    static let english = Speech(
        lang: "en", startTitle: "Pick up a parcel", courierButton: "I&#39;m a courier",
        offline: "This locker is offline. Pickups still work; deliveries may have to wait.",
        opened: "Compartment B3 is open — take your parcel and close the door.",
        rejected: "That code did not open a compartment. Check it and try again, or ask the building staff for help.",
        lockedOut270: "Too many codes were wrong. Try again in 4 minutes 30 seconds.",
        lockedOut60: "Too many codes were wrong. Try again in 1 minute.",
        lockedOut1: "Too many codes were wrong. Try again in 1 second.",
        lockdownTitle: "This locker is locked",
        lockdownMessage: "Staff have been alerted. Nothing can be picked up or delivered until they unlock it.",
        signInTitle: "Courier sign-in",
        signInRefused: "That credential was not accepted here. Check it and try again.",
        dropoffTitle: "Drop off parcels",
        putParcel: "Put parcel 1Z999AA10123456784 in compartment A4 and close the door.",
        unitFull: "No free compartment fits this parcel. Take it with you, or choose a smaller size if it fits one.",
        dropoffOffline: "The locker cannot reach the server, so drop-offs are not possible right now. Try again later.",
        invalidPrefix: "Not accepted: ",
        sessionEnded: "Your courier session has ended. Sign in again to continue.",
        signedOut: "You are signed out. Thank you.",
        codeMissing: "Type or scan a code first.",
        notFoundTitle: "Page not found")

    static let spanish = Speech(
        lang: "es", startTitle: "Recoger un paquete", courierButton: "Soy repartidor",
        offline: "Este casillero está sin conexión. Puede recoger paquetes; las entregas quizá tengan que esperar.",
        opened: "El compartimento B3 está abierto: saque su paquete y cierre la puerta.",
        rejected:
            "Ese código no abrió ningún compartimento. Revíselo e inténtelo de nuevo, o pida ayuda al personal del edificio.",
        lockedOut270: "Demasiados códigos incorrectos. Vuelva a intentarlo dentro de 4 minutos y 30 segundos.",
        lockedOut60: "Demasiados códigos incorrectos. Vuelva a intentarlo dentro de 1 minuto.",
        lockedOut1: "Demasiados códigos incorrectos. Vuelva a intentarlo dentro de 1 segundo.",
        lockdownTitle: "Este casillero está bloqueado",
        lockdownMessage: "Se ha avisado al personal. No se puede recoger ni entregar nada hasta que lo desbloqueen.",
        signInTitle: "Acceso de repartidores",
        signInRefused: "Esa credencial no se aceptó aquí. Revísela e inténtelo de nuevo.",
        dropoffTitle: "Dejar paquetes",
        putParcel: "Ponga el paquete 1Z999AA10123456784 en el compartimento A4 y cierre la puerta.",
        unitFull:
            "Ningún compartimento libre es adecuado para este paquete. Lléveselo, o elija un tamaño menor si cabe en uno.",
        dropoffOffline:
            "El casillero no puede conectar con el servidor, así que ahora no se pueden dejar paquetes. Inténtelo más tarde.",
        invalidPrefix: "No aceptado: ",
        sessionEnded: "Su sesión de repartidor ha terminado. Inicie sesión de nuevo para continuar.",
        signedOut: "Ha cerrado la sesión. Gracias.",
        codeMissing: "Primero escriba o escanee un código.",
        notFoundTitle: "Página no encontrada")

    static let both = [english, spanish]
}

@Suite("Kiosk: start screen and pickups")
struct KioskPickupTests {
    @Test("the start screen in each language", arguments: Speech.both)
    func startScreen(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            let page = try await kiosk.get("/?lang=\(speech.lang)")
            #expect(page.status == .ok)
            #expect(page.htmlLang == speech.lang)
            #expect(page.h1 == speech.startTitle)
            #expect(page.html.contains("Lobby A"))
            #expect(page.html.contains(speech.courierButton))
            #expect(page.html.contains(#"href="/courier""#))
            #expect(page.idleReturn == nil, "the start screen itself stays")
            #expect(!page.html.contains(speech.offline))
            // The PIN field: numeric keypad, no autocomplete, as long as a PIN.
            let pin = try #require(Page.firstMatch(#"(<input id="pin"[^>]*>)"#, in: page.html))
            #expect(
                pin.contains(#"inputmode="numeric""#) && pin.contains(#"autocomplete="off""#)
                    && pin.contains(#"maxlength="8""#))
            #expect(page.html.contains(#"<label for="pin">"#))
            // The scanner field has the focus so a scanned code lands in it.
            let qr = try #require(Page.firstMatch(#"(<input id="qr"[^>]*>)"#, in: page.html))
            #expect(qr.contains("autofocus") && qr.contains(#"maxlength="512""#))
            #expect(page.html.contains(#"<input id="rfid""#) && page.html.contains(#"<label for="rfid">"#))
            #expect(page.html.contains(#"<input type="hidden" name="method" value="pin">"#))
            #expect(page.html.contains(#"<main id="main">"#))
            // The switch offers both languages, marking the current one.
            #expect(
                page.html.contains(#"href="/?lang=en" lang="en""#) && page.html.contains(#"href="/?lang=es" lang="es""#)
            )
            #expect(page.html.contains(#"hreflang="\#(speech.lang)" aria-current="true""#))
            #expect(page.cookie("cubby_kiosk_lang") == speech.lang)
        }
    }

    @Test("the language: the switch's cookie, then Accept-Language, then English")
    func languageChoice() async throws {
        try await withKiosk(RecordingLocker()) { kiosk in
            #expect(try await kiosk.get("/").htmlLang == "en")
            #expect(try await kiosk.get("/", headers: [.acceptLanguage: "es-MX,es;q=0.9,en;q=0.5"]).htmlLang == "es")
            #expect(try await kiosk.get("/", headers: [.acceptLanguage: "fr-FR, en;q=0.3, es;q=0.8"]).htmlLang == "es")
            #expect(try await kiosk.get("/", headers: [.acceptLanguage: "de-DE, fr;q=0.5"]).htmlLang == "en")
            #expect(try await kiosk.get("/", headers: [.acceptLanguage: "es;q=0, en"]).htmlLang == "en")
            #expect(try await kiosk.get("/?lang=xx").htmlLang == "en")
            // The switch remembers the choice over the browser's language.
            _ = try await kiosk.get("/?lang=es")
            #expect(try await kiosk.get("/courier", headers: [.acceptLanguage: "en"]).htmlLang == "es")
            _ = try await kiosk.get("/?lang=en")
            #expect(try await kiosk.get("/courier", headers: [.acceptLanguage: "es"]).htmlLang == "en")
        }
    }

    @Test("the start screen after the idle timeout (/?idle=1) forgets the chosen language")
    func idleReturnForgetsLanguage() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=es")
            #expect(kiosk.cookies["cubby_kiosk_lang"] == "es")
            // Plain "/" keeps the choice: the visitor may still be there.
            let plain = try await kiosk.get("/")
            #expect(plain.htmlLang == "es")
            #expect(plain.cookie("cubby_kiosk_lang") == nil)
            #expect(try await kiosk.get("/?idle=0").htmlLang == "es")

            let idle = try await kiosk.get("/?idle=1")
            #expect(idle.status == .ok)
            #expect(idle.h1 == Speech.english.startTitle)
            #expect(idle.htmlLang == "en", "the default language, not the last visitor's")
            #expect(idle.idleReturn == nil, "the start screen stays")
            let cleared = try #require(idle.setCookies.first { $0.hasPrefix("cubby_kiosk_lang=") })
            #expect(cleared.hasPrefix("cubby_kiosk_lang=;") && cleared.contains("Max-Age=0"))
            #expect(cleared.contains("Path=/") && cleared.contains("HttpOnly") && cleared.contains("SameSite=Strict"))
            #expect(kiosk.cookies["cubby_kiosk_lang"] == nil)
            #expect(try await kiosk.get("/courier").htmlLang == "en", "the next visitor gets the default")

            // The cookie is ignored even when the browser still sends it, and the browser's own language counts.
            let stale: HTTPFields = [.cookie: "cubby_kiosk_lang=es"]
            let again = try await kiosk.get("/?idle=1", headers: stale)
            #expect(again.htmlLang == "en")
            #expect(again.cookie("cubby_kiosk_lang") == "")
            var withBrowserLanguage = stale
            withBrowserLanguage[.acceptLanguage] = "es-MX,es;q=0.9"
            _ = try await kiosk.get("/?lang=en")
            #expect(try await kiosk.get("/?idle=1", headers: withBrowserLanguage).htmlLang == "es")
            // A choice made on that very request still wins and is remembered.
            let chosen = try await kiosk.get("/?idle=1&lang=es")
            #expect(chosen.htmlLang == "es")
            #expect(chosen.cookie("cubby_kiosk_lang") == "es")
            #expect(chosen.setCookies.filter { $0.hasPrefix("cubby_kiosk_lang=") }.count == 1)
        }
    }

    @Test("the idle return ends a courier's session and forgets the language under lockdown too")
    func idleReturnEndsSession() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=es")
            _ = try await kiosk.signIn()
            let start = try await kiosk.get("/?idle=1")
            #expect(start.cookie(courierCookie) == "")
            #expect(locker.signOuts.count == 1)
            _ = try await kiosk.get("/?lang=es")
            locker.set { $0.status.lockedDown = true }
            let lockdown = try await kiosk.get("/?idle=1")
            #expect(lockdown.status == .serviceUnavailable)
            #expect(lockdown.htmlLang == "en")
            #expect(lockdown.cookie("cubby_kiosk_lang") == "")
            #expect(lockdown.idleReturn == "60 s", "the lockdown screen looks again for a release")
        }
    }

    @Test("the offline banner, and pickups still go through", arguments: Speech.both)
    func offline(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        locker.set {
            $0.status.online = false
            $0.pickupResult = .opened(compartmentLabel: "B3")
        }
        try await withKiosk(locker) { kiosk in
            let start = try await kiosk.get("/?lang=\(speech.lang)")
            #expect(start.html.contains(#"role="status" id="offline">\#(speech.offline)"#))
            let opened = try await kiosk.post("/pickup", [("method", "pin"), ("code", "12345678")])
            #expect(opened.status == .ok)
            #expect(opened.result == speech.opened)
            #expect(locker.pickups.count == 1)
        }
    }

    @Test("a good code opens the door", arguments: Speech.both)
    func opened(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        locker.set { $0.pickupResult = .opened(compartmentLabel: "B3") }
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            let page = try await kiosk.post("/pickup", [("method", "pin"), ("code", " 12345678\r\n")])
            #expect(page.status == .ok)
            #expect(page.htmlLang == speech.lang)
            #expect(page.result == speech.opened)
            #expect(page.idleReturn == "60 s")
            #expect(page.html.contains(#"href="/" id="finished""#))
            let calls = locker.pickups
            #expect(calls.count == 1)
            #expect(calls.first?.code == "12345678", "surrounding white space (a scanner's Enter) is trimmed")
            #expect(calls.first?.method == .pin)
        }
    }

    @Test(
        "every rejected code gets the same message, whatever the method, and the code is never shown",
        arguments: Speech.both)
    func rejectedIsOneMessage(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            var bodies: [String] = []
            for (method, code) in [("pin", "40404040"), ("qr", "QRTOKEN-zz9-Secret"), ("rfid", "0004417733")] {
                let page = try await kiosk.post("/pickup", [("method", method), ("code", code)])
                #expect(page.status == .forbidden)
                #expect(page.alert == speech.rejected, "method \(method)")
                #expect(!page.html.contains(code), "the page echoes the \(method) code")
                #expect(page.idleReturn == "60 s")
                #expect(page.html.contains(#"<input id="pin""#), "the forms are there to try again")
                bodies.append(page.html)
            }
            #expect(Set(bodies).count == 1, "the three failure pages differ")
            #expect(locker.pickups.map(\.method) == [.pin, .qr, .rfid])
            #expect(locker.pickups.map(\.code) == ["40404040", "QRTOKEN-zz9-Secret", "0004417733"])
        }
    }

    @Test("too many wrong codes: the wait in minutes and seconds", arguments: Speech.both)
    func lockedOut(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            for (seconds, text) in [(270, speech.lockedOut270), (60, speech.lockedOut60), (1, speech.lockedOut1)] {
                locker.set { $0.pickupResult = .lockedOut(retryAfterSeconds: seconds) }
                let page = try await kiosk.post("/pickup", [("method", "qr"), ("code", "abc")])
                #expect(page.status == .tooManyRequests)
                #expect(page.alert == text)
                #expect(page.headers[.retryAfter] == String(seconds))
                #expect(page.idleReturn == "60 s")
            }
        }
    }

    @Test("a pickup answered with lockdown shows the lockdown screen", arguments: Speech.both)
    func pickupAnsweredLockdown(_ speech: Speech) async throws {
        let locker = RecordingLocker()
        locker.set { $0.pickupResult = .lockedDown }
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=\(speech.lang)")
            let page = try await kiosk.post("/pickup", [("method", "rfid"), ("code", "77")])
            #expect(page.status == .conflict)
            #expect(page.h1 == speech.lockdownTitle)
            #expect(page.html.contains(speech.lockdownMessage))
            #expect(!page.html.contains("<form"))
        }
    }

    @Test("bad pickup input gets a message and never reaches the backend")
    func pickupInputLimits() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            let tooLong = try await kiosk.post(
                "/pickup", [("method", "qr"), ("code", String(repeating: "7", count: 513))])
            #expect(tooLong.status == .badRequest)
            #expect(tooLong.alert == "That code is too long to be a pickup code.")
            let empty = try await kiosk.post("/pickup", [("method", "pin"), ("code", "  ")])
            #expect(empty.status == .badRequest)
            #expect(empty.alert == Speech.english.codeMissing)
            let absent = try await kiosk.post("/pickup", [("method", "pin")])
            #expect(absent.alert == Speech.english.codeMissing)
            let control = try await kiosk.post("/pickup", [("method", "qr"), ("code", "ab\u{0}cd")])
            #expect(control.status == .badRequest)
            #expect(control.alert == "The entry contains characters that are not allowed.")
            for method in ["", "PIN", "nfc", "pin "] {
                let page = try await kiosk.post("/pickup", [("method", method), ("code", "12345678")])
                #expect(page.status == .badRequest, "method \(method)")
                #expect(page.alert == "The form could not be read. Go back to the start and try again.")
            }
            #expect(locker.pickups.isEmpty)
            // Exactly at the limit it goes through.
            let atLimit = String(repeating: "7", count: 512)
            let page = try await kiosk.post("/pickup", [("method", "qr"), ("code", atLimit)])
            #expect(page.status == .forbidden)
            #expect(locker.pickups.map(\.code) == [atLimit])
        }
    }

    @Test("a Spanish error for bad input")
    func spanishInputError() async throws {
        let locker = RecordingLocker()
        try await withKiosk(locker) { kiosk in
            _ = try await kiosk.get("/?lang=es")
            let page = try await kiosk.post("/pickup", [("method", "pin"), ("code", "")])
            #expect(page.htmlLang == "es")
            #expect(page.alert == Speech.spanish.codeMissing)
        }
    }

    @Test("names from the backend are escaped")
    func escaping() async throws {
        let locker = RecordingLocker()
        locker.set {
            $0.status.unitName = #"<script>alert("x")</script> & Co"#
            $0.pickupResult = .opened(compartmentLabel: "<b>B3</b>")
        }
        try await withKiosk(locker) { kiosk in
            let start = try await kiosk.get("/")
            #expect(!start.html.contains("<script>"))
            #expect(start.html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co"))
            let opened = try await kiosk.post("/pickup", [("method", "pin"), ("code", "1")])
            #expect(opened.html.contains("Compartment &lt;b&gt;B3&lt;/b&gt; is open"))
        }
    }
}
