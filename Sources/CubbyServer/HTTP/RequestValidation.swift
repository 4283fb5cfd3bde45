import CubbyCore
import Foundation
import Hummingbird

/// The checks of request input shared by every room's routes: ids, sizes, tracking numbers, query integers.
/// Input that fails them answers 400 (or 404 for a path id that cannot exist) and changes nothing.
enum RequestValidation {
    static func uuid(_ text: String, _ field: String) throws -> String {
        guard let id = EntityID.parse(text) else { throw APIError.invalidRequest("\(field) must be a UUID") }
        return id
    }

    /// A path id: anything that is not a UUID cannot exist.
    static func pathID(_ ctx: CubbyRequestContext, _ name: String) throws -> String {
        guard let text = ctx.parameters.get(name), let id = EntityID.parse(text) else {
            throw DomainError.notFound("\(name) not found")
        }
        return id
    }

    static func size(_ text: String) throws -> SizeClass {
        guard let s = SizeClass(rawValue: text) else {
            throw APIError.invalidRequest("size must be one of S, M, L, XL")
        }
        return s
    }

    static func trackingNumber(_ text: String) throws -> String {
        let ok =
            (1...64).contains(text.utf8.count)
            && text.utf8.first.map { isAlnum($0) } == true
            && text.utf8.allSatisfy {
                isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
        guard ok else {
            throw APIError.invalidRequest("trackingNumber must be 1–64 characters: letters, digits, '.', '_' or '-'")
        }
        return text
    }

    /// An RFC 3339 time (`2024-05-01T09:32:14.250Z`, fractional seconds optional).
    static func timestamp(_ text: String, _ field: String) throws -> Date {
        guard text.utf8.count <= 40, let date = ParcelReadyMessages.parseTimestamp(text) else {
            throw APIError.invalidRequest("\(field) must be an RFC 3339 time such as 2024-05-01T09:32:14.250Z")
        }
        return date
    }

    static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    /// An integer query parameter within `range`, or `def` when absent.
    static func query(_ req: Request, _ name: String, _ def: Int?, _ range: ClosedRange<Int>) throws -> Int {
        guard let text = req.uri.queryParameters.get(name) else {
            guard let def else { throw APIError.invalidRequest("missing query parameter \(name)") }
            return def
        }
        guard let v = Int(text), range.contains(v) else {
            throw APIError.invalidRequest("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }
}
