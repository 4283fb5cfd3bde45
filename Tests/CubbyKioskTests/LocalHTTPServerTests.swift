import CubbyKiosk
import Foundation
import HTTPTypes
import Logging
import NIOCore
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The kiosk's HTTP server over a real socket on 127.0.0.1: the bytes a browser sends, the bytes it gets.
@Suite("The unit's local HTTP server")
struct LocalHTTPServerTests {
    /// Runs a kiosk over `locker` on a free port for the length of `test`.
    func withServer(
        _ locker: RecordingLocker = RecordingLocker(), maxBody: Int = KioskRoutes.maxRequestBody,
        hostNames: [String] = [], _ test: (Int) async throws -> Void
    ) async throws {
        let routes = KioskRoutes(backend: locker, pages: KioskPages())
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let server = LocalHTTPServer(
            host: "127.0.0.1", port: 0, maxBody: maxBody, hostNames: hostNames, logger: Logger(label: "test"),
            onRunning: { portSink.yield($0) },
            handler: { await routes.respond(to: $0) })
        let running = Task { try await server.run() }
        var it = ports.makeAsyncIterator()
        let port = try #require(await it.next())
        do { try await test(port) } catch {
            running.cancel()
            _ = try? await running.value
            throw error
        }
        running.cancel()
        try await running.value
        #expect(RawConnection(port: port) == nil, "the listener is closed once the server stops")
    }

    @Test("GET and HEAD are answered on one kept-alive connection, in order, with the page's length")
    func keepAliveAndHead() async throws {
        try await withServer { port in
            let c = try #require(RawConnection(port: port))
            c.send(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nHEAD /static/kiosk.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            )
            let answers = await c.responses(3, headRequests: [1])
            try #require(answers.count == 3)
            #expect(answers[0].status == 200)
            #expect(answers[0].header("content-type") == "text/html; charset=utf-8")
            #expect(answers[0].header("x-frame-options") == "DENY")
            #expect(answers[0].header("content-security-policy")?.hasPrefix("default-src 'none'") == true)
            #expect(answers[0].body.contains("<h1>Pick up a parcel</h1>"))
            #expect(answers[0].header("connection") == nil)
            #expect(answers[1].status == 200)
            #expect(answers[1].header("content-type") == "text/css; charset=utf-8")
            #expect(Int(answers[1].header("content-length") ?? "") ?? 0 > 1000, "HEAD tells the stylesheet's length")
            #expect(answers[1].body.isEmpty, "HEAD gets no body")
            #expect(answers[2].status == 404)
            #expect(answers[2].body.contains("<h1>Page not found</h1>"))
        }
    }

