import Crypto
import CubbyCore
import CubbyCrypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The key that seals the journal's secrets (the unit's PIN key and pickup codes in its saved state, and the
/// stills), kept in a file of its own so that a copy of the journal alone reveals neither: 32 random bytes in
/// base64, mode 0600. By default it lies in the state directory beside the journal; a deployment puts it where the
/// journal's backups do not go (`--journal-key`, a credentials store such as `systemd-creds`, a TPM-backed mount).
public enum JournalKey {
    /// The default place of the key: `journal.key` in the state directory.
    public static func defaultPath(in stateDirectory: String) -> String { stateDirectory + "/journal.key" }

    /// The key at `path`; made (mode 0600) when `create` is true and there is no file yet.
    public static func load(path: String, create: Bool) throws -> KeyedSealer {
        if let data = FileManager.default.contents(atPath: path) {
            let text = String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace }
            guard let key = Data(base64Encoded: text), key.count == 32 else {
                throw EdgeLinkError.configuration("the journal key \(path) is not 32 bytes in base64")
            }
            return KeyedSealer(key: SymmetricKey(data: key))
        }
        guard create else {
            throw EdgeLinkError.configuration(
                "the journal key \(path) is missing: the journal's sealed state and stills cannot be opened without it"
            )
        }
        let key = Data(SecretGenerator.bytes(32))
        do { try PrivateFile.write(Data(key.base64EncodedString().utf8), to: path) } catch {
            throw EdgeLinkError.configuration(error.message)
        }
        return KeyedSealer(key: SymmetricKey(data: key))
    }
}
