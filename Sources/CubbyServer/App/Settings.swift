import Configuration
import CubbyConnections
import CubbyMail
import CubbySIEM
import CubbyStore
import Foundation
import Logging
import SystemPackage

/// The server's settings, read once from command line, `CUBBY_*` environment variables, a JSON config
/// file and defaults, in that order of precedence.
public struct ServerSettings: Sendable {
    public var database: DatabaseLocation
    /// The most connections this process opens to PostgreSQL at once (`database-pool-size`); with several
    /// processes on one database, their sum stays under the server's `max_connections`. SQLite ignores it.
    public var databasePoolSize = StoreFactory.defaultPoolSize
    public var host: String
    public var port: Int
    /// Path of the key file (created on first start).
    public var keysPath: String
    /// Where the key-encryption key that seals the key file comes from (`key.passphrase-file`, `kek.file`,
    /// `kek.command`); nil: none, and the server refuses to start unless `insecurePlaintextKeys` or `demoKeys`.
    public var keyProvider: KeyProvider?
    /// Keep the key file in clear (`insecure.plaintext-keys`, `CUBBY_INSECURE_PLAINTEXT_KEYS=1`): an explicit opt-in,
    /// warned about at every start.
    public var insecurePlaintextKeys = false
    /// `cubby demo`: without a provider, the key file is sealed under a demo key kept beside it.
    public var demoKeys = false
    /// Whether a key file the demo sealed opens without a provider: yes for console commands on a demo's data,
    /// no for `cubby serve`.
    public var opensDemoKeyFile = true
    /// When set, notifications are appended to this file as JSON lines.
    public var notifyFile: String?
    /// Whether units without an edge controller are simulated in-process.
    public var simulateUnits: Bool
    /// Delay of the simulated unit between door events.
    public var simulatorDelay: Duration
    /// How often the expiry service looks for overdue parcels.
    public var expiryInterval: Duration
    /// How often the outbox is polled.
    public var outboxInterval: Duration
    /// Largest request body accepted.
    public var maxBodyBytes: Int
    /// The audit log's origin line in checkpoints (default: derived from the checkpoint key).
    public var logOrigin: String?
    /// The address people use to reach the server (enrollment links point there). An `https` address
    /// marks the portal's cookies `Secure`.
    public var publicURL: String?
    /// Port of the TLS 1.3 listener that edge controllers connect to (nil: none).
    public var edgePort: Int?
    /// The edge listener's certificate and key (PEM); made self-signed on first start when both are missing.
    public var tlsCertificate: String
    public var tlsKey: String
    /// The main listener's certificate chain and key (PEM), `http.tls-certificate` and `http.tls-key` (`--tls-cert`,
    /// `--tls-key`): with both, the API and the portal are served over HTTPS only (TLS 1.3; 1.2 too with
    /// `http.tls-allow-1.2`), with HSTS and `Secure` cookies. The files are read again on SIGHUP. Nil: plain HTTP.
    public var httpsCertificate: String?
    public var httpsKey: String?
    public var httpsAllowTLS12 = false
    /// A plain-HTTP port that answers every request with a redirect to the HTTPS listener (`http.redirect-port`).
    public var httpRedirectPort: Int?
    /// Whether the main listener speaks HTTPS.
    public var https: Bool { httpsCertificate != nil }
    /// Timeouts against slow clients and the cap on connections per client address, on every listener.
    public var connectionLimits: ConnectionLimits
    /// Whether webhooks may go to private, loopback and link-local addresses, and over plain http to a loopback host
    /// (`webhook.allow-private`, `CUBBY_WEBHOOK_ALLOW_PRIVATE`): for tests and closed networks only.
    public var webhookAllowPrivate = false
    /// The delay after an outbox delivery's first failed attempt, doubled after each further one
    /// (`outbox.retry-base-ms`).
    public var outboxRetryBase: Duration = .seconds(5)
    /// How long a claimed outbox delivery is held before another process may take it up (`outbox.lease-seconds`);
    /// longer than any attempt takes (a webhook's is at most 15 seconds).
    public var outboxLease: Duration = .seconds(120)
    /// Email to recipients (`CUBBY_SMTP_URL`, `CUBBY_SMTP_FROM`, `CUBBY_SMTP_CA_FILE`); nil: no email.
    public var smtp: SMTPConfiguration?
    /// SMS to recipients through an HTTP gateway (`CUBBY_SMS_URL`, `CUBBY_SMS_TOKEN`); nil: no SMS.
    public var sms: SMSGatewayConfiguration?
    /// Security events to a SIEM over syslog (`CUBBY_SYSLOG_URL`, `CUBBY_SYSLOG_CA_FILE`); nil: none.
    public var syslog: SyslogConfiguration?
    /// How long a unit's edge controller may go without a link before a `unit_offline` alert
    /// (`units.offline-after-seconds`).
    public var unitOfflineAfter: Duration = .seconds(300)
    /// How often the SIEM forwarder looks for new security events in the logs (`siem.interval-ms`).
    public var siemInterval: Duration = .seconds(1)
    /// How often each process looks for alerts whose next page is due (a new alert wakes it at once).
    public var alertPageInterval: Duration = .seconds(5)

