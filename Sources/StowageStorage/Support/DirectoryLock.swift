#if canImport(Glibc)
    import Glibc
#endif

/// Another process holds a data directory.
public struct DirectoryLocked: Error, CustomStringConvertible, Sendable {
    public var directory: String
    /// The process that holds it, as it wrote itself into the lock file (absent if unreadable).
    public var holder: Int32?

    public var description: String {
        let who = holder.map { "another Stowage (pid \($0))" } ?? "another Stowage"
        return """
            the data directory \(directory) is in use by \(who); two servers on one directory would \
            both write its log and lose each other's writes. Stop that server, or start this one with another \
            --data-dir (`stowage inspect \(directory)` reads it without a lock).
            """
    }
}

/// An exclusive `flock(2)` on `<directory>/LOCK`, held for as long as this value lives: one
/// server per data directory. The file holds the holder's pid, for the message a second server
/// prints. The kernel releases the lock when the process ends, however it ends.
final class DirectoryLock: Sendable {
    let path: String
    private let descriptor: Int32

    /// Takes the lock, or throws ``DirectoryLocked`` naming the process that has it.
    init(directory: String) throws {
        try POSIX.makeDirectories(directory, durable: true)
        path = directory + "/LOCK"
        let fd = try POSIX.open(path, O_RDWR | O_CREAT)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = buffer.withUnsafeMutableBytes { (try? POSIX.preadFully(fd, into: $0, at: 0, path: directory)) ?? 0 }
            POSIX.close(fd)
            guard code == EWOULDBLOCK else {
                throw FileError(operation: "flock", path: directory + "/LOCK", code: code)
            }
            let text = String(decoding: buffer.prefix(n), as: UTF8.self).filter(\.isNumber)
            throw DirectoryLocked(directory: directory, holder: Int32(text))
        }
        descriptor = fd
        let pid = Array("\(getpid())\n".utf8)
        try? POSIX.truncate(fd, to: 0, path: path)
        try? pid.withUnsafeBytes { try POSIX.pwriteAll(fd, $0, at: 0, path: path) }
    }

    deinit { POSIX.close(descriptor) }
}
