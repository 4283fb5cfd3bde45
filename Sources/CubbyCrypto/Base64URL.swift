#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Base64url without padding (RFC 4648 §5), as used in tokens.
public enum Base64URL {
    public static func encode(_ data: some DataProtocol) -> String {
        String(
            Data(data).base64EncodedString().compactMap { c -> Character? in
                switch c {
                case "+": "-"
                case "/": "_"
                case "=": nil
                default: c
                }
            })
    }

    /// Decodes, or nil when `text` is not canonical base64url: unused trailing bits must be zero, so that
    /// one byte string has exactly one text form and a token cannot be altered without changing its bytes.
    public static func decode(_ text: some StringProtocol) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            return nil
        }
        var s = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        let rem = s.count % 4
        if rem == 1 { return nil }
        if rem > 0 { s += String(repeating: "=", count: 4 - rem) }
        guard let data = Data(base64Encoded: s), encode(data) == text else { return nil }
        return data
    }
}
