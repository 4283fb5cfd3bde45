import CubbyCrypto
import Foundation

/// The server's keys in the shapes the flows use.
public struct LockerKeys: Sendable {
    public let hasher: KeyedHasher
    public let qr: QRTokenSigner
    public let outbox: SealedPayload
    public let envelope: EnvelopeCipher

    public init(_ keys: ServerKeys) {
        hasher = KeyedHasher(key: keys.secretHashKey)
        qr = QRTokenSigner(privateKey: keys.qrSigningKey)
        outbox = SealedPayload(key: keys.outboxKey)
        envelope = EnvelopeCipher(keyEncryptionKey: keys.keyEncryptionKey)
    }

    /// The keyed hash under which a PIN is stored: bound to its unit.
    public func pinHash(unitId: String, pin: String) -> Data {
        Data(hasher.hash("cubby.pin.v1", unitId, pin))
    }

    /// The keyed hash under which a bearer credential is stored.
    public func credentialHash(_ token: String) -> Data {
        Data(hasher.hash("cubby.credential.v1", token))
    }
}

/// The time source of the flows; tests move it by hand.
public struct ServerClock: Sendable {
    public let now: @Sendable () -> Date
    public init(now: @escaping @Sendable () -> Date) { self.now = now }
    public static let system = ServerClock { Date() }
}
