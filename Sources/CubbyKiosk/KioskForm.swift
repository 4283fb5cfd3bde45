import CubbyCore
import HTTPTypes
import NIOCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A form the kiosk page posted (`application/x-www-form-urlencoded`), and the checks on its fields.
struct KioskForm: Sendable {
    /// Larger than any form of the kiosk can be when filled within its limits, percent-encoded.
    static let maxBytes = 8 * 1024

    static let maxCode = 512
    static let maxCredential = 256
    static let maxTracking = 64
    static let maxRecipient = 64
    static let sizes = ["S", "M", "L", "XL"]

    /// Why a form could not be taken at all.
    enum Unreadable: Error {
        case notAForm
        case tooLarge
    }

    /// Why one field was refused; the page shows the matching sentence.
    enum Refusal: Error, Equatable {
        case missing
        case tooLong
        case controlCharacters
    }

    private(set) var fields: [String: String] = [:]

    /// The first value of a field, or "" when it is absent.
    subscript(_ name: String) -> String { fields[name] ?? "" }

    static func read(_ request: LocalRequest) throws(Unreadable) -> KioskForm {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else { throw .notAForm }
        if request.bodyTooLarge || request.body.readableBytes > maxBytes { throw .tooLarge }
        return try parse(String(decoding: request.body.readableBytesView, as: UTF8.self))
    }

    static func parse(_ text: String) throws(Unreadable) -> KioskForm {
        guard let pairs = FormEncoding.pairs(text[...]) else { throw .notAForm }
        var form = KioskForm()
        for (name, value) in pairs where form.fields[name] == nil { form.fields[name] = value }
        return form
    }

    /// A required text field, trimmed of surrounding white space (scanners and readers end with a newline).
    static func text(_ raw: String, limit: Int) -> Result<String, Refusal> {
        let value = raw.trimmingWhitespace()
        if value.isEmpty { return .failure(.missing) }
        if value.unicodeScalars.count > limit { return .failure(.tooLong) }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return .failure(.controlCharacters)
        }
        return .success(value)
    }

    /// One of the parcel sizes, exactly as the radio buttons send it.
    static func size(_ raw: String) -> String? {
        sizes.contains(raw) ? raw : nil
    }
}
