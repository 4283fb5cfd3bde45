import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// A listener's TLS context, read from PEM files and read again on demand (SIGHUP): connections opened after a
/// reload use the new certificate, those already open keep theirs. A reload that fails keeps the old context.
public final class ReloadableTLS: Sendable {
    let load: @Sendable () throws -> NIOSSLContext
    private let current: Mutex<NIOSSLContext>

    public init(load: @escaping @Sendable () throws -> NIOSSLContext) throws {
        self.load = load
        self.current = Mutex(try load())
    }

    /// A context that never changes (the edge listener's, whose key units pin).
    public convenience init(fixed context: NIOSSLContext) throws {
        try self.init(load: { context })
    }

    var context: NIOSSLContext { current.withLock { $0 } }

    /// Reads the files again; on failure the listener keeps the context it has and the error is thrown.
    public func reload() throws {
        let fresh = try load()
        current.withLock { $0 = fresh }
    }

    /// The main listener's TLS: the chain and key from PEM files, TLS 1.3 (and 1.2 only when `allowTLS12`).
    public static func https(certificate: String, key: String, allowTLS12: Bool) throws -> ReloadableTLS {
        try ReloadableTLS {
            guard FileManager.default.isReadableFile(atPath: certificate) else {
                throw ServerIdentityError("the HTTPS certificate \(certificate) cannot be read")
            }
            guard FileManager.default.isReadableFile(atPath: key) else {
                throw ServerIdentityError("the HTTPS key \(key) cannot be read")
            }
            let chain: [NIOSSLCertificateSource]
            let privateKey: NIOSSLPrivateKey
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
                privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            } catch {
                throw ServerIdentityError("the HTTPS certificate or key cannot be used: \(error)")
            }
            guard !chain.isEmpty else { throw ServerIdentityError("\(certificate) holds no certificate") }
            var config = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain, privateKey: .privateKey(privateKey))
            config.minimumTLSVersion = allowTLS12 ? .tlsv12 : .tlsv13
            config.maximumTLSVersion = .tlsv13
            // TLS 1.2, when allowed, with forward-secret AEAD suites only.
            config.cipherSuites =
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
                + "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
            do { return try NIOSSLContext(configuration: config) } catch {
                throw ServerIdentityError("the HTTPS certificate and key do not make a TLS context: \(error)")
            }
        }
    }
}

/// Answers every request on the plain-HTTP port with a permanent redirect to the same path on `base` (https).
func redirectRouter(to base: String) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let redirect: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
        let target =
            base + (request.uri.path.isEmpty ? "/" : request.uri.path)
            + (request.uri.query.map { "?" + $0 } ?? "")
        return Response(
            status: .permanentRedirect, headers: [.location: target, .contentLength: "0", .cacheControl: "no-store"])
    }
    router.get("**", use: redirect)
    router.head("**", use: redirect)
    router.post("**", use: redirect)
    return router
}

/// Reads the HTTPS certificate and key again when the process gets SIGHUP (a renewed certificate needs no restart).
struct TLSReloadOnHangup: Service {
    let tls: ReloadableTLS
    let logger: Logger

    func run() async throws {
        signal(SIGHUP, SIG_IGN)
        let (hangups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        defer { source.cancel() }
        await withTaskCancellationOrGracefulShutdownHandler {
            for await _ in hangups {
                do {
                    try tls.reload()
                    logger.info("HTTPS certificate and key read again")
                } catch {
                    logger.error(
                        "HTTPS certificate not reloaded; the previous one stays", metadata: ["error": "\(error)"])
                }
            }
        } onCancelOrGracefulShutdown: {
            continuation.finish()
        }
    }
}