    /// The HOSTNAME of the syslog messages: the public address's host, else this machine's name.
    public var syslogHostname: String {
        publicURL.flatMap { URLComponents(string: $0)?.host } ?? ProcessInfo.processInfo.hostName
    }

    /// Where links point: `publicURL`, or the listening address.
    public var linkBase: String { publicURL ?? "\(https ? "https" : "http")://\(host):\(port)" }

    /// Whether cookies must only travel over TLS.
    public var secureCookies: Bool { linkBase.lowercased().hasPrefix("https://") }

    public init(
        database: DatabaseLocation, host: String = "127.0.0.1", port: Int = 8080,
        keysPath: String = "./cubby-data/keys.json", notifyFile: String? = nil, simulateUnits: Bool = true,
        simulatorDelay: Duration = .milliseconds(300), expiryInterval: Duration = .seconds(5),
        outboxInterval: Duration = .milliseconds(500), maxBodyBytes: Int = 16 * 1024, logOrigin: String? = nil,
        publicURL: String? = nil, edgePort: Int? = nil, tlsCertificate: String? = nil, tlsKey: String? = nil,
        connectionLimits: ConnectionLimits = .standard
    ) {
        self.connectionLimits = connectionLimits
        self.publicURL = publicURL
        self.edgePort = edgePort
        let dataDir = (keysPath as NSString).deletingLastPathComponent
        self.tlsCertificate = tlsCertificate ?? (dataDir.isEmpty ? "." : dataDir) + "/tls/server-cert.pem"
        self.tlsKey = tlsKey ?? (dataDir.isEmpty ? "." : dataDir) + "/tls/server-key.pem"
        self.database = database
        self.host = host
        self.port = port
        self.keysPath = keysPath
        self.notifyFile = notifyFile
        self.simulateUnits = simulateUnits
        self.simulatorDelay = simulatorDelay
        self.expiryInterval = expiryInterval
        self.outboxInterval = outboxInterval
        self.maxBodyBytes = maxBodyBytes
        self.logOrigin = logOrigin
    }

    /// The default embedded database.
    public static let defaultDatabase = "sqlite:./cubby-data/cubby.sqlite"

