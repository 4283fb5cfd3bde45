#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files that hold secrets (keys, device credentials) or private records (the database, a unit's journal), made so
/// that no other user can ever read them.
public enum PrivateFile {
    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    /// The mode of private files: read and write for the owner, nothing for anyone else.
    public static let mode: mode_t = 0o600

    /// Creates `path` empty with mode 0600 if it does not exist (so that it never exists with a wider mode, whatever
    /// the umask), and narrows an existing file and its SQLite `-wal`/`-shm` companions to 0600. SQLite creates
    /// those companions with the main file's mode.
    public static func prepare(_ path: String) throws(WriteError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd >= 0 {
            close(fd)
            return
        }
        guard errno == EEXIST else {
            throw WriteError(message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            if info.st_mode & 0o077 != 0, chmod(file, mode) != 0 {
                throw WriteError(message: "cannot make \(file) private: \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The directory part of `path` ("" for a bare file name, "/" for a file at the root).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Writes `data` to `path` atomically (a temporary file, fsync'd, then renamed into place), with `mode`
    /// from the start: FileManager.createFile writes to a file made with the default mode (0644 under the
    /// usual umask) and only then chmods it, leaving a window in which another local user can open it.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o600) throws(WriteError) {
        let tmp = path + ".tmp-\(getpid())"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw WriteError(message: "cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let complete = fchmod(fd, mode) == 0 && writeAll(fd, data)
        let synced = fsync(fd) == 0
        close(fd)
        guard complete, synced else {
            unlink(tmp)
            throw WriteError(message: "cannot write \(tmp)")
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw WriteError(message: "cannot move the new file into place at \(path)")
        }
    }
}

/// Writes all of `data` to `fd`; false on an error.
private func writeAll(_ fd: Int32, _ data: Data) -> Bool {
    data.withUnsafeBytes { buf in
        var done = 0
        while done < buf.count {
            let n = write(fd, buf.baseAddress! + done, buf.count - done)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }
}
