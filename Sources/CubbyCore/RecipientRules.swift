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
    /// A preference that would leave the parcel-ready message, which carries the code, without a channel.
    case preferenceRefused(String)
}

/// How a recipient's fields are checked and normalised, in one place for the API, the import and the CLI.
public enum RecipientRules {
    public static let maxNameLength = 200
    public static let maxApartmentLength = 32
    public static let maxExternalIdLength = 128

    /// A display name as sent: 1–200 code points (as the API document's `maxLength` counts them), no control
    /// characters or line separators, not only spaces; runs of spaces are then collapsed.
    public static func name(_ text: String) throws(RecipientError) -> String {
        guard line(text, max: maxNameLength) else {
            throw .invalid(field: "name", "name must be 1–\(maxNameLength) characters on one line, not only spaces")
        }
        return collapse(text)
    }

    /// An email address as sent (no spaces around it), then lowercased: the form its blind index is computed over.
    /// The rule is the API document's pattern: a local part and at least two dot-separated domain labels, none
    /// holding spaces, controls, `@ < > " , ;`.
    public static func email(_ text: String) throws(RecipientError) -> String {
        let scalars = Array(text.unicodeScalars)
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        let labels = parts.count == 2 ? parts[1].split(separator: ".", omittingEmptySubsequences: false) : []
        guard scalars.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(emailScalar),
            labels.count >= 2, labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy(emailScalar) })
        else { throw .invalid(field: "email", "email must be an address like name@example.org") }
        return text.lowercased()
    }

    /// A phone number in E.164 form (`+` and 8–15 digits, no leading zero). Spaces, dots, dashes and parentheses
    /// between the digits are dropped first, so `+1 (555) 010-0199` is `+15550100199`.
    public static func phone(_ text: String) throws(RecipientError) -> String {
        let kept = String(text.unicodeScalars.filter { !" .-()".unicodeScalars.contains($0) })
        let digits = kept.unicodeScalars.dropFirst()
        guard kept.unicodeScalars.first == "+", (8...15).contains(digits.count), digits.first != "0",
            digits.allSatisfy({ $0.value >= 0x30 && $0.value <= 0x39 })
        else { throw .invalid(field: "phone", "phone must be in E.164 form, like +15550100199") }
        return kept
    }

    /// An apartment or office as sent: 1–32 code points on one line, not only spaces; runs of spaces collapsed.
    public static func apartment(_ text: String) throws(RecipientError) -> String {
        guard line(text, max: maxApartmentLength) else {
            throw .invalid(
                field: "apartment", "apartment must be 1–\(maxApartmentLength) characters on one line, not only spaces")
        }
        return collapse(text)
    }

    /// The form an apartment is searched by: `Apt 4b` and `apt  4B` are the same apartment.
    public static func apartmentKey(_ apartment: String) -> String { collapse(apartment).lowercased() }

    /// An external id from a property-management system as sent: 1–128 code points on one line, not only spaces;
    /// spaces around it are dropped, case is kept.
    public static func externalId(_ text: String) throws(RecipientError) -> String {
        guard line(text, max: maxExternalIdLength) else {
            throw .invalid(
                field: "externalId",
                "externalId must be 1–\(maxExternalIdLength) characters on one line, not only spaces")
        }
        return text.trimmingWhitespace()
    }

    /// At most `max` code points, none a control character or line separator, and one that is not a space: the
    /// API document's one-line pattern.
    static func line(_ text: String, max: Int) -> Bool {
        text.unicodeScalars.count <= max && !text.unicodeScalars.contains(where: isControl)
            && text.unicodeScalars.contains { $0 != " " }
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
    }

    static func emailScalar(_ s: Unicode.Scalar) -> Bool {
        s.value > 0x20 && s.value != 0x7F && !"@<>\",;".unicodeScalars.contains(s)
    }

    static func collapse(_ text: String) -> String {
        text.split(separator: " ").joined(separator: " ")
    }
}
