import Foundation

/// Standard base64 (RFC 4648 §4) that accepts only the canonical form: padded, no whitespace, no
/// stray bits. Signed notes and checkpoints are compared as text, so one value must have one spelling.
enum StrictBase64 {
    /// The bytes of `text`, or nil unless `text` is exactly what `encode` would produce for them.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 == 0 else { return nil }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="):
                continue
            default:
                return nil
            }
        }
        guard let data = Data(base64Encoded: Data(utf8)) else { return nil }
        let bytes = [UInt8](data)
        // Re-encoding rejects non-zero padding bits and misplaced "=".
        guard encode(bytes).utf8.elementsEqual(utf8) else { return nil }
        return bytes
    }

    /// The padded standard base64 of `bytes`.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }
}
