import ArgumentParser
import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation
import ZIPFoundation

/// `cubby audit bundle`: events, their checkpoint, proofs, key and evidence in one ZIP.
struct AuditBundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle", abstract: "Write a forensic bundle (ZIP) of audit events that can be verified offline.")
    @OptionGroup var options: ServerOptions
    @OptionGroup var selection: LogSelection
    @Option(help: "First leaf index, or an RFC 3339 time.")
    var from: String = "0"
    @Option(help: "End (exclusive): a leaf index or an RFC 3339 time; default: the end of the log.")
    var to: String?
    @Option(help: "The ZIP file to write.")
    var out: String
    @Option(
        help:
            "Directory holding evidence files named by their SHA-256 (hex), besides the units' stills in the database.")
    var evidence: String = "./cubby-data/evidence"

    func run() async throws {
        let settings = try await options.settings()
        let keys = try await ServerKeyFile.open(settings).keys
        let store = try await settings.openStore(logger: options.logger())
        do {
            let log = try AuditLog(store: store, keys: keys, settings: settings)
            try await write(log: log, store: store, keys: LockerKeys(keys))
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    func write(log: AuditLog, store: any SQLStore, keys: LockerKeys) async throws {
        let (target, organization) = try await selection.resolve(store)
        let start = try await leafIndex(from, store: store, log: target)
        let end = try await to.asyncMap { try await leafIndex($0, store: store, log: target) } ?? Int64.max
        let built: ForensicBundleBuilder.Built
        do {
            built = try await ForensicBundleBuilder(log: log, store: store, keys: keys).build(
                target, organization: organization, from: start, to: end, limit: Int.max, evidenceDirectory: evidence)
        } catch let e as ForensicBundleBuilder.Failure {
            throw ValidationError(e.description)
        } catch AuditLogError.noSuchLog {
            throw ValidationError("this deployment has no frozen log")
        }
        let zip = try ForensicBundleBuilder.zip(built.bundle)
        try? FileManager.default.removeItem(atPath: out)
        guard FileManager.default.createFile(atPath: out, contents: zip, attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(out)")
        }
        print(
            "wrote \(out): \(built.events) events (leaves \(built.firstIndex ?? start)…\(built.lastIndex ?? start)) under the checkpoint of \(built.checkpointSize) leaves, \(built.evidenceFiles) evidence files"
        )
        print("verify with: cubby audit verify-bundle \(out) --key '\(built.verifierKey)'")
    }
}

/// `cubby audit verify-bundle`: checks a bundle offline, with no database.
struct AuditVerifyBundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-bundle", abstract: "Verify a forensic bundle offline; exits non-zero on any mismatch.")
    @Argument(help: "The bundle (ZIP).")
    var bundle: String
    @Option(help: "The log's verifier key, obtained separately from the bundle.")
    var key: String?
    @Option(help: "The organization whose log the bundle must come from.")
    var organization: String?

    func run() throws {
        let archive: Archive
        do { archive = try Archive(url: URL(fileURLWithPath: bundle), accessMode: .read) } catch {
            print("bundle: FAILED: \(bundle) is not a readable ZIP archive")
            throw ExitCode(1)
        }
        var files: [String: Data] = [:]
        var total = 0
        for entry in archive where entry.type == .file {
            guard entry.uncompressedSize < 512 << 20, total < 2 << 30 else {
                print("bundle: FAILED: \(entry.path) is too large")
                throw ExitCode(1)
            }
            var data = Data()
            _ = try archive.extract(entry) { data.append($0) }
            total += data.count
            files[entry.path] = data
        }
        do {
            let result = try EvidenceBundle(files: files).verify(pinnedKey: key)
            if let organization {
                guard let id = EntityID.parse(organization), result.origin.hasSuffix("/" + id) else {
                    throw BundleOrganizationMismatch(origin: result.origin, organization: organization)
                }
            }
            print(
                "bundle: ok — \(result.events) events proven in the log \(result.origin) of \(result.treeSize) leaves; \(result.evidenceFiles) evidence files match"
            )
            if key == nil {
                print(
                    "note: checked against the key inside the bundle; pass --key with the log's key obtained separately"
                )
            }
        } catch {
            print("bundle: FAILED: \(error)")
            throw ExitCode(1)
        }
    }
}

/// A bundle that verifies but comes from another organization's log than the one asked for.
struct BundleOrganizationMismatch: Error, CustomStringConvertible {
    var origin: String
    var organization: String
    var description: String { "the bundle comes from the log \(origin), not organization \(organization)'s" }
}
