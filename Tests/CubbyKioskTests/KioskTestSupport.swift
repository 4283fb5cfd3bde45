import CubbyKiosk
import Foundation
import HTTPTypes
import NIOCore
import Synchronization

/// A locker controller that records every call and answers what the test sets.
final class RecordingLocker: KioskBackend {
    struct Dropoff: Equatable {
        var courier: KioskCourier
        var trackingNumber: String
        var recipientId: String
        var size: String
    }

    struct State {
        var status = KioskStatus(unitName: "Lobby A", lockedDown: false, online: true, pinLength: 8)
        var pickupResult: KioskPickupResult = .rejected
        var courier: KioskCourier? = KioskCourier(handle: "h-1", displayName: "Parcel Express")
        var dropoffResults: [KioskDropoffResult] = []
        var pickups: [(code: String, method: KioskCodeMethod)] = []
        var signIns: [String] = []
        var dropoffs: [Dropoff] = []
        var signOuts: [KioskCourier] = []
    }

    let state = Mutex(State())

    func set(_ change: (inout State) -> Void) { state.withLock { change(&$0) } }
    func read<T>(_ get: (State) -> T) -> T { state.withLock { get($0) } }

    var pickups: [(code: String, method: KioskCodeMethod)] { read(\.pickups) }
    var signIns: [String] { read(\.signIns) }
    var dropoffs: [Dropoff] { read(\.dropoffs) }
    var signOuts: [KioskCourier] { read(\.signOuts) }

    func status() async -> KioskStatus { read(\.status) }

    func pickup(code: String, method: KioskCodeMethod) async -> KioskPickupResult {
        state.withLock { s in
            s.pickups.append((code, method))
            return s.pickupResult
        }
    }

    func courierSignIn(credential: String) async -> KioskCourier? {
        state.withLock { s in
            s.signIns.append(credential)
            return s.courier
        }
    }

    /// Answers the queued results in order, then "opened A4".
    func dropoff(courier: KioskCourier, trackingNumber: String, recipientId: String, size: String) async
        -> KioskDropoffResult
    {
        state.withLock { s in
            s.dropoffs.append(
                Dropoff(courier: courier, trackingNumber: trackingNumber, recipientId: recipientId, size: size))
            return s.dropoffResults.isEmpty ? .opened(compartmentLabel: "A4") : s.dropoffResults.removeFirst()
        }
    }

    func courierSignOut(_ courier: KioskCourier) async {
        state.withLock { $0.signOuts.append(courier) }
    }
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let start = ContinuousClock.now
    let elapsed = Mutex(Duration.zero)

    func now() -> ContinuousClock.Instant { start + elapsed.withLock { $0 } }
    func advance(by duration: Duration) { elapsed.withLock { $0 += duration } }
}

/// What the kiosk answered, with the body as text.
struct Page {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var html: String

