import AsyncHTTPClient
import CubbyCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// How to reach the SMS gateway: `CUBBY_SMS_URL` (http or https) and `CUBBY_SMS_TOKEN`, sent as a bearer token.
public struct SMSGatewayConfiguration: Sendable, Equatable {
    public var url: String
    public var token: String
    /// The whole request: connecting, sending, and reading the answer.
    public var timeout: Duration

    /// The time one request may take when no other is given.
    public static let standardTimeout: Duration = .seconds(15)

    public init(url: String, token: String, timeout: Duration = standardTimeout) throws(SMSGatewayError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "https" || scheme == "http", parsed.host?.isEmpty == false, parsed.user == nil,
            !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F })
        else { throw .invalidConfiguration("CUBBY_SMS_URL must be an http or https URL without credentials in it") }
        guard !token.isEmpty, token.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
            throw .invalidConfiguration("CUBBY_SMS_TOKEN must be printable ASCII without spaces")
        }
        self.url = url
        self.token = token
        self.timeout = timeout
    }

    /// The configuration the environment gives, or nil when `CUBBY_SMS_URL` is not set (SMS is off).
    public init?(environment: [String: String]) throws(SMSGatewayError) {
        guard let url = environment["CUBBY_SMS_URL"], !url.isEmpty else { return nil }
        try self.init(url: url, token: environment["CUBBY_SMS_TOKEN"] ?? "")
    }
}

/// One text message: the number, the text and the outbox's stable id, which the gateway uses to drop repeats.
public struct SMSMessage: Sendable, Equatable, Codable {
    public var to: String
    public var text: String
    public var id: String

    public init(to: String, text: String, id: String) {
        self.to = to
        self.text = text
        self.id = id
    }
}

/// Why a text was not handed to the gateway, and whether trying again later can help.
public enum SMSGatewayError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The settings are unusable.
    case invalidConfiguration(String)
    /// The number or text is not one any gateway would take; nothing was sent.
    case invalidMessage(String)
    /// The gateway answered `status` (not 2xx); `detail` is the start of its body.
    case rejected(status: Int, detail: String)
    /// The gateway could not be reached, or the connection broke.
    case connection(String)
    /// No answer within the timeout.
    case timeout

    /// True when the same message cannot succeed later without a change (a 4xx other than 408, 425 and 429;
    /// a redirect, since none is followed; a bad number or setting).
    public var isPermanent: Bool {
        switch self {
        case .invalidConfiguration, .invalidMessage: true
        case .rejected(let status, _): !(status >= 500 || status == 408 || status == 425 || status == 429)
        case .connection, .timeout: false
        }
    }

    public var description: String {
        switch self {
        case .invalidConfiguration(let why), .invalidMessage(let why): why
        case .rejected(let status, let detail): "the SMS gateway answered \(status): \(detail)"
        case .connection(let why): "the SMS gateway could not be reached: \(why)"
        case .timeout: "the SMS gateway did not answer in time"
        }
    }
}

/// Sends texts through an HTTP gateway: one `POST` per message with `{"to": "+E164", "text": "…", "id": "…"}`
/// and `Authorization: Bearer <token>`; any 2xx means accepted. Redirects are not followed.
public struct SMSGateway: Sendable {
    public let configuration: SMSGatewayConfiguration
    let client: HTTPClient
    let logger: Logger

    /// The longest text sent: ten GSM segments; the parcel messages are far shorter.
    public static let maxTextUnits = 10 * SMSText.gsm7Segment

    /// A gateway that sends through `client`, which should not follow redirects (see ``makeHTTPClient()``).
    public init(configuration: SMSGatewayConfiguration, client: HTTPClient, logger: Logger = Logger(label: "cubby.sms"))
    {
        self.configuration = configuration
        self.client = client
        self.logger = logger
    }

    /// An HTTP client for the gateway: no redirects, a connect timeout; the caller shuts it down.
    public static func makeHTTPClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            certificateVerification: .fullVerification, redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(30))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends one text.
    public func send(_ message: SMSMessage) async throws(SMSGatewayError) {
        guard SMSText.isE164(message.to) else { throw .invalidMessage("not an E.164 number") }
        guard !message.text.isEmpty, SMSText.measure(message.text).units <= Self.maxTextUnits else {
            throw .invalidMessage("the text is empty or longer than \(Self.maxTextUnits) characters")
        }
        guard !message.id.isEmpty, message.id.utf8.count <= 200 else {
            throw .invalidMessage("the message id is empty or too long")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body: Data
        do { body = try encoder.encode(message) } catch { throw .invalidMessage("cannot encode: \(error)") }

        var request = HTTPClientRequest(url: configuration.url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))

        let response: HTTPClientResponse
        let detail: String
        do {
            response = try await client.execute(request, timeout: TimeAmount(configuration.timeout))
            let bytes = try await response.body.collect(upTo: 64 * 1_024)
            detail = SMTPReplyParser.printable(bytes.readableBytesView.prefix(200))
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: throw .timeout
            default: throw .connection("\(error)")
            }
        } catch {
            throw .connection("\(error)")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            logger.warning("sms not accepted", metadata: ["id": "\(message.id)", "status": "\(status)"])
            throw .rejected(status: status, detail: detail)
        }
        logger.debug("sms accepted", metadata: ["id": "\(message.id)", "status": "\(status)"])
    }
}
