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

/// An id that knows what it names, so that a unit's id cannot be passed where a site's is expected.
///
/// It is a UUID underneath and reads and writes as the one textual form of `EntityID`.
public struct TypedID<Entity>: Hashable, Sendable, Codable, CustomStringConvertible {
    public let uuid: UUID

    public init(_ uuid: UUID) { self.uuid = uuid }

    /// The id in `text` (any case), or nil when it is not a UUID.
    public init?(uuidString text: String) {
        guard let uuid = UUID(uuidString: text) else { return nil }
        self.uuid = uuid
    }

    /// A new random id.
    public static func make() -> TypedID { TypedID(UUID()) }

    /// The id's canonical text (lower case).
    public var idString: String { uuid.idString }

    public var description: String { idString }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let uuid = UUID(uuidString: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an id: \(text)"))
        }
        self.uuid = uuid
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(idString)
    }
}

/// What a typed id names.
public enum Entities {
    public enum Organization {}
    public enum Site {}
    public enum Unit {}
    public enum Carrier {}
    public enum Credential {}
    public enum Person {}
}

public typealias OrganizationID = TypedID<Entities.Organization>
public typealias SiteID = TypedID<Entities.Site>
public typealias UnitID = TypedID<Entities.Unit>
public typealias CarrierID = TypedID<Entities.Carrier>
public typealias CredentialID = TypedID<Entities.Credential>
/// A courier, a staff member or a resident: whoever a credential or session belongs to.
public typealias PersonID = TypedID<Entities.Person>
