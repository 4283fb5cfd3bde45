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

/// Opens the store and the logs' public key from the server's settings, without changing anything.
struct LogAccess {
    let store: any SQLStore
    let publicKey: Curve25519.Signing.PublicKey
    /// The verifier key given with `--key`, whose name must be the checked log's origin.
    let pinned: NoteVerifier?

    static func open(_ options: ServerOptions, key: String?) async throws -> LogAccess {
        let settings = try await options.settings()
        let pinned = try key.map { try NoteVerifier(verifierKey: $0) }
        let publicKey: Curve25519.Signing.PublicKey
        if let pinned {
            publicKey = pinned.publicKey
        } else {
            guard FileManager.default.fileExists(atPath: settings.keysPath) else {
                throw ValidationError(
                    "no key file at \(settings.keysPath); pass --keys or the log's verifier key with --key")
            }
            publicKey = try await ServerKeyFile.checkpointPublicKey(
                path: settings.keysPath, provider: settings.keyProvider)
        }
        let store = try await settings.openStore(logger: options.logger())
        return LogAccess(store: store, publicKey: publicKey, pinned: pinned)
    }
}

/// Which log a command reads: an organization's (the default), the deployment's own, or the frozen
/// deployment-wide log of earlier versions.
struct LogSelection: ParsableArguments {
    @Option(help: "The organization whose log to use; optional while the deployment has one organization.")
    var organization: String?
    @Flag(
        help:
            "Use the frozen deployment-wide log of earlier versions (with --organization: only that organization's events in it)."
    )
    var frozen = false
    @Flag(help: "Use the deployment's own log: the events of no organization.")
    var deployment = false

    func validate() throws {
        if frozen && deployment { throw ValidationError("pass at most one of --frozen and --deployment") }
        if deployment && organization != nil {
            throw ValidationError("--deployment and --organization name different logs")
        }
    }

    /// The log, and the organization whose events are wanted from the frozen log (nil: all).
    func resolve(_ store: any SQLStore) async throws -> (log: AuditLogID, organization: String?) {
        if deployment { return (.deployment, nil) }
        if frozen {
            return (.frozen, try await organization.asyncMap { try await resolveOrganization($0, store: store) })
        }
        let org = try await resolveOrganization(organization, store: store)
        guard let id = OrganizationID(uuidString: org) else {
            throw ValidationError("organization \(org) is not an id")
        }
        return (.organization(id), nil)
    }

    /// The one log named, or nil to mean every log.
    func only(_ store: any SQLStore) async throws -> AuditLogID? {
        if !frozen && !deployment && organization == nil { return nil }
        return try await resolve(store).log
    }
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Recompute every audit log (or one) from the database and check every signed checkpoint against it.",
        discussion:
            "Checks each log — the frozen deployment-wide log of earlier versions, the deployment's own, every organization's — and names each. Exits 0 when all are intact; 1 and the first bad leaf index when an event was altered, deleted, inserted, reordered or filed in the wrong log, a checkpoint forged, or a log's genesis does not link it to the frozen log."
    )
    @OptionGroup var options: ServerOptions
    @OptionGroup var selection: LogSelection
    @Option(
        help:
            "The logs' first verifier key (<name>+<id>+<key>), where their key history starts; default: the key file's."
    )
    var key: String?

    func run() async throws {
        let access = try await LogAccess.open(options, key: key)
        let started = ContinuousClock.now
        let reports: [AuditVerifier.Report]
        do {
            let only = try await selection.only(access.store)
            reports = try await AuditVerifier.all(store: access.store, publicKey: access.publicKey, only: only)
        } catch {
            await access.store.close()
            throw error
        }
        await access.store.close()
        let seconds = (ContinuousClock.now - started).seconds
        var failed = false
        for report in reports {
            let name = "audit log \(report.origin) (\(report.log))"
            if let pinned = access.pinned, report.ok, pinned.keyName != report.origin, reports.count == 1 {
                print("\(name): FAILED: the key given names the log \(pinned.keyName)")
                failed = true
            } else if let problem = report.problem {
                print("\(name): FAILED: \(problem)")
                failed = true
            } else {
                let keys = report.keys.count > 1 ? " across \(report.keys.count - 1) key rotations" : ""
                print(
                    "\(name): ok — \(report.leaves) leaves, \(report.checkpoints) signed checkpoints consistent\(keys)")
            }
        }
        if reports.isEmpty { print("audit log: no log holds any event yet") }
        print(String(format: "%d logs checked in %.2f s", reports.count, seconds))
        if failed { throw ExitCode(1) }
    }
}

struct AuditExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export one log's audit events as JSON lines, CSV or ArcSight CEF.")
    @OptionGroup var options: ServerOptions
    @OptionGroup var selection: LogSelection
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
        let store = try await settings.openStore(logger: options.logger())
        do {
            try await export(store: store, format: format)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    func export(store: any SQLStore, format: AuditExportFormat) async throws {
        let (log, organization) = try await selection.resolve(store)
        let start = try await leafIndex(from, store: store, log: log)
        let end = try await to.asyncMap { try await leafIndex($0, store: store, log: log) } ?? Int64.max
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
        for try await batch in AuditPages.events(store, log: log, from: start, to: end, organization: organization) {
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
            FileHandle.standardError.write(Data("exported \(count) events of \(log) to \(out!)\n".utf8))
        }
    }
}

