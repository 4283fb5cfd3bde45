import ArgumentParser
import CubbyServer
import Foundation
import Logging

/// Options shared by the commands that open the database.
struct ServerOptions: ParsableArguments {
    @Option(help: "Database: sqlite:PATH or postgres://user@host:port/db (env CUBBY_DATABASE).")
    var database: String?
    @Option(help: "Address to listen on (env CUBBY_HOST, default 127.0.0.1).")
    var host: String?
    @Option(help: "Port to listen on (env CUBBY_PORT, default 8080).")
    var port: Int?
    @Option(help: "Key file, created on first start (env CUBBY_KEYS, default ./cubby-data/keys.json).")
    var keys: String?
    @Option(help: "Append notifications as JSON lines to this file (env CUBBY_NOTIFY_FILE).")
    var notifyFile: String?
    @Option(
        help: "The address people reach the server at, for links; https:// makes cookies Secure (env CUBBY_PUBLIC_URL)."
    )
    var publicUrl: String?
    @Option(help: "Port of the TLS 1.3 listener for units' edge controllers (env CUBBY_EDGE_PORT; none by default).")
    var edgePort: Int?
    @Option(help: "PEM certificate chain: serve the API and the portal over HTTPS (env CUBBY_HTTP_TLS_CERTIFICATE).")
    var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert (env CUBBY_HTTP_TLS_KEY).")
    var tlsKey: String?
    @Option(
        help:
            "Key-encryption key from a passphrase in this file, stretched with scrypt (env CUBBY_KEY_PASSPHRASE_FILE).")
    var keyPassphraseFile: String?
    @Option(help: "Key-encryption key: 32 random bytes, raw or base64, in this mode-0600 file (env CUBBY_KEK_FILE).")
    var kekFile: String?
    @Option(
        help: "Key-encryption key from a command called with wrap or unwrap, base64 in and out (env CUBBY_KEK_COMMAND)."
    )
    var kekCommand: String?
    @Flag(
        help:
            "Keep every server secret in clear in the key file (env CUBBY_INSECURE_PLAINTEXT_KEYS=1); warned at start.")
    var insecurePlaintextKeys = false
    @Option(help: "A JSON config file with the same keys (database, port, notify.file, …).")
    var config: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func settings() async throws -> ServerSettings {
        var overrides: [String: String] = [:]
        if let database { overrides["database"] = database }
        if let host { overrides["host"] = host }
        if let port { overrides["port"] = String(port) }
        if let keys { overrides["keys"] = keys }
        if let notifyFile { overrides["notify.file"] = notifyFile }
        if let publicUrl { overrides["public.url"] = publicUrl }
        if let edgePort { overrides["edge.port"] = String(edgePort) }
        if let tlsCert { overrides["http.tls-certificate"] = tlsCert }
        if let tlsKey { overrides["http.tls-key"] = tlsKey }
        if let keyPassphraseFile { overrides["key.passphrase-file"] = keyPassphraseFile }
        if let kekFile { overrides["kek.file"] = kekFile }
        if let kekCommand { overrides["kek.command"] = kekCommand }
        if insecurePlaintextKeys { overrides["insecure.plaintext-keys"] = "true" }
        return try await ServerSettings.load(overrides: overrides, configFile: config)
    }

    func logger(_ label: String = "cubby") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        return logger
    }
}