    @Test("a form posted over the socket reaches the locker; a body over the limit gets 413 and a closed connection")
    func formsAndLimits() async throws {
        let locker = RecordingLocker()
        try await withServer(locker) { port in
            let c = try #require(RawConnection(port: port))
            let body = "method=pin&code=12345678"
            c.send(
                "POST /pickup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            )
            let answer = try #require(await c.responses(1).first)
            #expect(answer.status == 403)
            #expect(locker.pickups.map(\.code) == ["12345678"])

            let big = String(repeating: "a", count: KioskRoutes.maxRequestBody + 1)
            c.send(
                "POST /pickup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(big.utf8.count)\r\n\r\n\(big)"
            )
            let refused = try #require(await c.responses(1).first)
            #expect(refused.status == 413)
            #expect(refused.header("connection") == "close")
            #expect(await c.isClosedByPeer())
            #expect(locker.pickups.count == 1, "the locker never sees the oversized form")
        }
    }

    @Test(
        "a page or form for another host name (DNS rebinding) gets 421 and reaches nothing; the kiosk's own names work")
    func hostNames() async throws {
        let locker = RecordingLocker()
        try await withServer(locker, hostNames: ["kiosk.lobby"]) { port in
            let c = try #require(RawConnection(port: port))
            let body = "method=pin&code=12345678"
            func post(host: String, origin: String) -> String {
                "POST /pickup HTTP/1.1\r\nHost: \(host)\r\nOrigin: \(origin)\r\n"
                    + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            for (host, origin) in [
                ("evil.example:8090", "http://evil.example:8090"),
                ("evil.example:\(port)", "http://evil.example:\(port)"),
                ("127.0.0.1:\(port == 8090 ? 8091 : 8090)", "http://127.0.0.1:\(port == 8090 ? 8091 : 8090)"),
                ("127.0.0.1.evil.example:\(port)", "http://127.0.0.1.evil.example:\(port)"),
            ] {
                c.send(post(host: host, origin: origin))
                let answer = try #require(await c.responses(1).first)
                #expect(answer.status == 421, "Host \(host)")
                #expect(answer.body.contains("misdirected"))
            }
            c.send("GET / HTTP/1.1\r\nHost: evil.example:\(port)\r\n\r\n")
            #expect(await c.responses(1).first?.status == 421, "pages are not shown under another name either")
            #expect(locker.pickups.isEmpty, "no forged form reached the locker")

            for host in ["127.0.0.1:\(port)", "localhost:\(port)", "LOCALHOST:\(port)", "kiosk.lobby:\(port)"] {
                c.send(post(host: host, origin: "http://\(host)"))
                #expect(await c.responses(1).first?.status == 403, "Host \(host): the form reaches the locker")
            }
            #expect(locker.pickups.count == 4)
            c.send("GET / HTTP/1.1\r\nHost: [::1]:\(port)\r\n\r\n")
            #expect(await c.responses(1).first?.status == 200)
        }
    }

    @Test("a request that is not HTTP gets 400 and the connection closes")
    func malformed() async throws {
        try await withServer { port in
            let c = try #require(RawConnection(port: port))
            c.send("HELLO THERE\r\n\r\n")
            let answer = try #require(await c.responses(1).first)
            #expect(answer.status == 400)
            #expect(await c.isClosedByPeer())
            let next = try #require(RawConnection(port: port), "the server still takes connections")
            next.send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(await next.responses(1).first?.status == 200)
        }
    }

    @Test("query parameters and form fields are percent-decoded; a broken escape is no value")
    func formEncoding() {
        let request = LocalRequest(method: .get, target: "/?lang=es&x=a%20b+c&lang=en&empty=")
        #expect(request.path == "/")
        #expect(request.query("lang") == "es")
        #expect(request.query("x") == "a b c")
        #expect(request.query("empty") == "")
        #expect(request.query("none") == nil)
        #expect(FormEncoding.pairs("a=%zz") == nil)
        #expect(FormEncoding.pairs("a=%E0%A4%A") == nil)
        #expect(FormEncoding.pairs("a=%FF") == nil, "not UTF-8")
        #expect(FormEncoding.pairs("n=%C3%B1")?.first?.value == "ñ")
        #expect(LocalRequest(method: .get, target: "/", headers: [.cookie: "a=1; b=; c=3"]).cookie("b") == nil)
        #expect(LocalRequest(method: .get, target: "/", headers: [.cookie: "a=1; b=; c=3"]).cookie("c") == "3")
    }
}

/// A blocking TCP connection to 127.0.0.1 that reads raw HTTP/1.1 responses.
final class RawConnection: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []

    struct Answer {
        var status: Int
        var headers: [(String, String)]
        var body: String
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
    }

    /// Connects, or nil when nothing listens.
    init?(port: Int) {
        #if canImport(Glibc)
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let s = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard s >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard ok == 0 else {
            close(s)
            return nil
        }
        // Generous: with the whole suite running side by side on two cores, an answer has taken over 10 s.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        fd = s
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads more bytes; false at the end of the stream or on the timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return false }
        buffer += chunk[0..<n]
        return true
    }

    /// The next `count` responses; `headRequests` are the (0-based) ones that answer HEAD, without a body.
    ///
    /// The blocking reads run on a Dispatch thread, not on one of the few threads the server's own tasks need.
    func responses(_ count: Int, headRequests: Set<Int> = []) async -> [Answer] {
        await Self.offPool { self.readResponses(count, headRequests: headRequests) }
    }

    func isClosedByPeer() async -> Bool {
        await Self.offPool { self.readsEndOfStream() }
    }

    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in DispatchQueue.global().async { c.resume(returning: body()) } }
    }

    private func readResponses(_ count: Int, headRequests: Set<Int>) -> [Answer] {
        var answers: [Answer] = []
        while answers.count < count {
            let marker: [UInt8] = Array("\r\n\r\n".utf8)
            var end: Int?
            while end == nil {
                if let i = Self.find(marker, in: buffer) { end = i } else if !fill() { return answers }
            }
            let headText = String(decoding: buffer[0..<end!], as: UTF8.self)
            buffer.removeFirst(end! + 4)
            var lines = headText.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            let headers = lines.compactMap { line -> (String, String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            var answer = Answer(status: statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, headers: headers, body: "")
            let length = headRequests.contains(answers.count) ? 0 : Int(answer.header("content-length") ?? "0") ?? 0
            while buffer.count < length { if !fill() { return answers } }
            answer.body = String(decoding: buffer[0..<length], as: UTF8.self)
            buffer.removeFirst(length)
            answers.append(answer)
        }
        return answers
    }

    /// Whether the server closed the connection (a read returns end of stream) with nothing more to read.
    private func readsEndOfStream() -> Bool {
        var byte: UInt8 = 0
        return buffer.isEmpty && read(fd, &byte, 1) == 0
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}
