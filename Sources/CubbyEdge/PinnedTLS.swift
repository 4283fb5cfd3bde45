import CubbyCore
import CubbyCrypto
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// TLS 1.3 to the server with its public key pinned: the certificate's SubjectPublicKeyInfo must hash
/// (SHA-256) to the configured pin. No CA is consulted, so a certificate any CA trusts is still refused
/// unless its key is the pinned one.
public struct PinnedTLS: Sendable {
    /// The pin: SHA-256 of the server's SPKI, lower-case hex.
    public let pin: String
    let context: NIOSSLContext

    /// `pin` in hex (64 digits, colons allowed) or base64 (`sha256/…` prefix allowed).
    public init(pin text: String) throws {
        guard let pin = Self.normalize(text) else {
            throw EdgeLinkError.configuration(
                "the pin must be the SHA-256 of the server's public key: 64 hex digits or base64")
        }
        self.pin = pin
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv13
        config.maximumTLSVersion = .tlsv13
        // The pin check below replaces chain and name verification.
        config.certificateVerification = .noHostnameVerification
        context = try NIOSSLContext(configuration: config)
    }

    /// The pin as 64 lower-case hex digits, or nil.
    public static func normalize(_ text: String) -> String? {
        var t = text.trimmingWhitespace()
        if t.lowercased().hasPrefix("sha256/") { t = String(t.dropFirst(7)) }
        let hex = String(t.filter { $0 != ":" }).lowercased()
        if hex.count == 64, hex.allSatisfy(\.isHexDigit) { return hex }
        if let data = Data(base64Encoded: t), data.count == 32 { return Hex.encode(data) }
        return nil
    }

    /// SHA-256 (hex) of a certificate's SPKI.
    public static func spkiSHA256(_ certificate: NIOSSLCertificate) throws -> String {
        Hex.sha256(try certificate.extractPublicKey().toSPKIBytes())
    }

    /// The TLS handler for one connection.
    func handler(serverHostname: String?) throws -> NIOSSLClientHandler {
        let pin = self.pin
        let sni = serverHostname.flatMap { host in host.first?.isNumber == true || host.contains(":") ? nil : host }
        return try NIOSSLClientHandler(context: context, serverHostname: sni) { certificates, promise in
            guard let leaf = certificates.first, let hash = try? Self.spkiSHA256(leaf), hash == pin else {
                promise.succeed(.failed)
                return
            }
            promise.succeed(.certificateVerified)
        }
    }

    /// One HTTPS request (JSON in, status and body out) over a pinned connection.
    public func request(url: URL, method: HTTPMethod, json: Data?) async throws -> (status: Int, body: Data) {
        guard url.scheme?.lowercased() == "https", let host = url.host else {
            throw EdgeLinkError.configuration("the server address must be https://host:port")
        }
        let port = url.port ?? 443
        let path = url.path.isEmpty ? "/" : url.path
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(15))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try handler(serverHostname: host))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "\(host):\(port)")
            headers.add(name: "Connection", value: "close")
            if let json {
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(json.count))
            }
            try await outbound.write(
                .head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)))
            if let json { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: json)))) }
            try await outbound.write(.end(nil))
            var status = 0
            var body = Data()
            for try await part in inbound {
                switch part {
                case .head(let head): status = Int(head.status.code)
                case .body(let buffer):
                    body.append(contentsOf: buffer.readableBytesView)
                    if body.count > 1 << 20 {
                        throw EdgeLinkError.protocolViolation("the server's answer is too large")
                    }
                case .end: return (status, body)
                }
            }
            throw EdgeLinkError.protocolViolation("the server closed the connection before answering")
        }
    }
}

/// Why the link to the server cannot be used.
public enum EdgeLinkError: Error, CustomStringConvertible {
    case configuration(String)
    case refused(String)
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .configuration(let m), .refused(let m), .protocolViolation(let m): m
        }
    }
}
