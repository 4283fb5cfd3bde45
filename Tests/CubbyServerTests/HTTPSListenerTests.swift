import CubbyServer
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import Testing

/// The API and the portal over HTTPS: TLS 1.3 only by default, HSTS and `Secure` cookies, a plain port that
/// redirects, and certificates read again without a restart.
@Suite("HTTPS on the main listener")
struct HTTPSListenerTests {
    static func freePort() async throws -> Int {
        let probe = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(probe.localAddress?.port)
        try await probe.close()
        return port
    }

    static func certificate(_ dir: String) throws -> (String, String) {
        let cert = dir + "/https-cert.pem"
        let key = dir + "/https-key.pem"
        _ = try ServerIdentity.loadOrCreate(certificatePath: cert, keyPath: key, hosts: ["127.0.0.1"])
        return (cert, key)
    }

    /// Runs the server with HTTPS on a free port and a redirect port; passes both.
    static func serving<T: Sendable>(
        _ w: TestWorld, allowTLS12: Bool = false, _ body: @Sendable (Int, Int) async throws -> T
    ) async throws -> T {
        let (cert, key) = try certificate(w.dir)
        var settings = w.settings
        settings.port = try await freePort()
        settings.httpsCertificate = cert
        settings.httpsKey = key
        settings.httpsAllowTLS12 = allowTLS12
        settings.httpRedirectPort = try await freePort()
        let running = Mutex(false)
        let app = try buildApplication(
            parts: w.parts, settings: settings, logger: TestWorld.logger,
            onServerRunning: { _ in running.withLock { $0 = true } })
        let group = ServiceGroup(configuration: .init(services: [app], logger: TestWorld.logger))
        let task = Task { try await group.run() }
        let redirectPort = try #require(settings.httpRedirectPort)
        do {
            // The main listener says when it runs; the redirect listener is a service of its own, started beside
            // it, so it is ready once it takes a connection. A loaded machine may need many seconds for both.
            var ready = false
            for _ in 0..<600 where !ready {
                if running.withLock({ $0 }), let probe = try? await TestSocket.connect(port: redirectPort) {
                    await probe.close()
                    ready = true
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            try #require(ready, "the listeners did not start within 30 seconds")
            let result = try await body(settings.port, redirectPort)
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
            throw error
        }
    }

    @Test("TLS 1.3 answers with HSTS and Secure cookies; plain HTTP and TLS 1.2 get nothing")
    func tls13Only() async throws {
        try await TestWorld.with(.sqlite) { w in
            try await Self.serving(w) { port, _ in
                let tls = try await TestSocket.connect(port: port, tls: true)
                await tls.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let health = try #require(await tls.answer())
                #expect(health.status == 200)
                #expect(health.header("strict-transport-security") == "max-age=31536000")
                await tls.send("GET /admin/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let page = try #require(await tls.answer())
                #expect(page.status == 200)
                let cookies = page.headers.filter { $0.0.lowercased() == "set-cookie" }.map(\.1)
                #expect(!cookies.isEmpty && cookies.allSatisfy { $0.contains("Secure") })

                let plain = try await TestSocket.connect(port: port)
                await plain.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(await plain.answer(within: 2) == nil)

                let old = try await TestSocket.connect(port: port, tls: true, maximumTLSVersion: .tlsv12)
                await old.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(await old.answer(within: 2) == nil)
            }
        }
    }

    @Test("with TLS 1.2 allowed, a TLS 1.2 client is served")
    func tls12Allowed() async throws {
        try await TestWorld.with(.sqlite) { w in
            try await Self.serving(w, allowTLS12: true) { port, _ in
                let old = try await TestSocket.connect(port: port, tls: true, maximumTLSVersion: .tlsv12)
                await old.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(await old.answer()?.status == 200)
            }
        }
    }

    @Test("the plain port redirects every request to the same path over HTTPS")
    func redirect() async throws {
        try await TestWorld.with(.sqlite) { w in
            try await Self.serving(w) { port, redirectPort in
                let plain = try await TestSocket.connect(port: redirectPort)
                await plain.send("GET /admin/sign-in?next=%2Fadmin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                let answer = try #require(await plain.answer())
                #expect(answer.status == 308)
                #expect(answer.header("location") == "https://127.0.0.1:\(port)/admin/sign-in?next=%2Fadmin")
            }
        }
    }

    @Test("a reload reads new files; one that fails keeps the certificate in use")
    func reload() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (cert, key) = try Self.certificate(dir)
        let tls = try ReloadableTLS.https(certificate: cert, key: key, allowTLS12: false)
        try "not a certificate".write(toFile: cert, atomically: true, encoding: .utf8)
        #expect(throws: ServerIdentityError.self) { try tls.reload() }
        try FileManager.default.removeItem(atPath: cert)
        try FileManager.default.removeItem(atPath: key)
        _ = try Self.certificate(dir)
        try tls.reload()
        #expect(throws: ServerIdentityError.self) {
            try ReloadableTLS.https(certificate: dir + "/missing.pem", key: key, allowTLS12: false)
        }
    }

    @Test("a certificate without its key, or a redirect without HTTPS, is refused at start-up")
    func settingsRefused() async throws {
        await #expect(throws: SettingsError.self) {
            try await ServerSettings.load(
                overrides: ["http.tls-certificate": "/x.pem"], configFile: nil, environment: [:])
        }
        await #expect(throws: SettingsError.self) {
            try await ServerSettings.load(overrides: ["http.redirect-port": "8081"], configFile: nil, environment: [:])
        }
        let ok = try await ServerSettings.load(
            overrides: ["http.tls-certificate": "/c.pem", "http.tls-key": "/k.pem", "port": "8443"], configFile: nil,
            environment: [:])
        #expect(ok.https && ok.linkBase == "https://127.0.0.1:8443" && ok.secureCookies)
    }
}
