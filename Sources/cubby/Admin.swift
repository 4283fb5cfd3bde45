import ArgumentParser
import CubbyCore
import CubbyServer
import CubbyStore
import Foundation
import Logging

/// Builds the server's parts, runs `body` with them, and closes the store whether `body` returns or throws.
func withParts<T>(settings: ServerSettings, logger: Logger, _ body: (CubbyServerParts) async throws -> T) async throws
    -> T
{
    let parts = try await buildParts(settings: settings, logger: logger)
    do {
        let result = try await body(parts)
        await parts.store.close()
        return result
    } catch {
        await parts.store.close()
        throw error
    }
}

/// The same for a one-shot console command: settings from its options, warnings and errors only in the log.
func withParts<T>(_ options: ServerOptions, _ body: (CubbyServerParts, ServerSettings) async throws -> T) async throws
    -> T
{
    let settings = try await options.settings()
    var logger = options.logger()
    logger.logLevel = max(logger.logLevel, .warning)
    return try await withParts(settings: settings, logger: logger) { parts in try await body(parts, settings) }
}

/// The organization a command acts on: the one given, or the only one there is.
func resolveOrganization(_ given: String?, _ parts: CubbyServerParts) async throws -> String {
    try await resolveOrganization(given, store: parts.store)
}

/// The organization a command acts in, read from the store alone.
func resolveOrganization(_ given: String?, store: any SQLStore) async throws -> String {
    let all = try await store.read { s in try await s.organizationIds() }
    if let given {
        guard let id = UUID(uuidString: given)?.idString, all.contains(id) else {
            throw ValidationError("organization \(given) not found")
        }
        return id
    }
    guard all.count == 1 else {
        throw ValidationError(
            all.isEmpty
                ? "the database holds no organization yet (run cubby setup)"
                : "several organizations exist: pass --organization")
    }
    return all[0]
}

/// The command line acts for the organization as a whole, like a super-administrator at the console.
func consolePrincipal(_ org: String, _ parts: CubbyServerParts) async throws -> Principal {
    let sites = try await parts.store.read { s in try await s.sites(organization: org) }
    guard let organization = OrganizationID(uuidString: org) else {
        throw ValidationError("organization \(org) is not an id")
    }
    return Principal(
        role: .superAdmin, credentialId: .make(), organizationId: organization,
        siteIds: Set(sites.compactMap(SiteID.init(uuidString:))))
}

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Staff accounts from the console.",
        subcommands: [Create.self, Link.self, Phone.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a staff account and print its one-time enrollment link (valid 24 h).")
        @OptionGroup var options: ServerOptions
        @Option(help: "Email address of the new account.")
        var email: String
        @Option(help: "super-admin, admin or auditor.")
        var role: String
        @Option(help: "Comma-separated site ids (admin: required; auditor: optional, default the whole organization).")
        var sites: String?
        @Option(help: "Organization id (default: the only one).")
        var organization: String?

        func run() async throws {
            guard let r = Principal.Role(rawValue: role), r.isStaff else {
                throw ValidationError("--role must be super-admin, admin or auditor")
            }
            try await withParts(options) { parts, settings in
                let org = try await resolveOrganization(organization, parts)
                let siteList = sites.map {
                    $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
                }
                do {
                    let (account, token) = try await parts.staff.createAccount(
                        organization: org, email: email, role: r, sites: siteList, actor: .console)
                    print("Created \(account.role) \(account.email) (\(account.id)).")
                    print("Enrollment link, valid for 24 hours and usable once:")
                    print("  \(settings.linkBase)/admin/enroll?token=\(token)")
                } catch let e as StaffError {
                    throw ValidationError(e.message)
                }
            }
        }
    }

    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Print a new enrollment link for an account (older links stop working); also resets a locked account's sign-in."
        )
        @OptionGroup var options: ServerOptions
        @Option(help: "Email address of the account.")
        var email: String

        func run() async throws {
            try await withParts(options) { parts, settings in
                guard let account = try await parts.store.read({ s in try await s.staffAccount(email: email) }) else {
                    throw ValidationError("no account with email \(email)")
                }
                let token = try await parts.staff.renewEnrollmentLink(accountId: account.id, actor: .console)
                print("\(settings.linkBase)/admin/enroll?token=\(token)")
            }
        }
    }
}

