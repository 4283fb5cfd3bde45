import CubbyCore
import HTTPTypes
import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The kiosk page of a locker unit: pickup by PIN, QR code or RFID card, and the courier's drop-off flow.
///
/// Served by `cubby-edge` on the loopback interface for the unit's touch screen. Every page works
/// without JavaScript; every form posts back to the page itself and nowhere else. The one script,
/// `idle.js`, only takes a page back to the start screen after the idle timeout.
public struct KioskRoutes: Sendable {
    /// Seconds without a touch after which a page goes back to the start and a courier is signed out.
    public static let defaultIdleTimeoutSeconds = 60

    let backend: any KioskBackend
    let pages: KioskPages
    let idleSeconds: Int
    let sessions: KioskCourierSessions
    let logger: Logger

    /// The largest request body the kiosk reads (its largest form, filled within its limits, fits).
    public static let maxRequestBody = KioskForm.maxBytes

    static let courierCookie = "cubby_kiosk_courier"
    static let languageCookie = "cubby_kiosk_lang"

    /// Serves the unit behind `backend` with the templates in `pages`.
    ///
    /// - Parameters:
    ///   - idleTimeoutSeconds: how long a page other than the start screen, and a courier's session, lasts untouched.
    ///   - now: the clock for the courier sessions' idle timeout.
    public init(
        backend: any KioskBackend,
        pages: KioskPages,
        idleTimeoutSeconds: Int = KioskRoutes.defaultIdleTimeoutSeconds,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now },
        logger: Logger = Logger(label: "cubby.kiosk")
    ) {
        self.backend = backend
        self.pages = pages
        self.idleSeconds = max(1, idleTimeoutSeconds)
        self.sessions = KioskCourierSessions(idleTimeout: .seconds(self.idleSeconds), now: now)
        self.logger = logger
    }

    /// Answers one request: the shield's checks, the page, and the security headers on every answer.
    public func respond(to request: LocalRequest) async -> LocalResponse {
        var response: LocalResponse
        if request.method != .get && request.method != .head && KioskShield.isForeign(request) {
            response = await shieldPage(request, title: \.refusedTitle, message: \.crossSite, status: .forbidden)
        } else {
            response = await route(request)
        }
        for (name, value) in KioskShield.securityHeaders { response.headers[name] = value }
        return response
    }

    /// The page for a path and method; HEAD is answered as GET (the server leaves out the body).
    func route(_ request: LocalRequest) async -> LocalResponse {
        let path = KioskShield.normalised(request.path)
        let read = request.method == .get || request.method == .head
        switch (path, read ? HTTPRequest.Method.get : request.method) {
        case ("/", .get): return await start(request)
        case ("/static/kiosk.css", .get): return pages.css()
        case ("/static/idle.js", .get): return pages.script()
        case ("/pickup", .post): return await pickup(request)
        case ("/courier", .get): return await courierSignInPage(request)
        case ("/courier/sign-in", .post): return await courierSignIn(request)
        case ("/courier/dropoff", .get): return await dropoffPage(request)
        case ("/courier/dropoff", .post): return await dropoff(request)
        case ("/courier/done", .post): return await courierDone(request)
        default:
            if let allowed = Self.allowedMethods[path] {
                var response = await shieldPage(
                    request, title: \.wrongMethodTitle, message: \.wrongMethod, status: .methodNotAllowed)
                response.headers[.allow] = allowed
                return response
            }
            return await shieldPage(request, title: \.notFoundTitle, message: \.notFound, status: .notFound)
        }
    }

    /// A page of the shield's own: not found, wrong method, refused.
    func shieldPage(
        _ request: LocalRequest, title: KeyPath<KioskWording, String>, message: KeyPath<KioskWording, String>,
        status: HTTPResponse.Status
    ) async -> LocalResponse {
        let (language, _) = Self.language(for: request)
        let w = language.wording
        let screen = KioskScreen(
            content: .message(nil), title: w[keyPath: title], status: status, error: w[keyPath: message])
        return pages.render(screen, language: language, unit: await backend.status(), idleSeconds: idleSeconds)
    }

    /// The methods each path answers; any other method on these paths gets 405.
    static let allowedMethods: [String: String] = [
        "/": "GET, HEAD", "/static/kiosk.css": "GET, HEAD", "/static/idle.js": "GET, HEAD", "/pickup": "POST",
        "/courier": "GET, HEAD", "/courier/sign-in": "POST", "/courier/dropoff": "GET, HEAD, POST",
        "/courier/done": "POST",
    ]

    /// Ends the courier sessions idle past the timeout and signs them out at the backend.
    ///
    /// Every request does this too; call it on a timer so a walked-away courier is signed out on time.
    public func endIdleSessions() async {
        for courier in await sessions.endIdle() { await backend.courierSignOut(courier) }
    }

    // MARK: the visit

    /// What every page needs to know about the request: language, the unit, the courier cookie.
    struct Visit {
        var language: KioskLanguage
        var unit: KioskStatus
        var courierToken: String?
        var cookies: [String] = []
        var wording: KioskWording { language.wording }
    }

    /// - Parameter forgetLanguage: drop the remembered language (the start screen after the idle timeout),
    ///   so the next person is not shown the last one's choice.
    func visit(_ request: LocalRequest, forgetLanguage: Bool = false) async -> Visit {
        await endIdleSessions()
        let (language, chosen) = Self.language(for: request, ignoringCookie: forgetLanguage)
        var visit = Visit(
            language: language, unit: await backend.status(), courierToken: request.cookie(Self.courierCookie))
        if chosen {
            visit.cookies.append(Self.cookie(Self.languageCookie, language.rawValue))
        } else if forgetLanguage {
            visit.cookies.append(Self.cookie(Self.languageCookie, "", clear: true))
        }
        return visit
    }

    /// The language from `?lang=` (remembered in a cookie), else the cookie (unless `ignoringCookie`), else
    /// `Accept-Language`, else English.
    static func language(for request: LocalRequest, ignoringCookie: Bool = false) -> (KioskLanguage, chosen: Bool) {
        if let asked = request.query("lang"), let language = KioskLanguage(rawValue: asked) {
            return (language, true)
        }
        if !ignoringCookie, let remembered = request.cookie(languageCookie),
            let language = KioskLanguage(rawValue: remembered)
        {
            return (language, false)
        }
        if let header = request.headers[.acceptLanguage], let language = KioskLanguage.preferred(acceptLanguage: header)
        {
            return (language, false)
        }
        return (.english, false)
    }

    static func cookie(_ name: String, _ value: String, clear: Bool = false) -> String {
        "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict" + (clear ? "; Max-Age=0" : "")
    }

    func show(_ screen: KioskScreen, _ visit: Visit) -> LocalResponse {
        var response = pages.render(screen, language: visit.language, unit: visit.unit, idleSeconds: idleSeconds)
        for cookie in visit.cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }

    func redirect(_ location: String, _ visit: Visit) -> LocalResponse {
        var response = LocalResponse(status: .seeOther, headers: [.location: location])
        for cookie in visit.cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }

    /// Signs out the courier behind the visit's cookie, if any, and clears the cookie.
    func endCourierSession(_ visit: inout Visit) async {
        guard let token = visit.courierToken else { return }
        if let courier = await sessions.end(token) { await backend.courierSignOut(courier) }
        visit.courierToken = nil
        visit.cookies.append(Self.cookie(Self.courierCookie, "", clear: true))
    }

    // MARK: screens

    func startScreen(_ visit: Visit, error: String? = nil, status: HTTPResponse.Status = .ok) -> KioskScreen {
        let pinLength = max(1, visit.unit.pinLength)
        return KioskScreen(
            content: .start(pinLength: pinLength, pinHint: visit.wording.pinHint(pinLength)),
            title: visit.wording.startTitle,
            status: status, returnsWhenIdle: error != nil, error: error)
    }

    func lockdownScreen(_ visit: Visit, status: HTTPResponse.Status, switchPath: String = "/") -> KioskScreen {
        KioskScreen(content: .lockdown, title: visit.wording.lockdownTitle, status: status, switchPath: switchPath)
    }

    func messageScreen(
        _ visit: Visit, title: String, message: String?, status: HTTPResponse.Status, alert: Bool = true
    ) -> KioskScreen {
        KioskScreen(
            content: .message(alert ? nil : message), title: title, status: status, error: alert ? message : nil)
    }

    func unreadableScreen(_ visit: Visit, _ reason: KioskForm.Unreadable) -> KioskScreen {
        switch reason {
        case .notAForm:
            messageScreen(
                visit, title: visit.wording.failureTitle, message: visit.wording.formUnreadable, status: .badRequest)
        case .tooLarge:
            messageScreen(
                visit, title: visit.wording.failureTitle, message: visit.wording.formTooLarge, status: .contentTooLarge)
        }
    }

    func signInScreen(_ visit: Visit, error: String? = nil, status: HTTPResponse.Status = .ok) -> KioskScreen {
        KioskScreen(
            content: .signIn, title: visit.wording.signInTitle, status: status, switchPath: "/courier", error: error)
    }

    /// The drop-off form; `entered` refills it after a refusal so the courier need not type it again.
    func dropoffScreen(
        _ visit: Visit, courier: KioskCourier, once: String, result: String? = nil, error: String? = nil,
        notice: String? = nil, entered: (tracking: String, recipient: String, size: String)? = nil,
        status: HTTPResponse.Status = .ok
    ) -> KioskScreen {
        let w = visit.wording
        let labels = [w.sizeSmall, w.sizeMedium, w.sizeLarge, w.sizeExtraLarge]
        var form = KioskScreen.DropoffForm(
            signedInAs: w.signedInAs(courier.displayName), once: once,
            sizes: zip(KioskForm.sizes, labels).map { ($0, $1, entered?.size == $0) }, result: result)
        if let entered {
            form.tracking = String(entered.tracking.prefix(KioskForm.maxTracking))
            form.recipient = String(entered.recipient.prefix(KioskForm.maxRecipient))
        }
        return KioskScreen(
            content: .dropoff(form), title: w.dropoffTitle, status: status, switchPath: "/courier/dropoff",
            error: error, notice: notice)
    }

    static func refusal(_ refusal: KioskForm.Refusal, missing: String, tooLong: String, _ w: KioskWording) -> String {
        switch refusal {
        case .missing: missing
        case .tooLong: tooLong
        case .controlCharacters: w.controlCharacters
        }
    }

    static func wait(_ seconds: Int, _ w: KioskWording) -> String {
        let seconds = max(1, seconds)
        return w.wait(seconds / 60, seconds % 60)
    }

    // MARK: recipients

    /// The start screen; `?idle=1` (where `idle.js` goes when the idle timeout runs out) also forgets the
    /// language chosen on the switch.
    func start(_ request: LocalRequest) async -> LocalResponse {
        var visit = await visit(request, forgetLanguage: request.query("idle") == "1")
        await endCourierSession(&visit)
        if visit.unit.lockedDown { return show(lockdownScreen(visit, status: .serviceUnavailable), visit) }
        return show(startScreen(visit), visit)
    }

    func pickup(_ request: LocalRequest) async -> LocalResponse {
        let visit = await visit(request)
        let w = visit.wording
        if visit.unit.lockedDown { return show(lockdownScreen(visit, status: .conflict), visit) }
        let form: KioskForm
        do { form = try KioskForm.read(request) } catch { return show(unreadableScreen(visit, error), visit) }
        guard let method = KioskCodeMethod(rawValue: form["method"]) else {
            return show(unreadableScreen(visit, .notAForm), visit)
        }
        let code: String
        switch KioskForm.text(form["code"], limit: KioskForm.maxCode) {
        case .success(let value): code = value
        case .failure(let refusal):
            let message = Self.refusal(refusal, missing: w.codeMissing, tooLong: w.codeTooLong, w)
            return show(startScreen(visit, error: message, status: .badRequest), visit)
        }
        let result = await backend.pickup(code: code, method: method)
        logger.debug("kiosk pickup", metadata: ["method": "\(method.rawValue)", "result": "\(Self.outcome(result))"])
        switch result {
        case .opened(let compartment):
            return show(KioskScreen(content: .opened(w.opened(compartment)), title: w.openedTitle), visit)
        case .rejected:
            return show(startScreen(visit, error: w.rejected, status: .forbidden), visit)
        case .lockedOut(let retryAfter):
            var screen = messageScreen(
                visit, title: w.lockedOutTitle, message: w.lockedOut(Self.wait(retryAfter, w)), status: .tooManyRequests
            )
            screen.headers.append((.retryAfter, String(max(1, retryAfter))))
            return show(screen, visit)
        case .lockedDown:
            return show(lockdownScreen(visit, status: .conflict), visit)
        }
    }

    /// The result's kind without its details, for the log.
    static func outcome(_ result: KioskPickupResult) -> String {
        switch result {
        case .opened: "opened"
        case .rejected: "rejected"
        case .lockedOut: "locked-out"
        case .lockedDown: "locked-down"
        }
    }

    // MARK: couriers

    func courierSignInPage(_ request: LocalRequest) async -> LocalResponse {
        let visit = await visit(request)
        if visit.unit.lockedDown {
            return show(lockdownScreen(visit, status: .serviceUnavailable, switchPath: "/courier"), visit)
        }
        if let token = visit.courierToken, await sessions.touch(token) != nil {
            return redirect("/courier/dropoff", visit)
        }
        return show(signInScreen(visit), visit)
    }

    func courierSignIn(_ request: LocalRequest) async -> LocalResponse {
        var visit = await visit(request)
        let w = visit.wording
        if visit.unit.lockedDown {
            return show(lockdownScreen(visit, status: .conflict, switchPath: "/courier"), visit)
        }
        let form: KioskForm
        do { form = try KioskForm.read(request) } catch { return show(unreadableScreen(visit, error), visit) }
        let credential: String
        switch KioskForm.text(form["credential"], limit: KioskForm.maxCredential) {
        case .success(let value): credential = value
        case .failure(let refusal):
            let message = Self.refusal(refusal, missing: w.credentialMissing, tooLong: w.credentialTooLong, w)
            return show(signInScreen(visit, error: message, status: .badRequest), visit)
        }
        guard let courier = await backend.courierSignIn(credential: credential) else {
            let message = visit.unit.online ? w.signInRefused : w.signInRefusedOffline
            return show(signInScreen(visit, error: message, status: .forbidden), visit)
        }
        await endCourierSession(&visit)
        let (token, pushedOut) = await sessions.open(courier)
        for old in pushedOut { await backend.courierSignOut(old) }
        visit.cookies.append(Self.cookie(Self.courierCookie, token))
        return redirect("/courier/dropoff", visit)
    }

    /// The sign-in page saying the session has ended, and the cookie cleared.
    func sessionEndedScreen(_ visit: inout Visit) async -> KioskScreen {
        await endCourierSession(&visit)
        return signInScreen(visit, error: visit.wording.sessionEnded, status: .unauthorized)
    }

    func dropoffPage(_ request: LocalRequest) async -> LocalResponse {
        var visit = await visit(request)
        if visit.unit.lockedDown {
            return show(lockdownScreen(visit, status: .serviceUnavailable, switchPath: "/courier/dropoff"), visit)
        }
        guard let token = visit.courierToken else { return redirect("/courier", visit) }
        guard let session = await sessions.touch(token) else { return show(await sessionEndedScreen(&visit), visit) }
        return show(dropoffScreen(visit, courier: session.courier, once: session.formOnce), visit)
    }

    func dropoff(_ request: LocalRequest) async -> LocalResponse {
        var visit = await visit(request)
        let w = visit.wording
        if visit.unit.lockedDown {
            return show(lockdownScreen(visit, status: .conflict, switchPath: "/courier/dropoff"), visit)
        }
        guard let token = visit.courierToken, let session = await sessions.touch(token) else {
            return show(await sessionEndedScreen(&visit), visit)
        }
        let form: KioskForm
        do { form = try KioskForm.read(request) } catch { return show(unreadableScreen(visit, error), visit) }
        let entered = (
            tracking: form["tracking"].trimmingWhitespace(),
            recipient: form["recipient"].trimmingWhitespace(), size: form["size"]
        )
        func refuse(_ message: String) -> LocalResponse {
            show(
                dropoffScreen(
                    visit, courier: session.courier, once: session.formOnce, error: message, entered: entered,
                    status: .badRequest), visit)
        }
        let tracking: String
        let recipient: String
        switch KioskForm.text(form["tracking"], limit: KioskForm.maxTracking) {
        case .success(let value): tracking = value
        case .failure(let refusal):
            return refuse(Self.refusal(refusal, missing: w.trackingMissing, tooLong: w.trackingTooLong, w))
        }
        switch KioskForm.text(form["recipient"], limit: KioskForm.maxRecipient) {
        case .success(let value): recipient = value
        case .failure(let refusal):
            return refuse(Self.refusal(refusal, missing: w.recipientMissing, tooLong: w.recipientTooLong, w))
        }
        guard let size = KioskForm.size(form["size"]) else { return refuse(w.sizeMissing) }
        guard let next = await sessions.claimForm(token, once: form["once"]) else {
            let current = await sessions.touch(token)?.formOnce ?? session.formOnce
            return show(
                dropoffScreen(visit, courier: session.courier, once: current, notice: w.alreadySent, status: .conflict),
                visit)
        }
        let result = await backend.dropoff(
            courier: session.courier, trackingNumber: tracking, recipientId: recipient, size: size)
        func again(error: String, status: HTTPResponse.Status) -> LocalResponse {
            show(
                dropoffScreen(
                    visit, courier: session.courier, once: next, error: error, entered: entered, status: status), visit)
        }
        switch result {
        case .opened(let compartment):
            return show(
                dropoffScreen(visit, courier: session.courier, once: next, result: w.putParcel(tracking, compartment)),
                visit)
        case .unitFull:
            return again(error: w.unitFull, status: .conflict)
        case .offline:
            return again(error: w.dropoffOffline, status: .serviceUnavailable)
        case .invalid(let message):
            return again(error: w.dropoffInvalid(String(message.prefix(500))), status: .unprocessableContent)
        case .signedOut:
            if await sessions.end(token) != nil { logger.debug("kiosk courier sign-in no longer valid") }
            visit.courierToken = nil
            visit.cookies.append(Self.cookie(Self.courierCookie, "", clear: true))
            return show(signInScreen(visit, error: w.sessionEnded, status: .unauthorized), visit)
        case .lockedDown:
            return show(lockdownScreen(visit, status: .conflict, switchPath: "/courier/dropoff"), visit)
        }
    }

    func courierDone(_ request: LocalRequest) async -> LocalResponse {
        var visit = await visit(request)
        await endCourierSession(&visit)
        if visit.unit.lockedDown { return show(lockdownScreen(visit, status: .conflict), visit) }
        let w = visit.wording
        return show(
            messageScreen(visit, title: w.signedOutTitle, message: w.signedOut, status: .ok, alert: false), visit)
    }
}
