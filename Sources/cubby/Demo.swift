import ArgumentParser
import CubbyDemo

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seed a demo organization (once) in ./cubby-data and run the server on it.")
    @OptionGroup var options: ServerOptions
    @Option(help: "Where the demo manifest is written.")
    var manifest: String = "./cubby-data/demo.json"
    @Flag(
        inversion: .prefixedNo, help: "Start one edge controller (simulated hardware) per demo unit as child processes."
    )
    var units: Bool = true
    @Option(help: "Port of the first unit's kiosk page; the next units take the next ports.")
    var kioskPort: Int = 8090
    @Option(help: "Port of the first unit's simulator control endpoint; the next units take the next ports.")
    var controlPort: Int = 8190
    @Option(help: "Seconds without a touch before a unit's kiosk page returns to its start screen.")
    var kioskIdleSeconds: Int = 60

    func run() async throws {
        let demo = DemoServer(
            manifest: manifest, units: units, kioskPort: kioskPort, controlPort: controlPort,
            kioskIdleSeconds: kioskIdleSeconds)
        do {
            try await demo.run(settings: try await options.settings(), logger: options.logger(), say: say)
        } catch let failure as DemoFailure {
            throw ValidationError(failure.description)
        }
    }
}
