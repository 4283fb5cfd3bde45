import ArgumentParser

/// The `cubby` command line: server, demo, migrations and benchmarks.
@main
struct Cubby: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cubby",
        abstract: "Cubby: an open, security-first smart parcel-locker server.",
        subcommands: [
            Serve.self, Demo.self, Migrate.self, Setup.self, OrganizationCommand.self, AdminCommand.self,
            CredentialCommand.self, UnitCommand.self,
            TLSCommand.self, EdgeGroup.self, AuditCommand.self, Bench.self,
            SiteCommand.self, CarrierCommand.self, RecipientCommand.self, KeysCommand.self,
        ])
}
