import HTTPTypes
import NIOCore

/// The kiosk's server-rendered pages, one stylesheet and one small script, all compiled into the program.
///
/// Every value from outside the page (names, messages, what was typed) goes through `escape`.
public struct KioskPages: Sendable {
    public init() {}

    /// Renders a screen in `language`; `unit` fills the header and the offline banner when known.
    func render(_ screen: KioskScreen, language: KioskLanguage, unit: KioskStatus?, idleSeconds: Int) -> LocalResponse {
        let t = language.wording
        var html = header(screen, language: language, unit: unit, idleSeconds: idleSeconds)
        html += content(screen, t)
        if screen.returnsWhenIdle {
            html += #"<p class="hint idle" id="idle-note">\#(escape(t.idleNote(idleSeconds)))</p>"# + "\n"
        }
        html += "</main>\n</body>\n</html>\n"
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        for (name, value) in screen.headers { headers.append(HTTPField(name: name, value: value)) }
        return LocalResponse(status: screen.status, headers: headers, body: ByteBuffer(string: html))
    }

    func css() -> LocalResponse {
        LocalResponse(status: .ok, contentType: "text/css; charset=utf-8", text: KioskAssets.stylesheet)
    }

    func script() -> LocalResponse {
        LocalResponse(status: .ok, contentType: "text/javascript; charset=utf-8", text: KioskAssets.idleScript)
    }

    /// HTML-escapes text for an element's content or a quoted attribute.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    private func escape(_ text: String) -> String { Self.escape(text) }

