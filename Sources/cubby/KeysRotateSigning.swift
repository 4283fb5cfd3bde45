import ArgumentParser
import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation

/// `cubby keys rotate-signing`: new Ed25519 keys for checkpoints and QR tokens, with an overlap.
struct KeysRotateSigning: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-signing",
        abstract: "Rotate the keys that sign audit checkpoints and QR pickup tokens, online, with an overlap.",
        discussion:
            "The new keys are sealed under the key-encryption key and stored in the database, where every server process reads them; the key file is not changed. During the overlap checkpoints are signed by the old key and the new, and QR tokens signed by the old key are still accepted (by the server and the units). A log.key_rotated event in every log the key signs records the change."
    )
    @OptionGroup var options: ServerOptions
    @Option(help: "checkpoint, qr or both.")
    var purpose: String = "both"
    @Option(
        help:
            "How long the old key stays in force next to the new one, e.g. 14d, 36h, 90m, 0s; default: the longest QR token lifetime (every token signed by the old key stays valid until it expires)."
    )
    var overlap: String?

    func validate() throws {
        guard ["both", "checkpoint", "qr"].contains(purpose) else {
            throw ValidationError("--purpose must be checkpoint, qr or both")
        }
        if let overlap, Self.duration(overlap) == nil {
            throw ValidationError("--overlap must be a number followed by s, m, h or d, e.g. 14d")
        }
    }

    /// A duration written as a whole number and a unit: `s`, `m`, `h` or `d`.
    static func duration(_ text: String) -> Duration? {
        guard let unit = text.last, let n = Int64(text.dropLast()), n >= 0, n <= 3650 * 86400 else { return nil }
        let seconds: Int64? =
            switch unit {
            case "s": n
            case "m": n * 60
            case "h": n * 3600
            case "d": n * 86400
            default: nil
            }
        return seconds.flatMap { $0 <= 3650 * 86400 ? .seconds($0) : nil }
    }

    func run() async throws {
        let settings = try await options.settings()
        let keys = try await ServerKeyFile.open(settings).keys
        let store = try await settings.openStore(logger: options.logger())
        let rotated: [SigningKeyRotation.Rotated]
        do {
            guard try await Migrator.appliedVersions(store).contains(32) else {
                throw ValidationError(
                    "the database predates rotating signing keys: run `cubby migrate` (or start the server) first")
            }
            let log = try AuditLog(store: store, keys: keys, settings: settings)
            let purposes: [SigningKeyPurpose] =
                purpose == "both" ? [.checkpoint, .qr] : [SigningKeyPurpose(rawValue: purpose)!]
            rotated = try await SigningKeyRotation.rotate(
                log: log, keys: keys, purposes: purposes, overlap: overlap.flatMap(Self.duration))
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        let formatter = ISO8601DateFormatter()
        for r in rotated {
            let until = formatter.string(from: Date(millisecondsSince1970: r.overlapUntil))
            print(
                "rotated the \(r.purpose.rawValue) key: \(r.oldKeyId) -> \(r.newKeyId) (public key \(r.newPublicKey.base64EncodedString())); the old key stays in force until \(until); recorded in \(r.logs) log\(r.logs == 1 ? "" : "s")"
            )
        }
    }
}
