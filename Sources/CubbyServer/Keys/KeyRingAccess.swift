import Crypto
import CubbyCore
import CubbyCrypto
import CubbyStore
import Foundation
import Logging
import ServiceLifecycle

/// The key ring as the flows use it: new data keys are wrapped by the primary key read from the database in the
/// flow's own transaction (never a remembered one, so no process keeps wrapping under a key a rotation has moved
/// away from), and keys the process has not seen are loaded from the database.
extension LockerKeys {
    /// A new data key for `subject`, wrapped by the ring's primary key; the ring gets its first primary key here
    /// when it has none (several processes may race: one insert wins, every one reads the winner back).
    public func newWrappedDataKey(_ s: StoreSession, subject: String) async throws -> Data {
        try envelope.newWrappedDataKey(subject: subject, under: try await primaryRingKey(s))
    }

    /// The ring's primary key, made when the ring is empty.
    public func primaryRingKey(_ s: StoreSession) async throws -> RingKey {
        if let row = try await s.primaryRingKey(lock: true) { return try open(row) }
        let fresh = RingKey.generate()
        try await s.insertRingKey(
            id: fresh.id.hex, sealedKey: try ring.seal(fresh), state: "primary", at: Date().millisecondsSince1970)
        guard let row = try await s.primaryRingKey(lock: true) else {
            throw KeyRingError("the key ring has no primary key after making one")
        }
        return try open(row)
    }

    /// Loads every key of the ring this process does not know yet and forgets those the database destroyed.
    public func refreshRing(_ s: StoreSession) async throws {
        let rows = try await s.ringKeys()
        var live: Set<RingKeyID> = []
        for row in rows {
            guard let id = RingKeyID(hex: row.id), let sealed = row.sealedKey else { continue }
            live.insert(id)
            if !ring.knows(id) { try ring.open(id: id, sealed: sealed) }
        }
        ring.keep(only: live)
    }

    /// Loads the ring when `wrapped` names a key this process has not seen; throws a clear error when the database
    /// does not hold it either. Call before opening data keys a rotation may have re-wrapped meanwhile.
    public func ensureWrappingKey(_ s: StoreSession, for wrapped: Data?) async throws {
        guard let wrapped, let id = try EnvelopeCipher.wrappingKeyID(wrapped), !ring.knows(id) else { return }
        try await refreshRing(s)
        guard ring.knows(id) else { throw EnvelopeError.unknownWrappingKey(id.hex) }
    }

    func open(_ row: RingKeyRow) throws -> RingKey {
        guard let id = RingKeyID(hex: row.id), let sealed = row.sealedKey else {
            throw KeyRingError("the key ring's key \(row.id) is malformed or destroyed")
        }
        return try ring.open(id: id, sealed: sealed)
    }
}

/// The key ring is not as it must be.
public struct KeyRingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Loads the ring's new keys every few seconds, so a process that only reads has a key a rotation made before the
/// rotation re-wraps anything under it (a rotation waits `KeyRotation.Options.propagation` between making a key
/// and promoting it), and forgets destroyed ones.
public struct KeyRingWatch: Service {
    let store: any SQLStore
    let keys: LockerKeys
    let interval: Duration
    let logger: Logger

    public static let standardInterval: Duration = .seconds(2)

    public init(store: any SQLStore, keys: LockerKeys, interval: Duration = standardInterval, logger: Logger) {
        self.store = store
        self.keys = keys
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await store.read { s in try await keys.refreshRing(s) } } catch {
                logger.error("key ring refresh failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
