import Foundation

/// Why a message, an address or a mail setting is refused before anything is sent.
public enum MailError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An address is not a plain ASCII `local@domain` address.
    case invalidAddress(String)
    /// A header value holds a line break or another control character: it could add headers of its own.
    case headerInjection(field: String)
    /// A field's value is not acceptable; the text says why.
    case invalid(field: String, String)

    public var description: String {
        switch self {
        case .invalidAddress(let text): "not an email address like name@example.org: \(text.debugDescription)"
        case .headerInjection(let field): "\(field) holds a line break or control character"
        case .invalid(let field, let why): "\(field): \(why)"
        }
    }
}

/// An email address with an optional display name, as the From and To headers and the SMTP envelope carry it.
///
/// The address itself is ASCII (no SMTPUTF8), so every relay takes it; a display name may be any text on one line
/// and is sent as RFC 2047 encoded-words when it is not plain ASCII.
public struct MailAddress: Sendable, Hashable, CustomStringConvertible {
    /// `local@domain`, as given.
    public let address: String
    /// The name shown beside the address, if any.
    public let displayName: String?

    /// The longest address SMTP carries in a path (RFC 5321 §4.5.3.1.3, less the angle brackets).
    public static let maxLength = 254

    /// An address `local@domain` with an optional display name.
    public init(_ address: String, name: String? = nil) throws(MailError) {
        guard Self.isAddress(address) else { throw .invalidAddress(address) }
        if let name {
            guard !MailHeader.hasControl(name) else { throw .headerInjection(field: "display name") }
            guard name.unicodeScalars.count <= 200 else {
                throw .invalid(field: "display name", "at most 200 characters")
            }
        }
        self.address = address
        let trimmed = name?.trimmingCharacters(in: .whitespaces)
        self.displayName = trimmed?.isEmpty == false ? trimmed : nil
    }

    /// An address as written in a setting: `name@example.org` or `Name <name@example.org>`.
    public init(parsing text: String) throws(MailError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !MailHeader.hasControl(trimmed) else { throw .headerInjection(field: "address") }
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
            var name = String(trimmed[..<open]).trimmingCharacters(in: .whitespaces)
            if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") {
                name = String(name.dropFirst().dropLast())
            }
            try self.init(address, name: name.isEmpty ? nil : name)
        } else {
            try self.init(trimmed)
        }
    }

    /// The part after the `@`.
    public var domain: String { String(address[address.index(after: address.lastIndex(of: "@")!)...]) }

    public var description: String { displayName.map { "\($0) <\(address)>" } ?? address }

    /// A dot-atom local part and a domain of at least two labels, in printable ASCII without the characters that
    /// delimit addresses: what a relay's `MAIL FROM:<…>` and `RCPT TO:<…>` take without quoting.
    static func isAddress(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= maxLength, let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return false }
        let local = bytes[..<at]
        let domain = bytes[(at + 1)...]
        guard !local.isEmpty, local.count <= 64, local.allSatisfy(isAtomByte) || local.allSatisfy(isDotAtom),
            local.first != UInt8(ascii: "."), local.last != UInt8(ascii: "."),
            !zip(local, local.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") })
        else { return false }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return labels.count >= 2
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && label.first != UInt8(ascii: "-")
                    && label.last != UInt8(ascii: "-")
                    && label.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            }
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
    }

    /// atext of RFC 5322 §3.2.3.
    static func isAtomByte(_ b: UInt8) -> Bool {
        isAlphanumeric(b) || "!#$%&'*+-/=?^_`{|}~".utf8.contains(b)
    }

    static func isDotAtom(_ b: UInt8) -> Bool { isAtomByte(b) || b == UInt8(ascii: ".") }
}
