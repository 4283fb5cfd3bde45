import ArgumentParser
import CubbyCore
import CubbyServer
import CubbyStore
import Foundation

/// Runs a provisioning command for the organization (the given one, or the only one) as the console, and turns the
/// desk's refusals into the command line's error messages.
func provisioning<T>(
    _ options: ServerOptions, organization: String?,
    _ body: (ProvisioningDesk, Principal, CubbyServerParts) async throws -> T
) async throws -> T {
    try await withParts(options) { parts, _ in
        let org = try await resolveOrganization(organization, parts)
        let p = try await consolePrincipal(org, parts)
        do { return try await body(parts.provisioning, p, parts) } catch let e as DomainError {
            switch e {
            case .invalidRequest(let m), .notFound(let m), .invalidState(let m), .forbidden(let m):
                throw ValidationError(m)
            default: throw ValidationError("\(e)")
            }
        } catch let e as ProvisioningError {
            throw ValidationError("\(e.code): \(e.message)")
        }
    }
}

/// Prints `value` as JSON (for `--json`).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// A comma-separated list option: trimmed, empty items dropped.
func commaList(_ text: String) -> [String] {
    text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// Comma-separated whole hours; "" or "none" is the empty schedule.
func hourList(_ text: String) throws -> [Int] {
    if text == "none" { return [] }
    return try commaList(text).map {
        guard let h = Int($0) else { throw ValidationError("--reminder-hours must list whole hours, e.g. 24,72") }
        return h
    }
}

/// A site as the command line prints it.
struct SiteOutput: Encodable {
    var id, name, address, timeZone: String
    var languages: [String]
    var pickupLifetimeSeconds, reservationSeconds: Int64
    var reminderHours: [Int]
    var quietHours: String?

    init(_ s: SiteRecord) {
        id = s.id
        name = s.name
        address = s.address
        timeZone = s.timeZone
        languages = commaList(s.languages)
        pickupLifetimeSeconds = s.pickupLifetimeSeconds
        reservationSeconds = s.reservationSeconds
        reminderHours = s.reminderHours.split(separator: ",").compactMap { Int($0) }
        quietHours = s.quietHours.isEmpty ? nil : s.quietHours
    }

    func line() -> String {
        "\(id)  \(name)  [\(timeZone); \(languages.joined(separator: ",")); pickup \(pickupLifetimeSeconds / 3600) h; reminders \(reminderHours.map(String.init).joined(separator: ",")) h; quiet \(quietHours ?? "none")]"
    }
}

/// `cubby site …`: sites of the organization.
struct SiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site", abstract: "Sites: create, list, update.",
        subcommands: [Create.self, List.self, Update.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a site and print its id.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The site's name.") var name: String
        @Option(help: "Its postal address.") var address: String
        @Option(help: "IANA time zone, e.g. Europe/Paris.") var timeZone: String
        @Option(help: "Comma-separated kiosk languages (default en).") var languages: String?
        @Option(help: "Seconds a deposited parcel waits (default 604800, 7 days).") var pickupLifetimeSeconds: Int?
        @Option(help: "Seconds a courier's reservation lasts (default 600).") var reservationSeconds: Int?
        @Option(help: "Comma-separated hours after a deposit to remind at (default 24,72; none for no reminders).")
        var reminderHours: String?
        @Option(help: "Quiet hours for SMS reminders, HH:MM-HH:MM in the site's time zone (default 21:00-08:00; none).")
        var quietHours: String?
        @Option(help: "Organization id (default: the only one).") var organization: String?
        @Flag(help: "Print the site as JSON.") var json = false

        func run() async throws {
            let hours = try reminderHours.map(hourList)
            try await provisioning(options, organization: organization) { desk, p, _ in
                let site = try await desk.createSite(
                    p, actor: .console,
                    .init(
                        name: name, address: address, timeZone: timeZone, languages: languages.map(commaList),
                        pickupLifetimeSeconds: pickupLifetimeSeconds, reservationSeconds: reservationSeconds,
                        reminderHours: hours, quietHours: quietHours.map { $0 == "none" ? nil : $0 }))
                if json { try printJSON(SiteOutput(site)) } else { print(site.id) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the organization's sites.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Organization id (default: the only one).") var organization: String?
        @Flag(help: "Print the sites as JSON.") var json = false

        func run() async throws {
            try await provisioning(options, organization: organization) { desk, p, _ in
                let sites = try await desk.sites(p).map(SiteOutput.init)
                if json { try printJSON(sites) } else { for s in sites { print(s.line()) } }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a site's settings; others stay as they are.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The site's id.") var id: String
        @Option(help: "New name.") var name: String?
        @Option(help: "New postal address.") var address: String?
        @Option(help: "New IANA time zone.") var timeZone: String?
        @Option(help: "Comma-separated kiosk languages.") var languages: String?
        @Option(help: "Seconds a deposited parcel waits.") var pickupLifetimeSeconds: Int?
        @Option(help: "Seconds a courier's reservation lasts.") var reservationSeconds: Int?
        @Option(help: "Comma-separated reminder hours (none for no reminders).") var reminderHours: String?
        @Option(help: "Quiet hours for SMS reminders, HH:MM-HH:MM (none for none).") var quietHours: String?
        @Option(help: "Organization id (default: the only one).") var organization: String?
        @Flag(help: "Print the site as JSON.") var json = false

        func run() async throws {
            let hours = try reminderHours.map(hourList)
            try await provisioning(options, organization: organization) { desk, p, _ in
                let site = try await desk.updateSite(
                    p, actor: .console, id: id,
                    .init(
                        name: name, address: address, timeZone: timeZone, languages: languages.map(commaList),
                        pickupLifetimeSeconds: pickupLifetimeSeconds, reservationSeconds: reservationSeconds,
                        reminderHours: hours, quietHours: quietHours.map { $0 == "none" ? nil : $0 }))
                if json { try printJSON(SiteOutput(site)) } else { print(SiteOutput(site).line()) }
            }
        }
    }
}

/// A unit as the command line prints it.
struct UnitOutput: Encodable {
    struct Compartment: Encodable {
        var id, label, size: String
        var widthMm, heightMm, depthMm: Int64
        var accessible: Bool
    }
    var id, siteId, name: String
    var decommissioned: Bool
    var compartments: [Compartment]

    init(_ unit: UnitRecord, _ compartments: [CompartmentRecord]) {
        id = unit.id
        siteId = unit.siteId
        name = unit.name
        decommissioned = unit.decommissionedAt != nil
        self.compartments = compartments.map {
            Compartment(
                id: $0.id, label: $0.label, size: $0.size.rawValue, widthMm: $0.widthMm, heightMm: $0.heightMm,
                depthMm: $0.depthMm, accessible: $0.accessible)
        }
    }
}

extension UnitCommand {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a unit at a site from a layout file (see docs/examples/unit-layout.json); print its id.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The site's id.") var site: String
        @Option(help: "The layout: a JSON file of columns and their compartments, top to bottom.") var layout: String
        @Option(help: "The unit's name (default: the layout's).") var name: String?
        @Option(help: "Organization id (default: the only one).") var organization: String?
        @Flag(help: "Print the unit and its compartments as JSON.") var json = false

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: layout) else {
                throw ValidationError("cannot read the layout file \(layout)")
            }
            try await provisioning(options, organization: organization) { desk, p, _ in
                let built = try await desk.createUnit(
                    p, actor: .console, siteId: site, layout: try UnitLayout.decode(data), name: name)
                if json {
                    try printJSON(UnitOutput(built.unit, built.compartments))
                } else {
                    print(built.unit.id)
                    for c in built.compartments {
                        print("  \(c.id)  \(c.label)  \(c.size.rawValue)\(c.accessible ? "  accessible" : "")")
                    }
                }
            }
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a unit.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The unit's id.") var unit: String
        @Option(help: "The new name.") var name: String
        @Option(help: "Organization id (default: the only one).") var organization: String?

        func run() async throws {
            try await provisioning(options, organization: organization) { desk, p, _ in
                let u = try await desk.renameUnit(p, actor: .console, unitId: unit, name: name)
                print("\(u.id)  \(u.name)")
            }
        }
    }

    struct Decommission: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Decommission an empty unit: its device credentials and enrollment codes stop working, and it takes no parcels."
        )
        @OptionGroup var options: ServerOptions
        @Option(help: "The unit's id.") var unit: String
        @Option(help: "Organization id (default: the only one).") var organization: String?

        func run() async throws {
            try await provisioning(options, organization: organization) { desk, p, _ in
                let u = try await desk.decommissionUnit(p, actor: .console, unitId: unit)
                print("\(u.id)  \(u.name)  decommissioned")
            }
        }
    }
}

/// A carrier as the command line prints it.
struct CarrierOutput: Encodable {
    var id, name: String
    var siteIds: [String]
    var active: Bool

    init(_ v: ProvisioningDesk.CarrierView) {
        id = v.carrier.id
        name = v.carrier.name
        siteIds = v.siteIds
        active = v.carrier.deactivatedAt == nil
    }

    func line() -> String {
        "\(id)  \(name)  \(active ? "active" : "deactivated")  sites \(siteIds.joined(separator: ","))"
    }
}

/// `cubby carrier …`: carriers and the sites they serve.
struct CarrierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "carrier", abstract: "Carriers: create, list, update, deactivate.",
        subcommands: [Create.self, List.self, Update.self, Deactivate.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a carrier and print its id.")
        @OptionGroup var options: ServerOptions
        @Option(help: "The carrier's name.") var name: String
        @Option(help: "Comma-separated ids of the sites it serves.") var sites: String
        @Option(help: "Organization id (default: the only one).") var organization: String?
        @Flag(help: "Print the carrier as JSON.") var json = false

        func run() async throws {
            try await provisioning(options, organization: organization) { desk, p, _ in
                let v = try await desk.createCarrier(p, actor: .console, name: name, siteIds: commaList(sites))
                if json { try printJSON(CarrierOutput(v)) } else { print(v.carrier.id) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List carriers and the sites they serve.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Organization id (default: the only one).") var organization: String?
        @Flag(help: "Print the carriers as JSON.") var json = false

        func run() async throws {
            try await provisioning(options, organization: organization) { desk, p, _ in
                let all = try await desk.carriers(p).map(CarrierOutput.init)
                if json { try printJSON(all) } else { for c in all { print(c.line()) } }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a carrier or change the sites it serves.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The carrier's id.") var id: String
        @Option(help: "New name.") var name: String?
        @Option(help: "Comma-separated ids of the sites it serves from now on.") var sites: String?
        @Option(help: "Organization id (default: the only one).") var organization: String?
        @Flag(help: "Print the carrier as JSON.") var json = false

        func run() async throws {
            try await provisioning(options, organization: organization) { desk, p, _ in
                let v = try await desk.updateCarrier(
                    p, actor: .console, id: id, name: name, siteIds: sites.map(commaList))
                if json { try printJSON(CarrierOutput(v)) } else { print(CarrierOutput(v).line()) }
            }
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deactivate a carrier: its courier and carrier credentials are revoked.")
        @OptionGroup var options: ServerOptions
        @Argument(help: "The carrier's id.") var id: String
        @Option(help: "Organization id (default: the only one).") var organization: String?

        func run() async throws {
            try await provisioning(options, organization: organization) { desk, p, _ in
                let v = try await desk.deactivateCarrier(p, actor: .console, id: id)
                print(CarrierOutput(v).line())
            }
        }
    }
}
