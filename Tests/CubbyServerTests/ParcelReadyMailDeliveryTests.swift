import CubbyCore
import CubbyDemo
import CubbyMail
import CubbyServer
import Foundation
import HTTPTypes
import Testing

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs `python3 script args…` and waits for its `READY <port>` line; the caller ends it.
private func startServer(_ script: String, _ arguments: [String]) throws -> (ChildProcess, Int) {
    let out = try ChildProcess.pipe()
    let process: ChildProcess
    do {
        process = try ChildProcess(
            executable: "/usr/bin/env", arguments: ["python3", root.appendingPathComponent(script).path] + arguments,
            standardInput: .null, standardOutput: .descriptor(out.write))
    } catch {
        close(out.read)
        close(out.write)
        throw error
    }
    close(out.write)
    var seen: [UInt8] = []
    var byte: UInt8 = 0
    while !seen.contains(UInt8(ascii: "\n")), read(out.read, &byte, 1) == 1 { seen.append(byte) }
    let line = String(decoding: seen, as: UTF8.self).split(separator: "\n").first ?? ""
    guard line.hasPrefix("READY "), let port = Int(line.dropFirst(6)) else {
        close(out.read)
        process.send(SIGKILL)
        _ = process.wait()
        throw CocoaError(.fileReadUnknown)
    }
    // The server goes on printing a line per message.
    ChildProcess.discardOutput(from: out.read)
    return (process, port)
}

private func runJSON(_ script: String, _ arguments: [String]) throws -> [String: Any] {
    let result = try ChildProcess.run(
        "/usr/bin/env", ["python3", root.appendingPathComponent(script).path] + arguments)
    return try JSONSerialization.jsonObject(with: Data(result.standardOutput)) as? [String: Any] ?? [:]
}

@Suite(
    "Parcel-ready email through a real SMTP server",
    .enabled(if: ProcessInfo.processInfo.environment["CUBBY_TEST_MAIL"] != nil))
struct ParcelReadyMailDeliveryTests {
    @Test(
        "a deposit's email arrives over STARTTLS; its QR image decodes to a token that opens the door",
        arguments: Backend.available)
    func depositEmailOpensDoor(_ backend: Backend) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cubby-mail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (server, port) = try startServer("tests-mail/smtp_server.py", ["--tls", "starttls", "--dir", dir.path])
        defer {
            server.send(SIGKILL)
            _ = server.wait()
        }

        try await TestWorld.with(backend) { w in
            let m = w.manifest
            try await w.test { c in
                let r = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/dropoffs", token: m.courierToken,
                    json: ParcelFlowTests.dropoffBody("MAIL1", m.recipients[0].id))
                #expect(r.status == 201)
            }
            try await w.settle()
            let line = try #require(
                try String(contentsOfFile: w.notifyFile, encoding: .utf8).split(separator: "\n").first)
            var note = try JSONDecoder().decode(ParcelReadyNotification.self, from: Data(line.utf8))
            note.language = "es"

            let config = try SMTPConfiguration(
                url: "smtp://cubby:s3cret%3Ap%40ss@localhost:\(port)?tls=starttls", from: "Cubby <lockers@example.org>",
                caFile: dir.appendingPathComponent("ca.pem").path)
            let mail = try ParcelReadyMessages.email(
                note, to: MailAddress("ana@example.org", name: "Ana Núñez"), from: config.from,
                unsubscribeURL: "https://lockers.example.org/unsubscribe/\(note.notificationId)")
            try await SMTPClient(configuration: config).send(mail)

            let parsed = try runJSON("tests-mail/check_message.py", [dir.appendingPathComponent("1.eml").path])
            #expect(parsed["subject"] as? String == "Tu paquete está listo en \(note.siteName ?? note.unitName)")
            #expect(parsed["message_id"] as? String == "<\(note.notificationId)@example.org>")
            #expect((parsed["text"] as? String)?.contains(note.pin) == true)
            let token = try #require((parsed["images"] as? [[String: Any]])?.first?["qr"] as? String)
            #expect(token == note.qr)

            try await w.test { c in
                let open = try await c.call(
                    .post, "/api/v1/units/\(w.unit)/pickups", token: w.device, json: #"{"code":"\#(token)"}"#)
                #expect(open.status == 200)
            }
        }
    }
}
