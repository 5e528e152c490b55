#if canImport(Glibc)
    import CLinux
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file or directory operation failed; `path` and `errno` say which and why.
public struct FileError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String
    public var code: Int32

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(code)))"
    }
}

/// Thin, throwing wrappers over the POSIX calls storage needs. All blocking; all small.
enum POSIX {
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        let fd = path.withCString { Glibc.open($0, flags | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw FileError(operation: "open", path: path, code: errno) }
        return fd
    }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// Writes all of `bytes` at `offset`, retrying short writes.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "write", path: path, code: errno)
            }
            done += n
        }
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at end of file.
    static func preadFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String)
        throws -> Int
    {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(operation: "read", path: path, code: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func fsync(_ fd: Int32, path: String) throws {
        guard Glibc.fsync(fd) == 0 else { throw FileError(operation: "fsync", path: path, code: errno) }
    }

    /// Makes a file's bytes durable, with the metadata needed to read them back (its size), not
    /// its times: on a file whose blocks are written already, that is the data alone.
    static func fdatasync(_ fd: Int32, path: String) throws {
        guard Glibc.fdatasync(fd) == 0 else { throw FileError(operation: "fdatasync", path: path, code: errno) }
    }

    /// Makes a directory's entries (new, renamed or removed files) durable.
    static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fsync(fd, path: path)
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw FileError(operation: "rename", path: from, code: errno) }
    }

    static func unlink(_ path: String) { _ = Glibc.unlink(path) }

    static func truncate(_ fd: Int32, to size: Int64, path: String) throws {
        guard Glibc.ftruncate(fd, off_t(size)) == 0 else {
            throw FileError(operation: "truncate", path: path, code: errno)
        }
    }

    static func size(_ fd: Int32, path: String) throws -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(operation: "stat", path: path, code: errno) }
        return Int64(info.st_size)
    }

    /// The size of the file at `path`, or `nil` when there is none.
    static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// Creates `path` and any missing parents. With `durable`, each directory it creates is made
    /// durable in its parent (a new directory's entry is lost with the power otherwise, and every
    /// file under it with it).
    static func makeDirectories(_ path: String, durable: Bool = false) throws {
        // Most calls (a blob's directory, for every blob stored) find it there, or only it missing:
        // one mkdir instead of one for each part of the path.
        if mkdir(path, 0o755) == 0 {
            if durable { try fsyncDirectory(directory(of: path)) }
            return
        }
        if errno == EEXIST { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            let parent = current.isEmpty ? "/" : current
            current += "/" + part
            if mkdir(current, 0o755) == 0 {
                if durable { try fsyncDirectory(parent) }
            } else if errno != EEXIST {
                throw FileError(operation: "mkdir", path: current, code: errno)
            }
        }
    }

    /// Gives the file at `from` the second name `to`; a file already named `to` is left as it is.
    static func link(_ from: String, _ to: String) throws {
        guard Glibc.link(from, to) == 0 || errno == EEXIST else {
            throw FileError(operation: "link", path: to, code: errno)
        }
    }

    /// The names in a directory, sorted; empty when it does not exist.
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The whole content of a small file.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        let size = try size(fd, path: path)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let n = try bytes.withUnsafeMutableBytes { (buffer) throws -> Int in
            try preadFully(fd, into: buffer, at: 0, path: path)
        }
        return Array(bytes.prefix(n))
    }

    /// This program's own file, by its path (what `/proc/self/exe` links to); nil when unreadable.
    static func executablePath() -> String? {
        var path = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = path.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { readlink("/proc/self/exe", $0.baseAddress!, Int(PATH_MAX)) }
        }
        guard length > 0 else { return nil }
        return String(decoding: path[0..<length], as: UTF8.self)
    }

    /// The whole content of a file that has no size to read it by (one of /proc): read until its end.
    static func readUntilEnd(_ path: String) throws -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }

    /// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of the directory.
    static func writeFileAtomically(_ path: String, _ bytes: [UInt8], sync: Bool = true) throws {
        // Unique, so two writers of the same file never share a temp file.
        let temp = path + ".tmp-" + String(UInt64.random(in: .min ... .max), radix: 16)
        let fd = try open(temp, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try bytes.withUnsafeBytes { (buffer) throws in
                // A small file (a blob, a secret) is one write: no writeback to spread.
                if sync && buffer.count > writeBehindPiece {
                    try writeBehind(fd, buffer, path: temp)
                } else {
                    try pwriteAll(fd, buffer, at: 0, path: temp)
                }
            }
            if sync { try fsync(fd, path: temp) }
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        try rename(temp, path)
        if sync { try fsyncDirectory(directory(of: path)) }
    }

    static let writeBehindPiece = 4 << 20

    /// Writes `bytes` from the file's start in pieces of 4 MiB, starting each piece's writeback
    /// as soon as it is written and waiting for the one before it: a large file (a snapshot of
    /// a large registry) reaches the disk in a steady stream instead of in one flush at its
    /// fsync, which the log's fsyncs (every acknowledged write) would queue behind.
    static func writeBehind(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        let piece = writeBehindPiece
        var offset = 0
        while offset < bytes.count {
            let count = min(piece, bytes.count - offset)
            try pwriteAll(
                fd, UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]), at: Int64(offset), path: path)
            #if os(Linux)
                // Hints only: the fsync after is what makes the file durable.
                _ = CLinux.sync_file_range(fd, offset, count, UInt32(STOWAGE_SYNC_FILE_RANGE_WRITE))
                if offset >= piece {
                    _ = CLinux.sync_file_range(
                        fd, offset - piece, piece,
                        UInt32(
                            STOWAGE_SYNC_FILE_RANGE_WAIT_BEFORE | STOWAGE_SYNC_FILE_RANGE_WRITE
                                | STOWAGE_SYNC_FILE_RANGE_WAIT_AFTER))
                }
            #endif
            offset += count
        }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
