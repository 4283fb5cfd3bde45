import Foundation

/// What a new password must be (NIST SP 800-63B §5.1.1.2): long enough, not too long to hash, and not
/// on the list of common and breached passwords. No composition rules.
public struct PasswordPolicy: Sendable {
    public enum Problem: Error, Equatable, Sendable {
        case tooShort(minimum: Int)
        case tooLong(maximum: Int)
        case common
        case containsEmail

        public var message: String {
            switch self {
            case .tooShort(let n): "The password must be at least \(n) characters long."
            case .tooLong(let n): "The password must be at most \(n) characters long."
            case .common: "This password is on a list of common or breached passwords. Choose another."
            case .containsEmail: "The password must not contain your email address."
            }
        }
    }

    public static let minimumLength = 12
    public static let maximumLength = 256

    /// Runs of digits, letters and keyboard rows, forwards and backwards: any stretch of one is refused.
    static let sequences: [String] = {
        let runs = [
            String(repeating: "0123456789", count: 4), "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm",
            "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
        ]
        return runs + runs.map { String($0.reversed()) }
    }()

    /// Lowercased common passwords.
    let common: Set<String>

    init(common: Set<String>) { self.common = common }

    /// The policy with the shipped list (`common-passwords.txt`: one password per line, `#` comments).
    public static let standard: PasswordPolicy = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { fatalError("common-passwords.txt is missing from CubbyServer's resources") }
        return PasswordPolicy(common: parse(text))
    }()

    static func parse(_ text: String) -> Set<String> {
        Set(text.split(whereSeparator: \.isNewline).lazy.filter { !$0.hasPrefix("#") }.map { $0.lowercased() })
    }

    /// Number of entries on the list.
    public var listCount: Int { common.count }

    /// The first problem with `password`, or nil when it is acceptable.
    public func problem(with password: String, email: String? = nil) -> Problem? {
        let length = password.count
        if length < Self.minimumLength { return .tooShort(minimum: Self.minimumLength) }
        if length > Self.maximumLength { return .tooLong(maximum: Self.maximumLength) }
        let lower = password.lowercased()
        if isCommon(lower) { return .common }
        if let email {
            let local = email.lowercased().split(separator: "@").first.map(String.init) ?? ""
            if local.count >= 4 && lower.contains(local) { return .containsEmail }
        }
        return nil
    }

    /// On the list as it is, with digits and symbols trimmed from its ends, or as a repetition of a
    /// shorter word ("qwertyqwerty", "password2024!").
    func isCommon(_ lower: String) -> Bool {
        if common.contains(lower) { return true }
        let trimmed = lower.trimmingCharacters(in: CharacterSet.letters.inverted)
        if trimmed.count >= 3 && common.contains(trimmed) { return true }
        if Set(lower).count <= 2 { return true }
        if Self.sequences.contains(where: { $0.contains(lower) }) { return true }
        let chars = Array(lower)
        guard chars.count >= 2 else { return false }
        for unit in 1...(chars.count / 2) where chars.count % unit == 0 {
            let piece = chars[0..<unit]
            if stride(from: 0, to: chars.count, by: unit).allSatisfy({ chars[$0..<($0 + unit)] == piece }) {
                return true
            }
        }
        return false
    }
}
