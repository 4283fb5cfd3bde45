import ArgumentParser
import CubbyEdgeBench
import CubbyEdgeCLI

@main
struct CubbyEdgeMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cubby-edge",
        abstract: "The controller and kiosk of one locker unit.",
        subcommands: EdgeCommands.all + [EdgeBenchCommand.self])
}
