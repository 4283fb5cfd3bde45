import ArgumentParser

/// `cubby keys`: the server's keys, rotated online.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Rotate the server's keys.",
        subcommands: [KeysRotateSigning.self])
}
