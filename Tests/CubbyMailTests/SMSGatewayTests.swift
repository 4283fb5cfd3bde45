import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import CubbyMail

/// Starts `scripts/sms-gateway.py` (standard library only) with a token and a record file.
private struct RecordingGateway {
    let server: ServerProcess
    let directory: URL
    let token = "test-token-\(UUID().uuidString)"

    init(fail: [String] = []) throws {
        directory = try temporaryDirectory("sms")
        server = try ServerProcess(
            script: "scripts/sms-gateway.py",
            arguments: ["--token", token, "--record", directory.appendingPathComponent("sent.jsonl").path]
                + fail.flatMap { ["--fail", $0] }, directory: directory)
    }

    var url: String { "http://127.0.0.1:\(server.port)/messages" }

    /// The accepted requests, one JSON object a line.
    func recorded() throws -> [[String: String]] {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("sent.jsonl"), encoding: .utf8)
        else { return [] }
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] ?? [:]
        }
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Runs `body` with a gateway HTTP client, and shuts the client down however `body` ends.
private func withClient(_ body: (HTTPClient) async throws -> Void) async throws {
    let client = SMSGateway.makeHTTPClient()
    do {
        try await body(client)
    } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
}

@Suite("SMS gateway adapter against the recording gateway", .enabled(if: python3 != nil), .serialized)
struct SMSGatewayTests {
    @Test("a message is posted as JSON with the bearer token and recorded")
    func accepted() async throws {
        let gateway = try RecordingGateway()
        defer { gateway.stop() }
        try await withClient { client in
            let sms = SMSGateway(
                configuration: try SMSGatewayConfiguration(url: gateway.url, token: gateway.token), client: client)
            try await sms.send(SMSMessage(to: "+34600111222", text: "Paquete listo: PIN 123456 ñ €", id: "n-1"))
            #expect(
                try gateway.recorded() == [
                    ["to": "+34600111222", "text": "Paquete listo: PIN 123456 ñ €", "id": "n-1"]
                ])
        }
    }

    @Test("503 is transient and the retry succeeds; 400 and a wrong token are permanent; nothing failed is recorded")
    func failures() async throws {
        let gateway = try RecordingGateway(fail: ["503:2", "400:1"])
        defer { gateway.stop() }
        try await withClient { client in
            let sms = SMSGateway(
                configuration: try SMSGatewayConfiguration(url: gateway.url, token: gateway.token), client: client)
            let message = SMSMessage(to: "+15550100199", text: "PIN 123456", id: "n-2")
            for _ in 0..<2 {
                do throws(SMSGatewayError) {
                    try await sms.send(message)
                    Issue.record("accepted")
                } catch {
                    #expect(error.isPermanent == false)
                    guard case .rejected(503, _) = error else { throw error as any Error }
                }
            }
            do throws(SMSGatewayError) {
                try await sms.send(message)
                Issue.record("accepted")
            } catch {
                #expect(error.isPermanent)
                guard case .rejected(400, _) = error else { throw error as any Error }
            }
            try await sms.send(message)
            #expect(try gateway.recorded().count == 1)

            let wrongToken = SMSGateway(
                configuration: try SMSGatewayConfiguration(url: gateway.url, token: "wrong"), client: client)
            do throws(SMSGatewayError) {
                try await wrongToken.send(message)
                Issue.record("accepted with a wrong token")
            } catch {
                #expect(error == .rejected(status: 401, detail: "{\"error\": \"unauthorized\"}"))
                #expect(error.isPermanent)
            }
            #expect(try gateway.recorded().count == 1)
        }
    }

    @Test(
        "a number not in E.164 form or an empty text is refused before anything is sent",
        arguments: ["0600111222", "+0600111222", "+34 600 111 222", "", "+1234567"])
    func invalidNumbers(number: String) async throws {
        try await withClient { client in
            // Port 9 on loopback: nothing listens, and nothing may be tried.
            let sms = SMSGateway(
                configuration: try SMSGatewayConfiguration(url: "http://127.0.0.1:9/", token: "t"), client: client)
            await #expect(throws: SMSGatewayError.invalidMessage("not an E.164 number")) {
                try await sms.send(SMSMessage(to: number, text: "PIN", id: "x"))
            }
            await #expect(throws: SMSGatewayError.self) {
                try await sms.send(SMSMessage(to: "+15550100199", text: "", id: "x"))
            }
        }
    }

    @Test("a slow gateway times out and a closed port fails to connect, both transient")
    func transientNetwork() async throws {
        let gateway = try RecordingGateway()
        defer { gateway.stop() }
        // A gateway that takes the connection and never answers.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let silentPort = try #require(silent.localAddress?.port)
        defer { silent.close(promise: nil) }
        try await withClient { client in
            let slow = SMSGateway(
                configuration: try SMSGatewayConfiguration(
                    url: "http://127.0.0.1:\(silentPort)/messages", token: gateway.token, timeout: .milliseconds(300)),
                client: client)
            await #expect(throws: SMSGatewayError.timeout) {
                try await slow.send(SMSMessage(to: "+15550100199", text: "PIN", id: "slow"))
            }

            // The gateway's own port once it has stopped: nothing listens there any more.
            gateway.stop()
            let closed = SMSGateway(
                configuration: try SMSGatewayConfiguration(url: gateway.url, token: gateway.token), client: client)
            do throws(SMSGatewayError) {
                try await closed.send(SMSMessage(to: "+15550100199", text: "PIN", id: "closed"))
                Issue.record("sent to a closed port")
            } catch {
                #expect(!error.isPermanent)
            }
        }
    }

    @Test(
        "settings: http or https URL, printable token",
        arguments: ["", "ftp://x/", "http://", "http://u:p@x.example.org/", "not a url"])
    func badSettings(url: String) {
        #expect(throws: SMSGatewayError.self) { try SMSGatewayConfiguration(url: url, token: "t") }
        #expect(throws: SMSGatewayError.self) {
            try SMSGatewayConfiguration(url: "https://sms.example.org/", token: "a b")
        }
        #expect(throws: SMSGatewayError.self) {
            try SMSGatewayConfiguration(url: "https://sms.example.org/", token: "")
        }
        #expect((try? SMSGatewayConfiguration(environment: [:])) == .some(nil))
    }

    @Test("which statuses are permanent")
    func permanence() {
        for status in [400, 401, 403, 404, 413, 422, 301] {
            #expect(SMSGatewayError.rejected(status: status, detail: "").isPermanent, "\(status)")
        }
        for status in [408, 425, 429, 500, 502, 503, 504] {
            #expect(!SMSGatewayError.rejected(status: status, detail: "").isPermanent, "\(status)")
        }
    }
}
