#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The languages a recipient can be written to in: the kiosk's languages.
public enum PreferredLanguage: String, CaseIterable, Sendable, Codable {
    case en, es

    /// The language a value names (`en`, `es`, or the language's name in English or in itself), case ignored.
    public init?(naming text: String) {
        switch text.trimmingWhitespace().lowercased() {
        case "en", "english", "en-us", "en-gb": self = .en
        case "es", "spanish", "español", "espanol", "es-es", "es-mx", "es-us": self = .es
        default: return nil
        }
    }
}

/// Why a recipient change is refused.
public enum RecipientError: Error, Equatable, Sendable {
    /// The recipient is deactivated: nothing new is delivered to them.
    case deactivated(String)
    /// Another recipient of the organization already has this email or external id (`field` names which).
    case exists(field: String)
    /// A field's value is not acceptable; `field` names it.
    case invalid(field: String, String)
    /// A bulk import's body is over a limit (bytes or rows).
    case importTooLarge(String)
    /// A bulk import's body is not CSV.
    case notCSV
    /// A bulk import's body is not well-formed CSV.
    case invalidCSV(String)
}

/// How a recipient's fields are checked and normalised, in one place for the API, the import and the CLI.
public enum RecipientRules {
    public static let maxNameLength = 200
    public static let maxApartmentLength = 32
    public static let maxExternalIdLength = 128

    /// A display name: trimmed, 1–200 characters, no control characters.
    public static func name(_ text: String) throws(RecipientError) -> String {
        let t = collapse(text)
        guard (1...maxNameLength).contains(t.count), !hasControl(t) else {
            throw .invalid(field: "name", "name must be 1–\(maxNameLength) characters without control characters")
        }
        return t
    }

    /// An email address, trimmed and lowercased (the form its blind index is computed over).
    public static func email(_ text: String) throws(RecipientError) -> String {
        let e = text.trimmingWhitespace().lowercased()
        let parts = e.split(separator: "@", omittingEmptySubsequences: false)
        let forbidden: Set<Unicode.Scalar> = ["<", ">", "\"", ",", ";", "\u{7f}"]
        let scalarsOK = e.unicodeScalars.allSatisfy { $0.value > 0x20 && !forbidden.contains($0) }
        let domain = parts.count == 2 ? parts[1] : ""
        let domainOK =
            domain.contains(".") && !domain.hasPrefix(".") && !domain.hasSuffix(".") && !domain.contains("..")
        guard (3...254).contains(e.utf8.count), parts.count == 2, !parts[0].isEmpty, domainOK, scalarsOK else {
            throw .invalid(field: "email", "email must be an address like name@example.org")
        }
        return e
    }

    /// A phone number in E.164 form (`+` and 8–15 digits, no leading zero). Spaces, dots, dashes and parentheses
    /// between the digits are dropped first, so `+1 (555) 010-0199` is `+15550100199`.
    public static func phone(_ text: String) throws(RecipientError) -> String {
        let kept = text.trimmingWhitespace().filter { !" .-()".contains($0) }
        let digits = kept.dropFirst()
        guard kept.first == "+", (8...15).contains(digits.count), digits.first != "0",
            digits.unicodeScalars.allSatisfy({ $0.value >= 0x30 && $0.value <= 0x39 })
        else { throw .invalid(field: "phone", "phone must be in E.164 form, like +15550100199") }
        return kept
    }

    /// An apartment or office: trimmed, inner whitespace collapsed, 1–32 characters.
    public static func apartment(_ text: String) throws(RecipientError) -> String {
        let t = collapse(text)
        guard (1...maxApartmentLength).contains(t.count), !hasControl(t) else {
            throw .invalid(
                field: "apartment", "apartment must be 1–\(maxApartmentLength) characters without control characters")
        }
        return t
    }

    /// The form an apartment is searched by: `Apt 4b` and `apt  4B` are the same apartment.
    public static func apartmentKey(_ apartment: String) -> String { collapse(apartment).lowercased() }

    /// An external id from a property-management system: trimmed, 1–128 printable characters, case kept.
    public static func externalId(_ text: String) throws(RecipientError) -> String {
        let t = text.trimmingWhitespace()
        guard (1...maxExternalIdLength).contains(t.count), !hasControl(t) else {
            throw .invalid(
                field: "externalId", "externalId must be 1–\(maxExternalIdLength) characters without control characters"
            )
        }
        return t
    }

    static func collapse(_ text: String) -> String {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    static func hasControl(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || ($0.value >= 0x7f && $0.value < 0xa0) }
    }
}
