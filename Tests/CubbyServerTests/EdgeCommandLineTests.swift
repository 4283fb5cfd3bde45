import ArgumentParser
import CubbyDemo
import CubbyEdgeCLI
import Testing

/// The unit's command line refuses bad settings before it touches any hardware.
@Suite("cubby-edge command line")
struct EdgeCommandLineTests {
    static func refuses(_ command: any ParsableCommand.Type, _ arguments: [String], mentioning text: String) {
        do {
            _ = try command.parseAsRoot(arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            let message = command.message(for: error)
            #expect(message.contains(text), "\(arguments): \(message)")
        }
    }

    @Test("run: the serial bus's speed, reply timeout, tries and device are checked")
    func runOptions() throws {
        Self.refuses(
            EdgeRunCommand.self, ["--bus", "serial:/dev/ttyUSB0", "--baud", "12345"],
            mentioning: "--baud must be one of")
        Self.refuses(
            EdgeRunCommand.self, ["--reply-timeout-ms", "5"], mentioning: "--reply-timeout-ms must be 20–5000")
        Self.refuses(EdgeRunCommand.self, ["--tries", "0"], mentioning: "--tries must be 1–10")
        Self.refuses(EdgeRunCommand.self, ["--bus", "serial:"], mentioning: "--bus must be simulated or serial:PATH")
        Self.refuses(EdgeRunCommand.self, ["--bus", "usb"], mentioning: "--bus must be simulated or serial:PATH")
        _ = try EdgeRunCommand.parseAsRoot([
            "--bus", "serial:/dev/ttyUSB0", "--baud", "19200", "--reply-timeout-ms", "80", "--tries", "5",
        ])
        Self.refuses(EdgeRunCommand.self, ["--kiosk-host-name", "a b"], mentioning: "--kiosk-host-name must be")
        Self.refuses(EdgeRunCommand.self, ["--kiosk-host-name", ""], mentioning: "--kiosk-host-name must be")
        _ = try EdgeRunCommand.parseAsRoot(["--kiosk-host-name", "kiosk.lobby", "--kiosk-host-name", "10.0.0.7"])
    }

    @Test("emulate-boards: board addresses, speed and auto-close are checked")
    func emulatorOptions() throws {
        Self.refuses(
            EdgeEmulateBoardsCommand.self, ["--device", "/tmp/x", "--boards", "0,4"],
            mentioning: "--boards must list addresses 0–3")
        Self.refuses(
            EdgeEmulateBoardsCommand.self, ["--device", "/tmp/x", "--boards", "0,,1"],
            mentioning: "--boards must list addresses 0–3")
        Self.refuses(
            EdgeEmulateBoardsCommand.self, ["--device", "/tmp/x", "--baud", "300"], mentioning: "--baud must be one of")
        Self.refuses(
            EdgeEmulateBoardsCommand.self, ["--device", "/tmp/x", "--auto-close-ms", "-1"],
            mentioning: "--auto-close-ms")
        Self.refuses(EdgeEmulateBoardsCommand.self, [], mentioning: "--device")
        _ = try EdgeEmulateBoardsCommand.parseAsRoot([
            "--device", "/tmp/x", "--boards", "0, 1,3", "--auto-close-ms", "0",
        ])
    }
}