extension AdminCommand {
    struct Phone: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set or remove the phone number a staff member is paged on by SMS (kept sealed; audited).")
        @OptionGroup var options: ServerOptions
        @Option(help: "Email address of the account.")
        var email: String
        @Option(help: "The number in E.164 form, like +15550100199.")
        var phone: String?
        @Flag(help: "Remove the number instead.")
        var remove = false

        func run() async throws {
            guard (phone == nil) == remove else { throw ValidationError("give --phone NUMBER or --remove") }
            try await withParts(options) { parts, _ in
                do {
                    try await parts.staff.setPhone(email: email, phone: phone)
                } catch DomainError.invalidRequest(let m) {
                    throw ValidationError(m)
                } catch DomainError.notFound(let m) {
                    throw ValidationError(m)
                }
                print(remove ? "Removed the phone number of \(email)." : "Set the phone number of \(email).")
            }
        }
    }
}

struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential", abstract: "API credentials: list, issue, revoke.",
        subcommands: [List.self, Issue.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List credentials (never their secrets).")
        @OptionGroup var options: ServerOptions
        @Option(help: "Organization id (default: the only one).")
        var organization: String?

        func run() async throws {
            try await withParts(options) { parts, _ in
                let org = try await resolveOrganization(organization, parts)
                let now = Date().millisecondsSince1970
                for c in try await parts.store.read({ s in try await s.credentials(organization: org) }) {
                    let state = c.revokedAt != nil ? "revoked" : (c.expiresAt ?? .max) <= now ? "expired" : "active"
                    let expires =
                        c.expiresAt.map { ISO8601DateFormatter().string(from: Date(millisecondsSince1970: $0)) }
                        ?? "never"
                    print(
                        "\(c.id)  \(c.kind.padding(toLength: 8, withPad: " ", startingAt: 0))  \(state.padding(toLength: 8, withPad: " ", startingAt: 0))  expires \(expires)  \(c.label)"
                    )
                }
            }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a credential; its secret is printed once.")
        @OptionGroup var options: ServerOptions
        @Option(help: "courier, carrier, device, admin, auditor or scim.")
        var kind: String
        @Option(help: "A label people recognise.")
        var label: String
        @Option(help: "Days until it expires (1–365).")
        var days: Int = 90
        @Option(help: "Carrier id (courier and carrier kinds).")
        var carrier: String?
        @Option(help: "Unit id (device kind).")
        var unit: String?
        @Option(
            help:
                "Comma-separated site ids (admin and auditor kinds; default the whole organization: an admin key without sites acts with a super-administrator's reach). The scim kind: exactly one site."
        )
        var sites: String?
        @Option(help: "Organization id (default: the only one).")
        var organization: String?

        func run() async throws {
            guard let k = Principal.Role(rawValue: kind), StaffDesk.credentialKinds.contains(k) else {
                throw ValidationError("--kind must be \(StaffDesk.credentialKindWords)")
            }
            try await withParts(options) { parts, _ in
                let org = try await resolveOrganization(organization, parts)
                let p = try await consolePrincipal(org, parts)
                do {
                    let (c, token) = try await parts.staff.issueCredential(
                        p, actor: .console,
                        .init(
                            kind: k, label: label, days: days, carrierId: carrier, unitId: unit,
                            sites: sites.map { $0.split(separator: ",").map(String.init) }))
                    print("Issued \(c.kind) credential \(c.id) (\(c.label)); shown only now:")
                    print(token)
                } catch let e as StaffError {
                    throw ValidationError(e.message)
                } catch let e as DomainError {
                    throw ValidationError("\(e)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a credential; its next request fails.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The credential's id.")
        var id: String
        @Option(help: "Organization id (default: the only one).")
        var organization: String?

        func run() async throws {
            try await withParts(options) { parts, _ in
                let org = try await resolveOrganization(organization, parts)
                let p = try await consolePrincipal(org, parts)
                do {
                    let c = try await parts.staff.revokeCredential(p, actor: .console, id: id)
                    print("Revoked \(c.kind) credential \(c.id) (\(c.label)).")
                } catch DomainError.notFound {
                    throw ValidationError("credential \(id) not found")
                }
            }
        }
    }
}