    /// The text of the `role="alert"` box, if any.
    var alert: String? { Self.firstMatch(#"<div class="alert" role="alert" id="alert"><p>(.*?)</p></div>"#, in: html) }
    /// The text of the `role="status"` result box, if any.
    var result: String? {
        Self.firstMatch(#"<div class="result" role="status" id="result"><p class="big-text">(.*?)</p></div>"#, in: html)
    }
    var h1: String? { Self.firstMatch(#"<h1>(.*?)</h1>"#, in: html) }
    var htmlLang: String? { Self.firstMatch(#"<html lang="([a-z]+)">"#, in: html) }
    /// The idle timeout the page hands to `idle.js` in `<body data-idle-seconds>`, if any.
    var idleSeconds: String? { Self.firstMatch(#"<body data-idle-seconds="([^"]*)">"#, in: html) }
    /// The page loads the idle script, deferred, from the kiosk itself.
    var loadsIdleScript: Bool { html.contains(#"<script src="/static/idle.js" defer></script>"#) }
    /// How the page goes back to the start when left alone: "60 s" when it loads the idle script and
    /// gives it 60 seconds, nil when it does neither, and a description when only one half is there.
    var idleReturn: String? {
        switch (loadsIdleScript, idleSeconds) {
        case (false, nil): nil
        case (true, let seconds?): "\(seconds) s"
        case (true, nil): "the script without a timeout"
        case (false, let seconds?): "a timeout of \(seconds) without the script"
        }
    }
    /// Every `<script …>` tag of the page, as written.
    var scriptTags: [String] { Self.allMatches(#"(<script\b[^>]*>)"#, in: html) }
    /// The drop-off form's single-use value.
    var once: String? { Self.firstMatch(#"name="once" value="([0-9a-f]+)""#, in: html) }

    var setCookies: [String] { headers[values: .setCookie] }

    /// The value a `Set-Cookie` of this response gives `name` (empty when it clears it).
    func cookie(_ name: String) -> String? {
        for line in setCookies where line.hasPrefix(name + "=") {
            return String(line.dropFirst(name.count + 1).prefix { $0 != ";" })
        }
        return nil
    }

    static func allMatches(_ pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else {
            return []
        }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    static func firstMatch(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]),
            let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
            let range = Range(match.range(at: 1), in: text)
        else { return nil }
        return String(text[range])
    }
}

/// Form encoding as a browser does it.
func formBody(_ fields: [(String, String)]) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._*")
    return fields.map { name, value in
        let encode = { (s: String) in (s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s) }
        return encode(name) + "=" + encode(value)
    }.joined(separator: "&")
}

/// A client for the kiosk that carries the courier and language cookies like the kiosk's browser.
///
/// It hands requests to the kiosk's `respond(to:)` as the HTTP server does (the server itself has its own
/// tests over a socket), sent to `localhost` unless a test names another `Host`.
struct Kiosk {
    let routes: KioskRoutes
    var cookies: [String: String] = [:]

    init(_ routes: KioskRoutes) { self.routes = routes }

    mutating func get(_ path: String, headers: HTTPFields = [:]) async throws -> Page {
        try await send(path, method: .get, headers: headers, body: nil)
    }

    /// A form post as Chromium sends the kiosk's own forms: same origin, and under `Referrer-Policy:
    /// no-referrer` with `Origin: null`.
    mutating func post(_ path: String, _ fields: [(String, String)], headers: HTTPFields = [:]) async throws -> Page {
        var h: HTTPFields = [.contentType: "application/x-www-form-urlencoded", .origin: "null"]
        h[HTTPField.Name("Sec-Fetch-Site")!] = "same-origin"
        for field in headers { h[field.name] = field.value }
        return try await send(path, method: .post, headers: h, body: formBody(fields))
    }

    mutating func send(_ path: String, method: HTTPRequest.Method, headers: HTTPFields, body: String?) async throws
        -> Page
    {
        var h = headers
        if h[hostHeader] == nil { h[hostHeader] = "localhost" }
        if !cookies.isEmpty, h[.cookie] == nil {
            h[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        let request = LocalRequest(method: method, target: path, headers: h, body: ByteBuffer(string: body ?? ""))
        let response = await routes.respond(to: request)
        // The server sends no body in answer to HEAD.
        let page = Page(
            status: response.status, headers: response.headers,
            html: method == .head ? "" : String(buffer: response.body))
        for line in page.setCookies {
            let pair = line.prefix { $0 != ";" }
            guard let eq = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<eq])
            let value = String(pair[pair.index(after: eq)...])
            if value.isEmpty || line.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
        return page
    }
}

let hostHeader = HTTPField.Name("Host")!

/// Runs `test` against a kiosk over `locker`.
func withKiosk(
    _ locker: RecordingLocker, clock: ManualClock = ManualClock(), idleTimeoutSeconds: Int = 60,
    _ test: @escaping @Sendable (inout Kiosk) async throws -> Void
) async throws {
    let routes = KioskRoutes(
        backend: locker, pages: KioskPages(), idleTimeoutSeconds: idleTimeoutSeconds, now: { clock.now() })
    var kiosk = Kiosk(routes)
    try await test(&kiosk)
}

let courierCookie = "cubby_kiosk_courier"
