#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The one textual form of every id: a UUID in lower case, as stored, signed, logged and sent.
public enum EntityID {
    /// A new random id.
    public static func make() -> String { render(UUID()) }

    /// The id's text.
    public static func render(_ id: UUID) -> String { id.uuidString.lowercased() }

    /// The canonical text of an id given in any case, or nil when `text` is not a UUID.
    public static func parse(_ text: String) -> String? { UUID(uuidString: text).map(render) }

    /// The UUID behind an id's text, or nil.
    public static func uuid(_ text: String?) -> UUID? { text.flatMap { UUID(uuidString: $0) } }
}

extension UUID {
    /// The id's canonical text (lower case).
    public var idString: String { EntityID.render(self) }
}
