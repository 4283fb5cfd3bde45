/// The alphabet an SMS is sent in (3GPP TS 23.038): GSM 7-bit when every character is in the default
/// alphabet or its extension table, UCS-2 (UTF-16 code units) otherwise.
public enum SMSEncoding: String, Sendable, Equatable {
    case gsm7
    case ucs2
}

/// How long a text is as an SMS: its alphabet, its length in that alphabet's units, and its segments.
public struct SMSLength: Sendable, Equatable {
    public var encoding: SMSEncoding
    /// Septets for GSM 7-bit (an extension character counts 2), UTF-16 code units for UCS-2.
    public var units: Int
    /// Messages the text is split into: one up to 160 septets or 70 code units; 153 or 67 a segment beyond,
    /// since each concatenated segment gives room to its 6-byte user data header.
    public var segments: Int

    public init(encoding: SMSEncoding, units: Int, segments: Int) {
        self.encoding = encoding
        self.units = units
        self.segments = segments
    }
}

/// The rules of SMS text: numbers, alphabets, lengths, and fitting a message in one segment.
public enum SMSText {
    /// Septets of a single GSM 7-bit message.
    public static let gsm7Single = 160
    /// Septets of each segment of a concatenated GSM 7-bit message.
    public static let gsm7Segment = 153
    /// Code units of a single UCS-2 message.
    public static let ucs2Single = 70
    /// Code units of each segment of a concatenated UCS-2 message.
    public static let ucs2Segment = 67

    /// The GSM 03.38 default alphabet (3GPP TS 23.038 §6.2.1), in code order; 0x1B (the escape to the
    /// extension table) is left out since it is no character of its own.
    static let basic: Set<Unicode.Scalar> = Set(
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").unicodeScalars)

    /// The extension table (3GPP TS 23.038 §6.2.1.1): each is sent as the escape and one more septet.
    static let extended: Set<Unicode.Scalar> = Set("\u{0C}^{}\\[~]|€".unicodeScalars)

    /// Whether `text` is a number in E.164 form as stored: `+`, then 8–15 digits, the first not 0.
    public static func isE164(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard scalars.first == "+", (9...16).contains(scalars.count), scalars[1] != "0" else { return false }
        return scalars.dropFirst().allSatisfy { $0.value >= 0x30 && $0.value <= 0x39 }
    }

    /// GSM 7-bit when every character of `text` is in the default alphabet or the extension table.
    public static func encoding(of text: String) -> SMSEncoding {
        text.unicodeScalars.allSatisfy { basic.contains($0) || extended.contains($0) } ? .gsm7 : .ucs2
    }

    /// The alphabet, length and segment count of `text`.
    ///
    /// Segments are counted as a sender splits them: an escape pair (GSM) or a surrogate pair (UCS-2) is never
    /// cut between two segments, so a long text can need one segment more than its length divided by 153 or 67.
    public static func measure(_ text: String) -> SMSLength {
        let encoding = encoding(of: text)
        // Each character's width in units: what must stay together in one segment.
        let widths: [Int]
        switch encoding {
        case .gsm7: widths = text.unicodeScalars.map { extended.contains($0) ? 2 : 1 }
        case .ucs2: widths = text.unicodeScalars.map { $0.utf16.count }
        }
        let units = widths.reduce(0, +)
        let single = encoding == .gsm7 ? gsm7Single : ucs2Single
        let perSegment = encoding == .gsm7 ? gsm7Segment : ucs2Segment
        guard units > single else { return SMSLength(encoding: encoding, units: units, segments: 1) }
        var segments = 1
        var used = 0
        for width in widths {
            if used + width > perSegment {
                segments += 1
                used = 0
            }
            used += width
        }
        return SMSLength(encoding: encoding, units: units, segments: segments)
    }

    /// Letters outside the GSM alphabet written as the nearest letter in it, so that a text in Spanish,
    /// Portuguese or French can stay in GSM 7-bit (160 a message, not 70). Other characters stay as they are.
    public static func foldedToGSM(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if basic.contains(scalar) || extended.contains(scalar) {
                out.append(scalar)
            } else if let folded = folds[scalar] {
                out.append(folded)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Accented Latin letters that the GSM alphabet lacks, and the letter each is sent as.
    static let folds: [Unicode.Scalar: Unicode.Scalar] = {
        let pairs: [(String, Unicode.Scalar)] = [
            ("áâãā", "a"), ("ÁÀÂÃĀ", "A"), ("êëē", "e"), ("ÈÊËĒ", "E"), ("íîïī", "i"), ("ÍÌÎÏĪ", "I"),
            ("óôõō", "o"), ("ÓÒÔÕŌ", "O"), ("úûū", "u"), ("ÚÙÛŪ", "U"), ("ç", "c"), ("ýÿ", "y"), ("Ý", "Y"),
            ("‘’‚′", "'"), ("“”„″", "\""), ("–—", "-"), ("\u{A0}", " "),
        ]
        var table: [Unicode.Scalar: Unicode.Scalar] = [:]
        for (from, to) in pairs {
            for scalar in from.unicodeScalars { table[scalar] = to }
        }
        return table
    }()

    /// The first of `candidates` (fullest first) that fits one segment as it is or with its letters folded to GSM;
    /// failing that, the one needing the fewest segments.
    ///
    /// The candidates are complete messages that each still say what matters, so nothing is cut mid-word; an
    /// accent lost to folding costs less than a fact left out.
    public static func fitting(_ candidates: [String]) -> String {
        guard !candidates.isEmpty else { return "" }
        var best = candidates[0]
        var bestSegments = Int.max
        for candidate in candidates {
            for text in [candidate, foldedToGSM(candidate)] {
                let segments = measure(text).segments
                if segments == 1 { return text }
                if segments < bestSegments {
                    best = text
                    bestSegments = segments
                }
            }
        }
        return best
    }
}
