import ArgumentParser
import CubbyCore
import CubbyServer
import CubbyStore
import Foundation

/// Prints what a new organization's first super-administrator needs: ids and the one-time enrollment link.
func printNewOrganization(_ new: NewOrganization, _ settings: ServerSettings) {
    print("Created organization \(new.name) (\(new.id)).")
    print("Its super-administrator \(new.account.email) (\(new.account.id)) enrolls with this link,")
    print("valid for 24 hours and usable once:")
    print("  \(settings.linkBase)/admin/enroll?token=\(new.enrollmentToken)")
}

/// Turns the desks' refusals into the command line's clear errors.
func consoleErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as StaffError {
        throw ValidationError(e.message)
    } catch let e as DomainError {
        throw ValidationError("\(e)")
    }
}

struct Setup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Set up an empty database: the organization and its first super-administrator (once).",
        discussion: """
            Applies the migrations, creates the organization and a super-administrator account, and prints the \
            account's one-time enrollment link. Refuses when the database already holds an organization; a \
            deployment that hosts several uses `cubby organization create`.
            """)
    @OptionGroup var options: ServerOptions
    @Option(help: "The organization's name.")
    var organization: String
    @Option(help: "Email address of its first super-administrator.")
    var adminEmail: String

    func run() async throws {
        try await withParts(options) { parts, settings in
            let new = try await consoleErrors {
                do {
                    return try await parts.staff.createOrganization(
                        name: organization, adminEmail: adminEmail, actor: .console, firstOnly: true)
                } catch SetupError.alreadySetUp(let count) {
                    throw ValidationError(
                        "this database is already set up (\(count) organization\(count == 1 ? "" : "s")); "
                            + "add another with cubby organization create")
                }
            }
            printNewOrganization(new, settings)
            print("Next: cubby credential issue --kind admin --label \"setup script\" (an API key for scripts).")
        }
    }
}

struct OrganizationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "organization",
        abstract: "Organizations of a deployment that hosts several; they never see each other.",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an organization and its first super-administrator; prints the enrollment link.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The organization's name.")
        var name: String
        @Option(help: "Email address of its first super-administrator.")
        var adminEmail: String

        func run() async throws {
            try await withParts(options) { parts, settings in
                let new = try await consoleErrors {
                    try await parts.staff.createOrganization(
                        name: name, adminEmail: adminEmail, actor: .console, firstOnly: false)
                }
                printNewOrganization(new, settings)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the organizations: id and name.")
        @OptionGroup var options: ServerOptions

        func run() async throws {
            try await withParts(options) { parts, _ in
                for org in try await parts.staff.organizations() { print("\(org.id)  \(org.name)") }
            }
        }
    }
}