    /// Reads settings. `overrides` are command-line values keyed like the config file (`database`, `port`, …).
    ///
    /// Keys: `database`, `database-pool-size`, `host`, `port`, `keys`, `notify.file`, `simulator.enabled`, `simulator.delay-ms`,
    /// `expiry.interval-seconds`, `outbox.interval-ms`, `http.max-body-bytes`, `log.origin`, `public.url`, `edge.port`,
    /// `tls.certificate`, `tls.key`, `http.head-timeout-seconds`, `http.body-timeout-seconds`,
    /// `http.idle-timeout-seconds`, `tls.handshake-timeout-seconds`, `http.max-connections-per-address`,
    /// `webhook.allow-private`, `outbox.retry-base-ms`, `outbox.lease-seconds`, `key.passphrase-file`, `kek.file`,
    /// `kek.command`, `kek.command-timeout-seconds`, `insecure.plaintext-keys`. Environment variables are
    /// the same keys under `CUBBY_` (e.g. `CUBBY_NOTIFY_FILE`); a config file is JSON with the same keys.
    public static func load(
        overrides: [String: String], configFile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ServerSettings {
        var providers: [any ConfigProvider] = []
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (k, v) in overrides {
            values[AbsoluteConfigKey(["cubby"] + k.split(separator: ".").map(String.init))] = ConfigValue(
                .string(v), isSecret: k == "database")
        }
        providers.append(InMemoryProvider(name: "command line", values: values))
        providers.append(
            EnvironmentVariablesProvider(
                environmentVariables: environment, secretsSpecifier: .specific(["CUBBY_DATABASE"])))
        if let configFile {
            guard FileManager.default.fileExists(atPath: configFile) else {
                throw SettingsError.invalid("config file \(configFile) does not exist")
            }
            let file = try await FileProvider<JSONSnapshot>(filePath: FilePath(configFile))
            // The file's keys carry no `cubby.` prefix: strip it from each lookup.
            providers.append(
                file.mapKeys { key in
                    AbsoluteConfigKey(Array(key.components.dropFirst()), context: key.context)
                })
        }
        let config = ConfigReader(providers: providers).scoped(to: "cubby")

        func int(_ key: String, _ def: Int, _ range: ClosedRange<Int>) throws -> Int {
            guard let text = config.string(forKey: ConfigKey(key)) else { return def }
            guard let v = Int(text), range.contains(v) else {
                throw SettingsError.invalid(
                    "\(key) must be an integer in \(range.lowerBound)...\(range.upperBound), got \(text)")
            }
            return v
        }
        func bool(_ key: String, _ def: Bool) throws -> Bool {
            guard let text = config.string(forKey: ConfigKey(key)) else { return def }
            switch text.lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw SettingsError.invalid("\(key) must be true or false, got \(text)")
            }
        }
        let databaseText = config.string(forKey: "database", isSecret: true, default: defaultDatabase)
        var settings = ServerSettings(
            database: try DatabaseLocation(parsing: databaseText),
            host: config.string(forKey: "host", default: "127.0.0.1"),
            port: try int("port", 8080, 0...65535),
            keysPath: config.string(forKey: "keys", default: "./cubby-data/keys.json"),
            notifyFile: config.string(forKey: "notify.file"),
            simulateUnits: try bool("simulator.enabled", true),
            simulatorDelay: .milliseconds(try int("simulator.delay-ms", 300, 0...60_000)),
            expiryInterval: .seconds(try int("expiry.interval-seconds", 5, 1...3600)),
            outboxInterval: .milliseconds(try int("outbox.interval-ms", 500, 10...60_000)),
            maxBodyBytes: try int("http.max-body-bytes", 16 * 1024, 1024...(1 << 20)),
            logOrigin: try origin(config.string(forKey: "log.origin")),
            publicURL: try publicURL(config.string(forKey: "public.url")),
            edgePort: config.string(forKey: "edge.port") == nil ? nil : try int("edge.port", 0, 0...65535),
            tlsCertificate: config.string(forKey: "tls.certificate"),
            tlsKey: config.string(forKey: "tls.key"),
            connectionLimits: ConnectionLimits(
                headTimeout: .seconds(try int("http.head-timeout-seconds", 10, 1...3600)),
                bodyTimeout: .seconds(try int("http.body-timeout-seconds", 30, 1...3600)),
                idleTimeout: .seconds(try int("http.idle-timeout-seconds", 60, 1...3600)),
                handshakeTimeout: .seconds(try int("tls.handshake-timeout-seconds", 10, 1...3600)),
                maxConnectionsPerAddress: try int("http.max-connections-per-address", 32, 1...100_000))
        )
        settings.databasePoolSize = try int("database-pool-size", StoreFactory.defaultPoolSize, 1...1000)
        settings.webhookAllowPrivate = try bool("webhook.allow-private", false)
        settings.outboxRetryBase = .milliseconds(try int("outbox.retry-base-ms", 5000, 100...3_600_000))
        settings.outboxLease = .seconds(try int("outbox.lease-seconds", 120, 2...3600))
        do { settings.smtp = try SMTPConfiguration(environment: environment) } catch {
            throw SettingsError.invalid(error.description)
        }
        do { settings.sms = try SMSGatewayConfiguration(environment: environment) } catch {
            throw SettingsError.invalid(error.description)
        }
        do { settings.syslog = try SyslogConfiguration.fromEnvironment(environment) } catch {
            throw SettingsError.invalid(error.description)
        }
        settings.siemInterval = .milliseconds(try int("siem.interval-ms", 1000, 50...60_000))
        settings.alertPageInterval = .milliseconds(try int("alerts.page-interval-ms", 5000, 50...60_000))
        settings.unitOfflineAfter = .seconds(try int("units.offline-after-seconds", 300, 5...86_400))
        try readKeyProvider(config, into: &settings, timeout: try int("kek.command-timeout-seconds", 10, 1...300))
        settings.insecurePlaintextKeys = try bool("insecure.plaintext-keys", false)
        settings.httpsCertificate = config.string(forKey: "http.tls-certificate")
        settings.httpsKey = config.string(forKey: "http.tls-key")
        guard (settings.httpsCertificate == nil) == (settings.httpsKey == nil) else {
            throw SettingsError.invalid("http.tls-certificate and http.tls-key go together: give both or neither")
        }
        settings.httpsAllowTLS12 = try bool("http.tls-allow-1.2", false)
        if config.string(forKey: "http.redirect-port") != nil {
            guard settings.https else {
                throw SettingsError.invalid("http.redirect-port redirects to HTTPS: it needs http.tls-certificate")
            }
            settings.httpRedirectPort = try int("http.redirect-port", 0, 0...65535)
        }
        return settings
    }

