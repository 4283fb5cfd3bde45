import Testing

@testable import CubbyCore

@Suite("SMS text")
struct SMSTextTests {
    @Test(
        "E.164 numbers",
        arguments: [
            ("+15550100199", true), ("+34600111222", true), ("+12345678", true), ("+123456789012345", true),
            ("+1234567", false), ("+1234567890123456", false), ("+05550100199", false), ("15550100199", false),
            ("+1 555 010 0199", false), ("+1-555-0100199", false), ("", false), ("+", false), ("++15550100199", false),
            ("+1555010019a", false), ("+١٢٣٤٥٦٧٨٩", false), ("+15550100199\n", false),
        ])
    func e164(text: String, valid: Bool) {
        #expect(SMSText.isE164(text) == valid)
    }

    @Test("the GSM default alphabet has 127 characters besides the escape, the extension table 10")
    func alphabetSizes() {
        #expect(SMSText.basic.count == 127)
        #expect(SMSText.extended.count == 10)
        #expect(SMSText.basic.isDisjoint(with: SMSText.extended))
    }

    @Test(
        "alphabet and length in units",
        arguments: [
            ("Hello", SMSEncoding.gsm7, 5), ("", .gsm7, 0), ("Paquete: Ñandú", .ucs2, 14), ("Año ñu ü", .gsm7, 8),
            ("€10", .gsm7, 4), ("[a]{b}|~^\\", .gsm7, 18), ("\u{0C}", .gsm7, 2),
            ("Çà@£$¥èéùìòØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ", .gsm7, 30),
            ("¡¿§¤", .gsm7, 4), ("á", .ucs2, 1), ("ç", .ucs2, 1), ("📦", .ucs2, 2), ("PIN 1234 📦", .ucs2, 11),
            ("`", .ucs2, 1), ("Здравствуйте", .ucs2, 12), ("line\nbreak\r", .gsm7, 11),
        ])
    func measure(text: String, encoding: SMSEncoding, units: Int) {
        let length = SMSText.measure(text)
        #expect(length.encoding == encoding)
        #expect(length.units == units)
        #expect(SMSText.encoding(of: text) == encoding)
    }

    @Test(
        "segments: 160/153 septets, 70/67 code units, pairs never split",
        arguments: [
            (String(repeating: "a", count: 160), 1), (String(repeating: "a", count: 161), 2),
            (String(repeating: "a", count: 306), 2), (String(repeating: "a", count: 307), 3),
            (String(repeating: "a", count: 159) + "€", 2), (String(repeating: "a", count: 158) + "€", 1),
            // 152 + an escape pair + 152 = 306 septets, yet the pair cannot end the first segment: 3 segments.
            (String(repeating: "a", count: 152) + "€" + String(repeating: "a", count: 152), 3),
            (String(repeating: "á", count: 70), 1), (String(repeating: "á", count: 71), 2),
            (String(repeating: "á", count: 134), 2), (String(repeating: "á", count: 135), 3),
            (String(repeating: "📦", count: 35), 1), (String(repeating: "📦", count: 36), 2),
            // 66 + a surrogate pair + 66 = 134 code units, and the pair cannot be cut: 3 segments.
            (String(repeating: "á", count: 66) + "📦" + String(repeating: "á", count: 66), 3),
            ("", 1),
        ])
    func segments(text: String, expected: Int) {
        #expect(SMSText.measure(text).segments == expected)
    }

    @Test(
        "accented letters fold to the GSM alphabet",
        arguments: [
            ("Recógelo antes del miércoles", "Recogelo antes del miércoles"), ("Dónde: AÍSLA", "Donde: AISLA"),
            ("Ñandú", "Ñandu"),
            ("Ça va — à bientôt", "Ça va - à bientot"), ("ça", "ca"), ("“Lobby” ’A’", "\"Lobby\" 'A'"),
            ("📦 ok", "📦 ok"),
        ])
    func folding(text: String, folded: String) {
        #expect(SMSText.foldedToGSM(text) == folded)
    }

    @Test("fitting takes the fullest candidate that fits one segment")
    func fitting() {
        let long = String(repeating: "x", count: 170)
        #expect(SMSText.fitting(["short enough", "shorter"]) == "short enough")
        #expect(SMSText.fitting([long, "PIN 1234"]) == "PIN 1234")
        // Accents make it UCS-2 and too long; folding brings it back to one GSM segment.
        let spanish = "Recógelo " + String(repeating: "y", count: 80)
        #expect(SMSText.fitting([spanish]) == "Recogelo " + String(repeating: "y", count: 80))
        // Nothing fits: the fewest segments wins.
        let two = String(repeating: "z", count: 200)
        let three = String(repeating: "z", count: 400)
        #expect(SMSText.fitting([three, two]) == two)
        #expect(SMSText.fitting([]) == "")
    }
}
