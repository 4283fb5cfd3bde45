import Crypto
import CubbyCore
import CubbyCrypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The server's TLS certificate and key for the edge listener: made on first start (self-signed,
/// P-256), or supplied by the operator. Units pin its public key, not a CA.
public struct ServerIdentity: Sendable {
    public let certificatePath: String
    public let keyPath: String

    /// Loads the certificate and key at the paths, creating a self-signed pair for `hosts` when neither exists.
    public static func loadOrCreate(certificatePath: String, keyPath: String, hosts: [String]) throws -> ServerIdentity
    {
        let fm = FileManager.default
        let haveCert = fm.fileExists(atPath: certificatePath)
        let haveKey = fm.fileExists(atPath: keyPath)
        if haveCert != haveKey {
            throw ServerIdentityError("only one of \(certificatePath) and \(keyPath) exists; supply both or neither")
        }
        if !haveCert {
            let (cert, key) = try makeSelfSigned(hosts: hosts)
            for path in [certificatePath, keyPath] {
                try fm.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            }
            try write(key, to: keyPath, mode: 0o600)
            try write(cert, to: certificatePath, mode: 0o644)
        }
        let identity = ServerIdentity(certificatePath: certificatePath, keyPath: keyPath)
        _ = try identity.spkiSHA256()
        return identity
    }

    static func write(_ text: String, to path: String, mode: mode_t) throws {
        do { try PrivateFile.write(Data(text.utf8), to: path, mode: mode) } catch {
            throw ServerIdentityError(error.message)
        }
    }

    /// A self-signed server certificate (PEM) and its key (PEM), valid ten years.
    static func makeSelfSigned(hosts: [String]) throws -> (String, String) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("cubby server") }
        let now = Date()
        var names: [GeneralName] = []
        for host in Set(hosts + ["localhost", "127.0.0.1", "::1"]).sorted() {
            if let v4 = ipv4(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(v4))))
            } else if let v6 = ipv6(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(v6))))
            } else {
                names.append(.dnsName(host))
            }
        }
        let cert = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(key))
        return (try cert.serializeAsPEM().pemString, key.pemRepresentation)
    }

    static func ipv4(_ text: String) -> [UInt8]? {
        var addr = in_addr()
        guard inet_pton(AF_INET, text, &addr) == 1 else { return nil }
        return withUnsafeBytes(of: &addr) { Array($0) }
    }

    static func ipv6(_ text: String) -> [UInt8]? {
        var addr = in6_addr()
        guard inet_pton(AF_INET6, text, &addr) == 1 else { return nil }
        return withUnsafeBytes(of: &addr) { Array($0) }
    }

    /// SHA-256 of the certificate's SubjectPublicKeyInfo, hex: what units pin.
    public func spkiSHA256() throws -> String {
        guard let pem = try? String(contentsOfFile: certificatePath, encoding: .utf8) else {
            throw ServerIdentityError("cannot read the certificate \(certificatePath)")
        }
        let cert: Certificate
        do { cert = try Certificate(pemEncoded: pem) } catch {
            throw ServerIdentityError("\(certificatePath) is not a PEM certificate: \(error)")
        }
        return Self.spkiSHA256(cert.publicKey)
    }

    static func spkiSHA256(_ key: Certificate.PublicKey) -> String {
        var serializer = DER.Serializer()
        try! serializer.serialize(key)
        return Hex.sha256(serializer.serializedBytes)
    }

    /// TLS 1.3 only, with this certificate.
    public func tlsConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        var config = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        config.minimumTLSVersion = .tlsv13
        config.maximumTLSVersion = .tlsv13
        return config
    }
}

/// The TLS certificate or key cannot be used.
public struct ServerIdentityError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