    private func header(_ screen: KioskScreen, language: KioskLanguage, unit: KioskStatus?, idleSeconds: Int) -> String
    {
        let t = language.wording
        let title = escape(screen.title)
        let path = escape(screen.switchPath)
        var html = """
            <!doctype html>
            <html lang="\(language.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · \(escape(t.brand))</title>
            <link rel="stylesheet" href="/static/kiosk.css">

            """
        if screen.returnsWhenIdle {
            html +=
                "<script src=\"/static/idle.js\" defer></script>\n</head>\n<body data-idle-seconds=\"\(idleSeconds)\">\n"
        } else {
            html += "</head>\n<body>\n"
        }
        let unitName = unit.map { #" <strong class="unit-name">\#(escape($0.unitName))</strong>"# } ?? ""
        let current = #" aria-current="true""#
        html += """
            <header class="bar">
            <p class="unit"><span class="brand">\(escape(t.brand))</span>\(unitName)</p>
            <nav aria-label="\(escape(t.languageNav))">
            <ul class="languages">
            <li><a href="\(path)?lang=en" lang="en" hreflang="en"\(language == .english ? current : "")>English</a></li>
            <li><a href="\(path)?lang=es" lang="es" hreflang="es"\(language == .spanish ? current : "")>Español</a></li>
            </ul>
            </nav>

            """
        if let unit, !unit.online, !unit.lockedDown {
            html += #"<p class="banner" role="status" id="offline">\#(escape(t.offlineBanner))</p>"#
        }
        html += "\n</header>\n<main id=\"main\">\n<h1>\(title)</h1>\n"
        if let error = screen.error {
            html += #"<div class="alert" role="alert" id="alert"><p>\#(escape(error))</p></div>"# + "\n"
        }
        if let notice = screen.notice {
            html += #"<div class="notice" role="status" id="notice"><p>\#(escape(notice))</p></div>"# + "\n"
        }
        return html
    }

    /// One way to pick up (PIN, QR code, card) on the start screen: a heading and a one-field form.
    private func method(_ id: String, heading: String, label: String, hint: String, button: String, input: String)
        -> String
    {
        """
        <section class="method" aria-labelledby="\(id)-heading">
        <h2 id="\(id)-heading">\(escape(heading))</h2>
        <form method="post" action="/pickup" autocomplete="off">
        <input type="hidden" name="method" value="\(id)">
        <label for="\(id)">\(escape(label))</label>
        <input id="\(id)" name="code" type="text" \(input) aria-describedby="\(id)-hint">
        <p class="hint" id="\(id)-hint">\(escape(hint))</p>
        <button type="submit">\(escape(button))</button>
        </form>
        </section>

        """
    }

    private func content(_ screen: KioskScreen, _ t: KioskWording) -> String {
        let described = screen.error == nil ? "" : #" aria-describedby="alert""#
        switch screen.content {
        case .start(let pinLength, let pinHint):
            let pin = method(
                "pin", heading: t.pinHeading, label: t.pinLabel, hint: pinHint, button: t.pinButton,
                input: #"inputmode="numeric" autocomplete="off" spellcheck="false" maxlength="\#(pinLength)" required"#)
            let qr = method(
                "qr", heading: t.qrHeading, label: t.qrLabel, hint: t.qrHint, button: t.qrButton,
                input:
                    #"autocomplete="off" autocapitalize="off" spellcheck="false" maxlength="\#(KioskForm.maxCode)" required autofocus"#
            )
            let rfid = method(
                "rfid", heading: t.rfidHeading, label: t.rfidLabel, hint: t.rfidHint, button: t.rfidButton,
                input:
                    #"autocomplete="off" autocapitalize="off" spellcheck="false" maxlength="\#(KioskForm.maxCode)" required"#
            )
            return """
                <p class="intro">\(escape(t.pickupIntro))</p>
                <div class="methods">
                \(pin)\(qr)\(rfid)</div>
                <section class="courier" aria-labelledby="courier-heading">
                <h2 id="courier-heading">\(escape(t.courierHeading))</h2>
                <p>\(escape(t.courierIntro))</p>
                <a class="button big" href="/courier" id="courier-link">\(escape(t.courierButton))</a>
                </section>

                """
        case .lockdown:
            return
                #"<div class="lockdown" role="alert" id="lockdown"><p class="big-text">\#(escape(t.lockdownMessage))</p></div>"#
                + "\n"
        case .message(let message):
            let text = message.map { #"<p class="big-text" id="message">\#(escape($0))</p>"# + "\n" } ?? ""
            return text + #"<a class="button" href="/" id="back">\#(escape(t.backToStart))</a>"# + "\n"
        case .opened(let message):
            return """
                <div class="result" role="status" id="result"><p class="big-text">\(escape(message))</p></div>
                <a class="button big" href="/" id="finished">\(escape(t.finished))</a>

                """
        case .signIn:
            return """
                <p class="intro">\(escape(t.signInIntro))</p>
                <form method="post" action="/courier/sign-in" autocomplete="off" class="stack">
                <label for="credential">\(escape(t.credentialLabel))</label>
                <input id="credential" name="credential" type="password" autocomplete="off" maxlength="\(KioskForm.maxCredential)" required autofocus\(described)>
                <button type="submit">\(escape(t.signInButton))</button>
                </form>
                <a class="button secondary" href="/" id="cancel">\(escape(t.cancel))</a>

                """
        case .dropoff(let form):
            var html = #"<p class="who" id="signed-in-as">\#(escape(form.signedInAs))</p>"# + "\n"
            if let result = form.result {
                html +=
                    #"<div class="result" role="status" id="result"><p class="big-text">\#(escape(result))</p></div>"#
                    + "\n"
            }
            let sizes = form.sizes.map { size in
                let id = "size-" + escape(size.value)
                return
                    #"<div class="size"><input type="radio" name="size" id="\#(id)" value="\#(escape(size.value))" required\#(size.checked ? " checked" : "")><label for="\#(id)">\#(escape(size.label))</label></div>"#
                    + "\n"
            }.joined()
            html += """
                <section aria-labelledby="parcel-heading">
                <h2 id="parcel-heading">\(escape(t.parcelHeading))</h2>
                <form method="post" action="/courier/dropoff" autocomplete="off" class="stack">
                <input type="hidden" name="once" value="\(escape(form.once))">
                <label for="tracking">\(escape(t.trackingLabel))</label>
                <input id="tracking" name="tracking" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="\(KioskForm.maxTracking)" required autofocus value="\(escape(form.tracking))"\(described)>
                <label for="recipient">\(escape(t.recipientLabel))</label>
                <input id="recipient" name="recipient" type="text" autocomplete="off" autocapitalize="off" spellcheck="false" maxlength="\(KioskForm.maxRecipient)" required value="\(escape(form.recipient))"\(described)>
                <fieldset class="sizes">
                <legend>\(escape(t.sizeLegend))</legend>
                \(sizes)</fieldset>
                <button type="submit">\(escape(t.dropoffButton))</button>
                </form>
                </section>
                <section aria-labelledby="done-heading" class="done">
                <h2 id="done-heading">\(escape(t.doneHeading))</h2>
                <p>\(escape(t.doneIntro))</p>
                <form method="post" action="/courier/done">
                <button type="submit" class="secondary">\(escape(t.doneButton))</button>
                </form>
                </section>

                """
            return html
        }
    }
}

/// One page to show: what it holds, its heading, the HTTP status.
struct KioskScreen {
    /// The body of the page below its heading and alert.
    enum Content {
        case start(pinLength: Int, pinHint: String)
        case lockdown
        /// A sentence (or none, when the alert says it all) and the way back to the start.
        case message(String?)
        case opened(String)
        case signIn
        case dropoff(DropoffForm)
    }

    /// The drop-off form, refilled after a refusal so the courier need not type it again.
    struct DropoffForm {
        var signedInAs: String
        var once: String
        var sizes: [(value: String, label: String, checked: Bool)]
        var result: String? = nil
        var tracking = ""
        var recipient = ""
    }

    var content: Content
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
    var headers: [(HTTPField.Name, String)] = []
}
