import CubbyCore
import CubbyCrypto
import Foundation

/// Key commands for tests, written as shell scripts into a test's directory: one that really wraps (openssl enc,
/// AES-256-CBC under a secret in a file beside it) and ones that fail in each way a command can.
enum KeyCommandScript {
    /// A command that wraps and unwraps with openssl, and notes each verb it is called with in `calls`.
    static func openssl(in dir: String) throws -> String {
        try PrivateFile.write(Data(SecretGenerator.bytes(32)).base64EncodedData(), to: dir + "/wrapping-secret")
        return try write(
            in: dir, name: "kek-openssl.sh",
            """
            #!/bin/sh
            set -e
            here="$(dirname "$0")"
            echo "$1" >>"$here/calls"
            case "$1" in
            wrap) base64 -d | openssl enc -aes-256-cbc -pbkdf2 -salt -pass "file:$here/wrapping-secret" | base64 -w0 ;;
            unwrap) base64 -d | openssl enc -d -aes-256-cbc -pbkdf2 -pass "file:$here/wrapping-secret" | base64 -w0 ;;
            *) echo "unknown verb $1" >&2; exit 2 ;;
            esac
            """)
    }

    /// A command that exits with status 3 and says why on standard error.
    static func failing(in dir: String) throws -> String {
        try write(in: dir, name: "kek-failing.sh", "#!/bin/sh\necho 'kms unreachable' >&2\nexit 3\n")
    }

    /// A command that answers with something that is not base64.
    static func garbage(in dir: String) throws -> String {
        try write(in: dir, name: "kek-garbage.sh", "#!/bin/sh\ncat >/dev/null\necho 'this is not base64!'\n")
    }

    /// A command that answers base64 of 3 bytes: not a key.
    static func short(in dir: String) throws -> String {
        try write(in: dir, name: "kek-short.sh", "#!/bin/sh\ncat >/dev/null\necho 'AAAA'\n")
    }

    /// A command that notes its process id in `hung.pid` and never answers.
    static func hanging(in dir: String) throws -> String {
        try write(
            in: dir, name: "kek-hanging.sh", "#!/bin/sh\necho $$ >\"$(dirname \"$0\")/hung.pid\"\nexec sleep 60\n")
    }

    static func write(in dir: String, name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try PrivateFile.write(Data(text.utf8), to: path, mode: 0o700)
        return path
    }
}

/// Every file under a directory and the SHA-256 of its bytes: what must not change when a start is refused.
enum DirectoryDigest {
    static func of(_ dir: String) -> [String: String] {
        var out: [String: String] = [:]
        let files = FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []
        for file in files {
            var isDirectory: ObjCBool = false
            let path = dir + "/" + file
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            out[file] = Hex.sha256(data)
        }
        return out
    }
}
