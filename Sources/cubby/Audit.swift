import ArgumentParser
import AsyncHTTPClient
import Crypto
import CubbyAudit
import CubbyCore
import CubbyCrypto
import CubbyServer
import CubbyStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify, witness and export the audit log.",
        subcommands: [
            AuditVerify.self, AuditWitness.self, AuditExport.self, AuditBundleCommand.self, AuditVerifyBundle.self,
        ])
}

/// Opens the store and the log's verifier from the server's settings, without changing anything.
struct LogAccess {
    let store: any SQLStore
    let verifier: NoteVerifier
    let origin: String

    static func open(_ options: ServerOptions, key: String?) async throws -> LogAccess {
        let settings = try await options.settings()
        let verifier: NoteVerifier
        if let key {
            verifier = try NoteVerifier(verifierKey: key)
        } else {
            guard FileManager.default.fileExists(atPath: settings.keysPath) else {
                throw ValidationError(
                    "no key file at \(settings.keysPath); pass --keys or the log's verifier key with --key")
            }
            let keys = try ServerKeys.load(path: settings.keysPath)
            let origin = settings.logOrigin ?? AuditLog.defaultOrigin(for: keys.checkpointSigningKey.publicKey)
            verifier = try NoteVerifier(keyName: origin, publicKey: keys.checkpointSigningKey.publicKey)
        }
        let store = try await StoreFactory.open(settings.database, logger: options.logger())
        return LogAccess(store: store, verifier: verifier, origin: verifier.keyName)
    }
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the Merkle tree from the database and check every signed checkpoint against it.",
        discussion:
            "Exits 0 when the log is intact; 1 and the first bad leaf index when an event was altered, deleted, inserted or reordered, or a checkpoint forged."
    )
    @OptionGroup var options: ServerOptions
    @Option(help: "The log's verifier key (<name>+<id>+<key>); default: derived from the key file.")
    var key: String?

    func run() async throws {
        let access = try await LogAccess.open(options, key: key)
        let started = ContinuousClock.now
        let report: AuditVerifier.Report
        do {
            report = try await AuditVerifier(store: access.store, verifier: access.verifier, origin: access.origin)
                .run()
        } catch {
            await access.store.close()
            throw error
        }
        await access.store.close()
        let seconds = (ContinuousClock.now - started).seconds
        if let problem = report.problem {
            print("audit log: FAILED: \(problem)")
            throw ExitCode(1)
        }
        print(
            String(
                format: "audit log: ok — %lld leaves, %d signed checkpoints consistent (%.2f s)", report.leaves,
                report.checkpoints, seconds))
    }
}

struct AuditExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export audit events as JSON lines, CSV or ArcSight CEF.")
    @OptionGroup var options: ServerOptions
    @Option(help: "First leaf index, or an RFC 3339 time (events at or after it).")
    var from: String = "0"
    @Option(help: "End (exclusive): a leaf index or an RFC 3339 time; default: the end of the log.")
    var to: String?
    @Option(help: "jsonl, csv or cef.")
    var format: String = "jsonl"
    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    func run() async throws {
        guard let format = AuditExportFormat(rawValue: format) else {
            throw ValidationError("--format must be jsonl, csv or cef")
        }
        let settings = try await options.settings()
        let store = try await StoreFactory.open(settings.database, logger: options.logger())
        do {
            try await export(store: store, format: format)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    func export(store: any SQLStore, format: AuditExportFormat) async throws {
        let start = try await leafIndex(from, store: store)
        let end = try await to.asyncMap { try await leafIndex($0, store: store) } ?? Int64.max
        guard start <= end else { throw ValidationError("--from must not be after --to") }
        let sink: FileHandle
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: nil, attributes: [.posixPermissions: 0o600])
            else {
                throw ValidationError("cannot create \(out)")
            }
            sink = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        } else {
            sink = FileHandle.standardOutput
        }
        if let header = format.header { try sink.write(contentsOf: Data(header.utf8)) }
        var count = 0
        for try await batch in AuditPages.events(store, from: start, to: end) {
            var chunk = ""
            for (index, e) in batch {
                chunk += format.line(e.exportRow(index: index))
                count += 1
            }
            try sink.write(contentsOf: Data(chunk.utf8))
        }
        if out != nil {
            try sink.synchronize()
            try sink.close()
            FileHandle.standardError.write(Data("exported \(count) events to \(out!)\n".utf8))
        }
    }
}

/// A leaf index given as a number, or the first leaf at or after an RFC 3339 time.
func leafIndex(_ text: String, store: any SQLStore) async throws -> Int64 {
    if let i = Int64(text), i >= 0 { return i }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    guard let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
        throw ValidationError("\(text) is neither a leaf index nor an RFC 3339 time")
    }
    let millis = date.millisecondsSince1970
    return try await store.read { s in try await s.firstLeaf(atOrAfter: millis) } ?? Int64.max
}

