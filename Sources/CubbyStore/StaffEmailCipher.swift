import Foundation
import Synchronization

/// How the store keeps staff members' emails: sealed under each member's own data key, found through a keyed hash.
/// The server hands it to the store once its keys are open; the store never writes a staff email in clear, and a
/// store without it refuses to write or read one.
public struct StaffEmailCipher: Sendable {
    /// The blind index of an address (lowercased first): what `staff_accounts.email` holds, unique like the address.
    public var index: @Sendable (_ email: String) -> String
    /// A new data key for the account, wrapped for storage (under the key ring's primary, read in the session).
    public var newDataKey: @Sendable (_ session: StoreSession, _ accountId: String) async throws -> Data
    /// The address sealed under the account's data key.
    public var seal: @Sendable (_ email: String, _ accountId: String, _ dataKey: Data) throws -> Data
    /// What `seal` sealed (the session loads a wrapping key the process has not seen yet).
    public var open:
        @Sendable (_ session: StoreSession, _ sealed: Data, _ accountId: String, _ dataKey: Data) async throws
            -> String

    public init(
        index: @escaping @Sendable (String) -> String,
        newDataKey: @escaping @Sendable (StoreSession, String) async throws -> Data,
        seal: @escaping @Sendable (String, String, Data) throws -> Data,
        open: @escaping @Sendable (StoreSession, Data, String, Data) async throws -> String
    ) {
        self.index = index
        self.newDataKey = newDataKey
        self.seal = seal
        self.open = open
    }
}

/// The field ciphers a store was given (set once, when the server's keys are open).
public final class FieldCiphers: Sendable {
    private let staff = Mutex<StaffEmailCipher?>(nil)

    public init() {}

    /// Gives the store the cipher of staff emails.
    public func use(staffEmails cipher: StaffEmailCipher) { staff.withLock { $0 = cipher } }

    /// The cipher of staff emails; an error when the store was opened without the server's keys.
    func staffEmails() throws -> StaffEmailCipher {
        guard let cipher = staff.withLock({ $0 }) else {
            throw StoreError.corrupt("staff emails are sealed: this needs the server's keys (open the key file first)")
        }
        return cipher
    }
}
