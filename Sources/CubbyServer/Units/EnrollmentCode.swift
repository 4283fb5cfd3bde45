import CubbyCrypto

/// The one-time codes with which edge controllers enroll: 16 characters of an unambiguous alphabet,
/// grouped by dashes for reading aloud (80 bits).
public enum EnrollmentCode {
    static let alphabet = Array("ABCDEFGHJKMNPQRSTVWXYZ0123456789")

    /// A new code, e.g. `K7QM-2XTA-9PRD-H4WE`.
    public static func make() -> String {
        let chars = SecretGenerator.bytes(16).map { alphabet[Int($0) % alphabet.count] }
        return stride(from: 0, to: 16, by: 4).map { String(chars[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// Upper case without dashes or spaces; I, L and O read as 1, 1 and 0.
    public static func normalize(_ code: String) -> String {
        String(
            code.uppercased().compactMap { c -> Character? in
                switch c {
                case "-", " ": nil
                case "I", "L": "1"
                case "O": "0"
                default: c
                }
            }.prefix(64))
    }

    public static func isWellFormed(_ normalized: String) -> Bool {
        normalized.count == 16 && normalized.allSatisfy { alphabet.contains($0) }
    }
}
