/// The text a relay, gateway or webhook endpoint gave when a delivery failed, as the outbox keeps it.
///
/// A relay often quotes what it refused ("550 <someone@example.org>: unknown user"), and a gateway the number it
/// could not reach. The outbox keeps the rest of the answer, which is what staff need to tell a bad address from an
/// outage, and never the address or number: those stay sealed in the recipient's contact data.
public enum DeliveryErrorText {
    /// The longest error kept, in characters.
    public static let limit = 500

    /// `text` with every word holding an `@` replaced by `[address]` and every run of seven or more digits (a phone
    /// number, with or without `+`) by `[number]`, cut to `limit` characters. Masking a masked text changes nothing.
    public static func masked(_ text: String) -> String {
        var out = ""
        for (i, word) in text.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            if i > 0 { out.append(" ") }
            if word.contains("@") {
                out.append("[address]")
                continue
            }
            var digits = ""
            for ch in word {
                if ch.isASCII && ch.isNumber {
                    digits.append(ch)
                    continue
                }
                out.append(digits.count >= 7 ? "[number]" : digits)
                digits = ""
                out.append(ch)
            }
            out.append(digits.count >= 7 ? "[number]" : digits)
        }
        return String(out.prefix(limit))
    }
}
