import CubbyCore
import Foundation

/// A locker unit as it is built: columns left to right, each with its compartments from top to bottom.
///
/// The API's `POST /api/v1/sites/{siteId}/units` body and the file of `cubby unit create --layout` are this one
/// shape, read by this one decoder; an unknown field at any level is refused.
public struct UnitLayout: Decodable, Sendable, Equatable {
    /// The unit's name (the CLI's `--name` replaces it).
    public var name: String?
    public var columns: [Column]

    public struct Column: Decodable, Sendable, Equatable {
        /// Top to bottom.
        public var compartments: [Slot]

        static let fields: Set<String> = ["compartments"]

        public init(compartments: [Slot]) { self.compartments = compartments }

        public init(from decoder: any Decoder) throws {
            try UnitLayout.refuseUnknown(decoder, Self.fields)
            let c = try decoder.container(keyedBy: Key.self)
            compartments = try c.decode([Slot].self, forKey: Key("compartments"))
        }
    }

    /// One compartment of a column.
    public struct Slot: Decodable, Sendable, Equatable {
        /// `S`, `M`, `L` or `XL`.
        public var size: String
        public var widthMm: Int
        public var heightMm: Int
        public var depthMm: Int
        public var accessible: Bool
        /// The label on the door; generated (column letter and row from the top: A1, A2, B1 …) when absent.
        public var label: String?

        static let fields: Set<String> = ["size", "widthMm", "heightMm", "depthMm", "accessible", "label"]

        public init(size: String, widthMm: Int, heightMm: Int, depthMm: Int, accessible: Bool, label: String? = nil) {
            self.size = size
            self.widthMm = widthMm
            self.heightMm = heightMm
            self.depthMm = depthMm
            self.accessible = accessible
            self.label = label
        }

        public init(from decoder: any Decoder) throws {
            try UnitLayout.refuseUnknown(decoder, Self.fields)
            let c = try decoder.container(keyedBy: Key.self)
            size = try c.decode(String.self, forKey: Key("size"))
            widthMm = try c.decode(Int.self, forKey: Key("widthMm"))
            heightMm = try c.decode(Int.self, forKey: Key("heightMm"))
            depthMm = try c.decode(Int.self, forKey: Key("depthMm"))
            accessible = try c.decode(Bool.self, forKey: Key("accessible"))
            label = try c.decodeIfPresentRefusingNull(String.self, forKey: Key("label"))
        }
    }

    /// The body's top-level fields.
    public static let fields: Set<String> = ["name", "columns"]

    public init(name: String?, columns: [Column]) {
        self.name = name
        self.columns = columns
    }

    public init(from decoder: any Decoder) throws {
        try Self.refuseUnknown(decoder, Self.fields)
        let c = try decoder.container(keyedBy: Key.self)
        name = try c.decodeIfPresentRefusingNull(String.self, forKey: Key("name"))
        columns = try c.decode([Column].self, forKey: Key("columns"))
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func refuseUnknown(_ decoder: any Decoder, _ allowed: Set<String>) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let unknown = Set(c.allKeys.map(\.stringValue)).subtracting(allowed)
        guard unknown.isEmpty else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: c.codingPath,
                    debugDescription: "unknown field(s): \(unknown.sorted().joined(separator: ", "))"))
        }
    }

    /// Reads a layout file (the CLI's `--layout`): JSON errors become `invalidRequest` with the field's path.
    public static func decode(_ data: Data) throws -> UnitLayout {
        do {
            return try JSONDecoder().decode(UnitLayout.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            let path = (ctx.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            throw DomainError.invalidRequest("missing field: \(path)")
        } catch let DecodingError.typeMismatch(expected, ctx) {
            throw DomainError.invalidRequest("field \(JSONBody.path(ctx)) must be \(JSONBody.describe(expected))")
        } catch let DecodingError.valueNotFound(expected, ctx) {
            throw DomainError.invalidRequest(
                "field \(JSONBody.path(ctx)) must be \(JSONBody.describe(expected)), not null")
        } catch let DecodingError.dataCorrupted(ctx) {
            let path = JSONBody.path(ctx)
            throw DomainError.invalidRequest(
                path.isEmpty
                    ? "the layout is not a valid JSON object: \(ctx.debugDescription)"
                    : "field \(path) is invalid: \(ctx.debugDescription)")
        }
    }
}

extension KeyedDecodingContainer {
    /// An optional field: absent is nil, but an explicit `null` is refused (the API document has no nullable input).
    func decodeIfPresentRefusingNull<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(
                T.self, .init(codingPath: codingPath + [key], debugDescription: "\(key.stringValue) is null"))
        }
        return try decode(T.self, forKey: key)
    }
}
