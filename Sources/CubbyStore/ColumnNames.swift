import SQLKit
import Synchronization

/// Swift property names ↔ snake_case column names, converted once per name and then remembered.
///
/// SQLKit's own snake-case strategies convert every key of every row; on the pickup path that was a
/// tenth of the server's CPU time.
enum ColumnNames {
    private static let cache = Mutex<[String: String]>([:])

    /// `pinLockedUntil` → `pin_locked_until`.
    static func snake(_ name: String) -> String {
        if let hit = cache.withLock({ $0[name] }) { return hit }
        var out = ""
        for ch in name {
            if ch.isUppercase {
                if !out.isEmpty { out.append("_") }
                out.append(contentsOf: ch.lowercased())
            } else {
                out.append(ch)
            }
        }
        cache.withLock { $0[name] = out }
        return out
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static let decoding = SQLRowDecoder.KeyDecodingStrategy.custom { path in
        Key(snake(path.last?.stringValue ?? ""))
    }

    static let encoding = SQLQueryEncoder.KeyEncodingStrategy.custom { path in
        Key(snake(path.last?.stringValue ?? ""))
    }
}
