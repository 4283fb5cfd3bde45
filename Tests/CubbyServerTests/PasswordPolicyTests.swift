import CubbyDemo
import CubbyServer
import Testing

@Suite("Staff password policy")
struct PasswordPolicyTests {
    @Test func policyRefusesShortCommonAndRepeatedPasswords() {
        let policy = PasswordPolicy.standard
        #expect(policy.listCount >= 29_000)
        #expect(policy.problem(with: "short pass") == .tooShort(minimum: 12))
        #expect(policy.problem(with: String(repeating: "x", count: 257)) == .tooLong(maximum: 256))
        #expect(policy.problem(with: "1234567890123") == .common)
        #expect(policy.problem(with: "password2024!") == .common)
        #expect(policy.problem(with: "Baseball1234567") == .common)
        #expect(policy.problem(with: "qwertyqwertyqwerty") == .common)
        #expect(policy.problem(with: "aaaaaaaaaaaaaaa") == .common)
        #expect(policy.problem(with: "marta.kowalska-2031", email: "marta.kowalska@example.org") == .containsEmail)
        #expect(policy.problem(with: "violet tram under lantern", email: "marta@example.org") == nil)
    }
}
