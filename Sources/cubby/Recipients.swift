import ArgumentParser
import CubbyCore
import CubbyServer
import Foundation

/// The recipient directory from the console: the same desk the API calls, acting for the whole organization.
struct RecipientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipient", abstract: "Recipients: add, find, deactivate, import a CSV file.",
        subcommands: [Import.self, Add.self, Find.self, Deactivate.self])

    /// Runs `body` with the parts and the console's principal for the organization.
    static func withDesk<T>(
        _ options: ServerOptions, _ organization: String?,
        _ body: (RecipientDesk, Principal) async throws -> T
    ) async throws -> T {
        try await withParts(options) { parts, _ in
            let org = try await resolveOrganization(organization, parts)
            let principal = try await consolePrincipal(org, parts)
            do { return try await body(parts.recipients, principal) } catch let e as RecipientError {
                throw ValidationError(message(e))
            } catch let e as DomainError {
                throw ValidationError(message(e))
            }
        }
    }

    static func message(_ e: RecipientError) -> String {
        switch e {
        case .deactivated(let m), .importTooLarge(let m), .invalidCSV(let m), .preferenceRefused(let m): m
        case .exists(let field): "another recipient of the organization already has this \(field)"
        case .invalid(_, let m): m
        case .notCSV: "the file is not CSV"
        }
    }

    static func message(_ e: DomainError) -> String {
        switch e {
        case .notFound(let m), .invalidRequest(let m), .forbidden(let m), .invalidState(let m): m
        default: "\(e)"
        }
    }

    static func show(_ r: Recipient) {
        let fields: [(String, String?)] = [
            ("id", r.id), ("site", r.siteId), ("name", r.name), ("email", r.email), ("phone", r.phone),
            ("apartment", r.apartment), ("external id", r.externalId), ("language", r.preferredLanguage.rawValue),
            ("accessible", r.needsAccessible ? "yes" : "no"), ("active", r.active ? "yes" : "no"),
        ]
        for (label, value) in fields { if let value { print("\(label): \(value)") } }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, update and deactivate a site's recipients from a CSV file (docs/recipients-import.md).")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The CSV file (UTF-8, header row).")
        var file: String
        @Option(help: "The site the file lists.")
        var site: String
        @Flag(help: "Check and report only; change nothing.")
        var dryRun = false
        @Flag(help: "Deactivate the site's recipients that the file does not list.")
        var deactivateMissing = false
        @Option(help: "Organization id (default: the only one).")
        var organization: String?
        @Flag(help: "Print the report as JSON.")
        var json = false

        func run() async throws {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            if let size = attributes[.size] as? Int, size > RecipientImport.maxBytes {
                throw ValidationError("\(file) is larger than \(RecipientImport.maxBytes) bytes")
            }
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let report = try await RecipientCommand.withDesk(options, organization) { desk, p in
                try await desk.importCSV(
                    p, csv: bytes,
                    options: RecipientImportOptions(siteId: site, dryRun: dryRun, deactivateMissing: deactivateMissing),
                    actor: .console)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                for row in report.results where row.outcome != .unchanged {
                    var line = "row \(row.row): \(row.outcome.rawValue)"
                    if let id = row.recipientId { line += " \(id)" }
                    if let fields = row.fields { line += " (\(fields.joined(separator: ", ")))" }
                    if let column = row.column { line += " [\(column)]" }
                    if let reason = row.reason { line += ": \(reason)" }
                    print(line)
                }
                for id in report.deactivatedRecipients { print("deactivated \(id) (not in the file)") }
                if !report.ignoredColumns.isEmpty {
                    print("ignored columns: \(report.ignoredColumns.joined(separator: ", "))")
                }
                print(
                    "\(report.rows) rows: \(report.created) created, \(report.updated) updated, "
                        + "\(report.unchanged) unchanged, \(report.rejected) rejected, \(report.deactivated) deactivated"
                )
                print(
                    report.committed
                        ? "Written."
                        : report.dryRun
                            ? "Dry run: nothing was written." : "Nothing was written: fix the rejected rows.")
            }
            if report.rejected > 0 { throw ExitCode(2) }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create one recipient.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The recipient's site.")
        var site: String
        @Option(help: "Full name.")
        var name: String
        @Option(help: "Email address.")
        var email: String?
        @Option(help: "Phone number in E.164 form (+15550100199).")
        var phone: String?
        @Option(help: "Apartment or office.")
        var apartment: String?
        @Option(help: "The property-management system's id for the recipient.")
        var externalId: String?
        @Option(help: "en or es.")
        var language: String = "en"
        @Flag(help: "Needs an accessible compartment.")
        var accessible = false
        @Option(help: "Organization id (default: the only one).")
        var organization: String?

        func run() async throws {
            guard let lang = PreferredLanguage(rawValue: language) else {
                throw ValidationError("--language must be en or es")
            }
            let r = try await RecipientCommand.withDesk(options, organization) { desk, p in
                try await desk.create(
                    p,
                    RecipientDraft(
                        siteId: site, name: name, email: email, phone: phone, apartment: apartment,
                        externalId: externalId, preferredLanguage: lang, needsAccessible: accessible),
                    actor: .console)
            }
            RecipientCommand.show(r)
        }
    }

    struct Find: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Find a recipient by email or external id.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Email address.")
        var email: String?
        @Option(help: "External id.")
        var externalId: String?
        @Option(help: "Organization id (default: the only one).")
        var organization: String?

        func validate() throws {
            guard (email == nil) != (externalId == nil) else {
                throw ValidationError("give exactly one of --email and --external-id")
            }
        }

        func run() async throws {
            let found = try await RecipientCommand.withDesk(options, organization) { desk, p in
                if let email { return try await desk.find(p, email: email) }
                return try await desk.find(p, externalId: externalId ?? "")
            }
            guard let found else { throw ValidationError("no such recipient") }
            RecipientCommand.show(found)
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deactivate a recipient: live pickups stay valid, nothing new is delivered.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The recipient's id.")
        var id: String
        @Option(help: "Organization id (default: the only one).")
        var organization: String?

        func run() async throws {
            guard let rid = EntityID.parse(id) else { throw ValidationError("\(id) is not a recipient id") }
            let r = try await RecipientCommand.withDesk(options, organization) { desk, p in
                try await desk.deactivate(p, id: rid, actor: .console)
            }
            RecipientCommand.show(r)
        }
    }
}