/// An outside party's check that the log's history is never rewritten.
struct AuditWitness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness",
        abstract: "Check the server's newest checkpoint against the last one seen, with a consistency proof.",
        discussion:
            "Keeps the newest verified checkpoint in --state. Exits 0 when the log only grew, 1 on a fork, a rollback, a bad signature or a changed key, 2 when the server cannot be asked."
    )
    @Option(help: "The server's base URL, e.g. http://127.0.0.1:8080.")
    var server: String
    @Option(help: "File holding the witness's state (the key and the newest checkpoint seen).")
    var state: String
    @Option(help: "Bearer token of an account that may read the audit log (env CUBBY_TOKEN).")
    var token: String?
    @Option(help: "The log's verifier key to trust; default: the one stored in --state, or on first use the server's.")
    var key: String?
    @Option(help: "Check again every this many seconds instead of once.")
    var every: Int?

    struct State: Codable {
        var key: String
        var checkpoint: String
        var size: UInt64
        var rootHash: String
    }

    func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var status: Int32 = 0
        repeat {
            status = await checkOnce(client)
            if status != 0 { break }
            if let every { try await Task.sleep(for: .seconds(max(1, every))) }
        } while every != nil
        try await client.shutdown()
        if status != 0 { throw ExitCode(status) }
    }

    func checkOnce(_ client: HTTPClient) async -> Int32 {
        do {
            return try await check(client)
        } catch let e as WitnessFailure {
            print("witness: FORK or FORGERY: \(e.message)")
            return 1
        } catch {
            print("witness: cannot check the log: \(error)")
            return 2
        }
    }

    struct WitnessFailure: Error { var message: String }

    func get(_ client: HTTPClient, _ path: String) async throws -> Data {
        var req = HTTPClientRequest(url: server.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
        if let bearer = token ?? ProcessInfo.processInfo.environment["CUBBY_TOKEN"] {
            req.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        }
        let resp = try await client.execute(req, timeout: .seconds(15))
        let body = try await resp.body.collect(upTo: 1 << 20)
        guard resp.status == .ok else { throw ValidationError("GET \(path) answered \(resp.status.code)") }
        return Data(body.readableBytesView)
    }

    func check(_ client: HTTPClient) async throws -> Int32 {
        let previous: State? =
            FileManager.default.fileExists(atPath: state)
            ? try JSONDecoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: state))) : nil
        let served = try JSONDecoder().decode([String: String].self, from: try await get(client, "/api/v1/audit/key"))
        let trusted = key ?? previous?.key ?? served["key"] ?? ""
        guard served["key"] == trusted else {
            throw WitnessFailure(message: "the server's log key changed from \(trusted) to \(served["key"] ?? "none")")
        }
        let verifier = try NoteVerifier(verifierKey: trusted)
        let noteText = String(decoding: try await get(client, "/api/v1/audit/checkpoint"), as: UTF8.self)
        let checkpoint: Checkpoint
        do { checkpoint = try verifier.openCheckpoint(noteText, expectedOrigin: verifier.keyName) } catch {
            throw WitnessFailure(message: "the checkpoint's signature does not verify: \(error)")
        }
        if let previous {
            guard let oldRoot = TreeHash(base64: previous.rootHash) else {
                throw ValidationError("the state file is damaged")
            }
            if checkpoint.size < previous.size {
                throw WitnessFailure(message: "the log shrank from \(previous.size) to \(checkpoint.size) leaves")
            }
            if checkpoint.size == previous.size {
                guard checkpoint.rootHash == oldRoot else {
                    throw WitnessFailure(message: "two different trees of \(checkpoint.size) leaves were signed")
                }
            } else if previous.size > 0 {
                let body = try await get(
                    client, "/api/v1/audit/proof/consistency?from=\(previous.size)&to=\(checkpoint.size)")
                let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
                let hashes = (object?["proof"] as? [String] ?? []).compactMap { TreeHash(base64: $0) }
                do {
                    try ConsistencyProof(oldSize: previous.size, newSize: checkpoint.size, hashes: hashes).verify(
                        oldRoot: oldRoot, newRoot: checkpoint.rootHash)
                } catch {
                    throw WitnessFailure(
                        message:
                            "the tree of \(checkpoint.size) leaves does not extend the one of \(previous.size) seen before: \(error)"
                    )
                }
            }
        }
        let next = State(
            key: trusted, checkpoint: noteText, size: checkpoint.size, rootHash: checkpoint.rootHash.base64)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let tmp = state + ".tmp"
        try encoder.encode(next).write(to: URL(fileURLWithPath: tmp), options: .atomic)
        guard rename(tmp, state) == 0 else { throw ValidationError("cannot write \(state)") }
        print(
            "witness: ok — \(verifier.keyName) at \(checkpoint.size) leaves"
                + (previous.map { " (was \($0.size))" } ?? " (first checkpoint seen)"))
        return 0
    }
}
