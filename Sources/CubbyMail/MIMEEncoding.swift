import Foundation

/// The encodings a message is written in: RFC 2047 encoded-words for header text, RFC 2045 quoted-printable and
/// base64 for bodies, and header folding to keep lines within RFC 5322's limits.
public enum MIMEEncoding {
    /// The line length RFC 5322 §2.1.1 asks to keep to (not counting CRLF).
    public static let preferredLineLength = 78
    /// The line length RFC 5322 §2.1.1 requires.
    public static let maxLineLength = 998
    /// The longest encoded-word (RFC 2047 §2).
    static let maxEncodedWord = 75
    /// Quoted-printable and base64 lines (RFC 2045 §6.7, §6.8).
    static let bodyLineLength = 76

    /// `text` as quoted-printable (RFC 2045 §6.7) over its UTF-8 bytes: line breaks become CRLF, each line at most
    /// 76 characters with soft breaks (`=`), spaces before a break and every non-printable byte as `=XX`.
    public static func quotedPrintable(_ text: String) -> String {
        var out = ""
        let lines = normalizedLines(text)
        for (number, line) in lines.enumerated() {
            var current = ""
            let bytes = Array(line.utf8)
            for (i, byte) in bytes.enumerated() {
                let isLast = i == bytes.count - 1
                let piece: String
                switch byte {
                case 0x20, 0x09:
                    piece = isLast ? hexEscape(byte) : String(UnicodeScalar(byte))
                case 0x3D:
                    piece = hexEscape(byte)
                case 0x21...0x7E:
                    piece = String(UnicodeScalar(byte))
                default:
                    piece = hexEscape(byte)
                }
                // Room for a soft break "=" unless this is the line's last piece.
                let limit = isLast ? bodyLineLength : bodyLineLength - 1
                if current.utf8.count + piece.utf8.count > limit {
                    out += current + "=\r\n"
                    current = ""
                }
                current += piece
            }
            out += current
            if number < lines.count - 1 { out += "\r\n" }
        }
        return out
    }

    /// `bytes` as base64 in lines of 76 characters, each ended by CRLF.
    public static func base64Lines(_ bytes: [UInt8]) -> String {
        let encoded = Data(bytes).base64EncodedString()
        var out = ""
        out.reserveCapacity(encoded.utf8.count + encoded.utf8.count / bodyLineLength * 2 + 2)
        var start = encoded.startIndex
        while start < encoded.endIndex {
            let end = encoded.index(start, offsetBy: bodyLineLength, limitedBy: encoded.endIndex) ?? encoded.endIndex
            out += String(encoded[start..<end]) + "\r\n"
            start = end
        }
        return out
    }

    /// Whether `text` can stand in a header as it is: printable ASCII and spaces, and nothing that would read as
    /// the start of an encoded-word.
    static func isPlainHeaderText(_ text: String) -> Bool {
        text.utf8.allSatisfy { (0x20...0x7E).contains($0) } && !text.contains("=?")
    }

    /// A whole header field, `Name: value`, folded at spaces so that lines stay within 78 characters where the
    /// words allow; non-ASCII text becomes UTF-8 base64 encoded-words (RFC 2047 §4.1), each a whole number of
    /// characters, one or more a line.
    static func unstructuredField(_ name: String, _ text: String) -> String {
        let words: [String]
        if isPlainHeaderText(text) {
            words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        } else {
            words = encodedWords(text, firstBudget: preferredLineLength - name.utf8.count - 2)
        }
        return fold(name: name, words: words)
    }

    /// Joins `words` after `Name: ` with spaces, starting a new line (CRLF and a space) where the next word would
    /// pass 78 characters.
    static func fold(name: String, words: [String]) -> String {
        var out = name + ":"
        var lineLength = out.utf8.count
        for word in words {
            let needed = 1 + word.utf8.count
            // A break may come before the first word too: `To:` CRLF SP word is folding white space as well.
            if lineLength > 0, lineLength + needed > preferredLineLength, !word.isEmpty {
                out += "\r\n"
                lineLength = 0
            }
            out += " " + word
            lineLength += needed
        }
        return out
    }

    /// Encoded-words `=?UTF-8?B?…?=` for `text`: each at most 75 characters and `firstBudget` for the first, split
    /// between characters so every word decodes on its own.
    static func encodedWords(_ text: String, firstBudget: Int) -> [String] {
        let overhead = "=?UTF-8?B?".utf8.count + "?=".utf8.count
        var words: [String] = []
        var chunk: [UInt8] = []
        var budget = max(16, min(maxEncodedWord, firstBudget))
        func encodedLength(_ count: Int) -> Int { overhead + (count + 2) / 3 * 4 }
        for character in text {
            let bytes = Array(String(character).utf8)
            if !chunk.isEmpty, encodedLength(chunk.count + bytes.count) > budget {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
                budget = maxEncodedWord
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty {
            words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
        }
        return words
    }

    /// A display name as a phrase (RFC 5322 §3.2.5): an atom or quoted-string when ASCII, encoded-words otherwise.
    static func phraseWords(_ name: String) -> [String] {
        if isPlainHeaderText(name) {
            let atomSafe = name.utf8.allSatisfy { MailAddress.isAtomByte($0) || $0 == 0x20 }
            if atomSafe { return name.split(separator: " ").map(String.init) }
            let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return ["\"" + escaped + "\""]
        }
        return encodedWords(name, firstBudget: maxEncodedWord)
    }

    /// Text split into lines at CRLF, CR or LF.
    static func normalizedLines(_ text: String) -> [Substring] {
        text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
    }

    static func hexEscape(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "=" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }
}

/// Checks on header values.
enum MailHeader {
    /// C0 controls (CR and LF among them), DEL, C1 controls and the Unicode line separators: none may stand in a
    /// header value, or it could end the header and start another.
    static func hasControl(_ text: String) -> Bool {
        text.unicodeScalars.contains { s in
            s.value < 0x20 || (0x7F...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
        }
    }
}