/// A leaf index of `log` given as a number, or its first leaf at or after an RFC 3339 time.
func leafIndex(_ text: String, store: any SQLStore, log: AuditLogID) async throws -> Int64 {
    if let i = Int64(text), i >= 0 { return i }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    guard let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
        throw ValidationError("\(text) is neither a leaf index nor an RFC 3339 time")
    }
    let millis = date.millisecondsSince1970
    return try await store.read { s in try await s.firstLeaf(log, atOrAfter: millis) } ?? Int64.max
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
    @Option(help: "The organization whose log the token's server must serve; refuses another organization's.")
    var organization: String?
    @Flag(
        help:
            "Follow the frozen deployment-wide log of earlier versions: confirms its final checkpoint extends the state."
    )
    var frozen = false

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

    /// `GET /api/v1/audit/key`.
    struct ServedKey: Decodable {
        var origin: String
        var key: String
        var history: [LogKeyRotation]?
    }

    func get(_ client: HTTPClient, _ path: String) async throws -> Data {
        let query = frozen ? (path.contains("?") ? "&log=frozen" : "?log=frozen") : ""
        var req = HTTPClientRequest(url: server.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path + query)
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
        let served = try JSONDecoder().decode(ServedKey.self, from: try await get(client, "/api/v1/audit/key"))
        if let organization, !frozen {
            guard let id = EntityID.parse(organization), served.origin.hasSuffix("/" + id) == true else {
                throw ValidationError(
                    "the server serves the log \(served.origin), not organization \(organization)'s: check the token")
            }
        }
        let trusted = key ?? previous?.key ?? served.key
        var verifier = try NoteVerifier(verifierKey: trusted)
        // A new key is taken only through rotations the key in force vouched for (signing a checkpoint over the
        // rotation event), and only when those events are in the tree this witness follows (checked below).
        var followed: [LogKeyRotation] = []
        if served.key != trusted {
            let history = served.history ?? []
            let next: NoteVerifier
            let retired: [LogKeyRotation.Retired]
            do { (next, retired) = try LogKeyRotation.follow(from: verifier, history: history) } catch {
                throw WitnessFailure(message: "the server's log key changed from \(trusted) to \(served.key): \(error)")
            }
            guard next.verifierKey == served.key else {
                throw WitnessFailure(
                    message:
                        "the server's log key changed from \(trusted) to \(served.key) without a rotation the old key vouched for"
                )
            }
            // This log's own rotation events must be in the tree followed; those of the deployment log, for a log
            // opened after them, were checked against the deployment log's checkpoints.
            followed = history.filter { step in
                step.origin == nil && retired.contains { $0.origin == nil && $0.index == step.index }
            }
            verifier = next
        }
        let noteText = String(decoding: try await get(client, "/api/v1/audit/checkpoint"), as: UTF8.self)
        let checkpoint: Checkpoint
        do { checkpoint = try verifier.openCheckpoint(noteText, expectedOrigin: verifier.keyName) } catch {
            throw WitnessFailure(message: "the checkpoint's signature does not verify: \(error)")
        }
        for step in followed {
            // The rotation must be in this tree, not in a fork the old key signed.
            let body = try await get(
                client, "/api/v1/audit/proof/inclusion?index=\(step.index)&size=\(checkpoint.size)")
            let object = try JSONSerialization.jsonObject(with: body) as? [String: Any]
            let hashes = (object?["proof"] as? [String] ?? []).compactMap { TreeHash(base64: $0) }
            guard let canonical = Data(base64Encoded: step.canonical),
                (try? InclusionProof(leafIndex: step.index, treeSize: checkpoint.size, hashes: hashes).verify(
                    leafHash: TreeHash.leaf(canonical), rootHash: checkpoint.rootHash)) != nil
            else {
                throw WitnessFailure(
                    message: "the rotation at leaf \(step.index) is not in the tree of \(checkpoint.size) leaves")
            }
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
            key: verifier.verifierKey, checkpoint: noteText, size: checkpoint.size,
            rootHash: checkpoint.rootHash.base64)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let tmp = state + ".tmp"
        try encoder.encode(next).write(to: URL(fileURLWithPath: tmp), options: .atomic)
        guard rename(tmp, state) == 0 else { throw ValidationError("cannot write \(state)") }
        for step in followed {
            print("witness: the log's key rotated at leaf \(step.index), vouched for by the key it replaced")
        }
        print(
            "witness: ok — \(verifier.keyName) at \(checkpoint.size) leaves"
                + (previous.map { " (was \($0.size))" } ?? " (first checkpoint seen)"))
        return 0
    }
}
