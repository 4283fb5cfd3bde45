import Foundation

/// Where the data lives: an SQLite file or a PostgreSQL server.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(host: String, port: Int, username: String, password: String?, database: String)

    /// Parses `sqlite:PATH`, `sqlite://PATH` or `postgres://user[:password]@host[:port]/database` (also `postgresql://`).
    public init(parsing text: String) throws(StoreError) {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else {
                throw .badLocation("sqlite: needs a file path, e.g. sqlite:./cubby-data/cubby.sqlite")
            }
            self = .sqlite(path: path)
            return
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"),
            let url = URLComponents(string: text), let host = url.host, !host.isEmpty
        else {
            throw .badLocation(
                "database must be sqlite:PATH or postgres://user@host:port/database, got \(Self.redacted(text))")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty else { throw .badLocation("postgres URL needs a database name") }
        self = .postgres(
            host: host, port: url.port ?? 5432, username: url.user ?? "postgres",
            password: url.password?.removingPercentEncoding, database: database
        )
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let host, let port, let user, _, let db): "postgres://\(user)@\(host):\(port)/\(db)"
        }
    }

    static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "****"
        return url.string ?? "(unparseable)"
    }
}

/// Errors of the store.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case badLocation(String)
    case migrationFailed(String)
    case corrupt(String)
    case closed

    public var description: String {
        switch self {
        case .badLocation(let m), .migrationFailed(let m), .corrupt(let m): m
        case .closed: "the database is closed"
        }
    }
}