    /// At most one of `key.passphrase-file`, `kek.file` and `kek.command`.
    static func readKeyProvider(_ config: ConfigReader, into settings: inout ServerSettings, timeout: Int) throws {
        func value(_ key: String) -> String? {
            config.string(forKey: ConfigKey(key)).flatMap { $0.isEmpty ? nil : $0 }
        }
        let passphrase = value("key.passphrase-file")
        let file = value("kek.file")
        let command = value("kek.command")
        guard [passphrase, file, command].compactMap({ $0 }).count <= 1 else {
            throw SettingsError.invalid(
                "give one key-encryption key provider: key.passphrase-file (CUBBY_KEY_PASSPHRASE_FILE), "
                    + "kek.file (CUBBY_KEK_FILE) or kek.command (CUBBY_KEK_COMMAND), not several")
        }
        if let passphrase { settings.keyProvider = .passphraseFile(passphrase) }
        if let file { settings.keyProvider = .kekFile(file) }
        if let command { settings.keyProvider = try KeyProvider.command(command, timeout: .seconds(timeout)) }
    }

    /// An http(s) address without a trailing slash, query or fragment.
    static func publicURL(_ text: String?) throws -> String? {
        guard let text else { return nil }
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            url.host?.isEmpty == false, url.query == nil, url.fragment == nil, trimmed.utf8.count <= 256
        else { throw SettingsError.invalid("public.url must be an http:// or https:// address, got \(text)") }
        return trimmed
    }

    /// A checkpoint origin is one line of printable text without spaces or a `+` (it names the key too); this
    /// one is the base of every log's origin, which adds `/` and an organization's id (37 characters).
    static func origin(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard !text.isEmpty, text.utf8.count <= 90, !text.hasSuffix("/"),
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "+" })
        else {
            throw SettingsError.invalid(
                "log.origin must be 1–90 printable ASCII characters without spaces or '+', not ending in '/', got \(text)"
            )
        }
        return text
    }
}

/// A setting that cannot be used.
public enum SettingsError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let m): m
        }
    }
}

extension ServerSettings {
    /// Opens this deployment's database, with its pool size.
    public func openStore(logger: Logger) async throws -> any SQLStore {
        try await StoreFactory.open(database, poolSize: databasePoolSize, logger: logger)
    }
}
