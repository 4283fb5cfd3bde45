import ArgumentParser
import CubbyCore
import CubbyServer
import CubbyStore
import Foundation
import Logging

/// `cubby keys`: the key ring that wraps data keys, and the key file's key-encryption key.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract:
            "Rotate the wrapping keys of data keys or the signing keys, show the key ring, reseal the key file under a new KEK.",
        subcommands: [KeysRotate.self, KeysStatus.self, KeysReseal.self, KeysRotateSigning.self])
}

/// Makes a new wrapping key primary and re-wraps every data key under it, online; resumes an interrupted rotation.
struct KeysRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract:
            "New primary wrapping key; re-wrap every data key online; destroy the old key. Resumes a rotation that was interrupted."
    )
    @OptionGroup var options: ServerOptions
    @Option(help: "Data keys re-wrapped per transaction.")
    var batchSize: Int = 1000
    @Option(help: "Seconds between making the new key and making it primary (servers load new keys every 2 s).")
    var propagationSeconds: Int = 10
    @Option(help: "Seconds between the re-wrapping pass and the second pass that precedes destroying the old key.")
    var graceSeconds: Int = 10
    @Option(help: "Milliseconds to wait after each batch, to spread the load on a busy database.")
    var pauseMs: Int = 0
    @Option(help: .hidden)
    var leaseSeconds: Int = 30
    @Option(help: .hidden)
    var stopAfterBatches: Int?
    @Flag(help: "Print each step.")
    var verbose = false

    func validate() throws {
        guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1...10000") }
        guard (0...3600).contains(propagationSeconds) else {
            throw ValidationError("--propagation-seconds must be 0...3600")
        }
        guard (0...86_400).contains(graceSeconds) else { throw ValidationError("--grace-seconds must be 0...86400") }
        guard (0...60_000).contains(pauseMs) else { throw ValidationError("--pause-ms must be 0...60000") }
        guard (1...3600).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be 1...3600") }
    }

    func run() async throws {
        var o = KeyRotation.Options()
        o.batchSize = batchSize
        o.propagation = .seconds(propagationSeconds)
        o.grace = .seconds(graceSeconds)
        o.lease = .seconds(leaseSeconds)
        o.stopAfterBatches = stopAfterBatches
        o.pause = .milliseconds(pauseMs)
        if verbose { o.progress = say }
        try await withParts(options) { parts, _ in
            let started = ContinuousClock.now
            let out: KeyRotation.Outcome
            do { out = try await KeyRotation(store: parts.store, keys: parts.keys).run(o) } catch let busy
                as KeyRotationBusy
            {
                throw ValidationError(busy.description)
            }
            let seconds = (ContinuousClock.now - started).wholeSeconds
            if !out.finished {
                print(
                    "rotation \(out.rotationId) stopped after \(out.batches) batches (\(out.rewrapped) data keys re-wrapped); run again to resume"
                )
                return
            }
            print(
                "rotation \(out.rotationId)\(out.resumed ? " (resumed)" : ""): key \(out.newKey) is primary; "
                    + "\(out.rewrapped) data keys re-wrapped, \(out.skipped) left as they were (did not open); "
                    + "destroyed \(out.destroyed.isEmpty ? "no key" : out.destroyed.joined(separator: ", ")) "
                    + "in \(String(format: "%.1f", seconds)) s")
        }
    }
}

/// Shows the key ring.
struct KeysStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "The key ring, its primary key, and how many data keys each key wraps.")
    @OptionGroup var options: ServerOptions

    func run() async throws {
        try await withParts(options) { parts, _ in
            print(try await KeyRotation(store: parts.store, keys: parts.keys).status().text)
        }
    }
}

/// Seals the key file under a new key-encryption key.
struct KeysReseal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reseal",
        abstract:
            "Seal the key file under a new key-encryption key (the --new-… provider); the old KEK can be destroyed afterwards.",
        discussion:
            "The current provider is given as to `cubby serve` (--kek-file, --key-passphrase-file, --kek-command or their environment variables); exactly one --new-… option gives the new one. Start the servers with the new provider's setting afterwards."
    )
    @OptionGroup var options: ServerOptions
    @Option(help: "New KEK: 32 random bytes, raw or base64, in this mode-0600 file.")
    var newKekFile: String?
    @Option(help: "New KEK from the passphrase in this mode-0600 file (scrypt).")
    var newKeyPassphraseFile: String?
    @Option(help: "New KEK from this command (absolute path), called with wrap or unwrap.")
    var newKekCommand: String?
    @Option(help: "Seconds the new key command may take.")
    var newKekCommandTimeout: Int = 10

    func validate() throws {
        let given = [newKekFile, newKeyPassphraseFile, newKekCommand].compactMap { $0 }
        guard given.count == 1 else {
            throw ValidationError("give exactly one of --new-kek-file, --new-key-passphrase-file, --new-kek-command")
        }
        guard (1...300).contains(newKekCommandTimeout) else {
            throw ValidationError("--new-kek-command-timeout must be 1...300")
        }
    }

    func run() async throws {
        let settings = try await options.settings()
        let target: KeyProvider
        if let newKekFile {
            target = .kekFile(newKekFile)
        } else if let newKeyPassphraseFile {
            target = .passphraseFile(newKeyPassphraseFile)
        } else {
            target = try KeyProvider.command(newKekCommand ?? "", timeout: .seconds(newKekCommandTimeout))
        }
        let (from, to) = try await ServerKeyFile.reseal(settings, to: target)
        var logger = options.logger()
        logger.logLevel = max(logger.logLevel, .warning)
        let store = try await settings.openStore(logger: logger)
        do {
            try await Migrator.migrate(store)
            try await store.write { s in
                try await s.appendAudit(
                    AuditRecord(
                        occurredAt: Date(), event: .keysResealed, outcome: .success, actor: .console,
                        detail: ["from": from, "to": to]))
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        print(
            "\(settings.keysPath) is sealed under the \(to) provider's key (was: \(from)); start servers with \(KeyProvider.setting(kind: to)). The old key-encryption key now opens only older copies of the key file: destroy it (and them) when this one is backed up."
        )
    }
}

extension Duration {
    var wholeSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
