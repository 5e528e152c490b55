import CLinux
public import StowageCore

#if canImport(Glibc)
    import Glibc
#endif

/// Spools in `uploads/<id>`, blobs in `blobs/<algorithm>/<first two hex>/<hex>`.
public struct FileContentStore: ContentStore {
    public let uploads: String
    public let blobs: String
    /// Whether a committed blob is fsynced before its command is logged (not under `--fsync never`).
    public let durable: Bool

    public init(directory: String, durable: Bool = true) throws {
        uploads = directory + "/uploads"
        blobs = directory + "/blobs"
        self.durable = durable
        try POSIX.makeDirectories(uploads, durable: durable)
        try POSIX.makeDirectories(blobs, durable: durable)
    }

    func spoolPath(_ id: UploadID) -> String { uploads + "/" + id.rawValue }

    func blobDirectory(_ digest: Digest) -> String {
        blobs + "/" + digest.algorithm.rawValue + "/" + digest.hex.prefix(2)
    }

    func blobPath(_ digest: Digest) -> String { blobDirectory(digest) + "/" + digest.hex }

    public func createSpool(_ id: UploadID) throws {
        POSIX.close(try POSIX.open(spoolPath(id), O_WRONLY | O_CREAT | O_TRUNC))
    }

    public func openSpool(_ id: UploadID) throws -> any SpoolWriter {
        let path = spoolPath(id)
        return FileSpoolWriter(
            descriptor: Descriptor(try POSIX.open(path, O_WRONLY | O_CREAT), path: path), directory: uploads,
            durable: durable)
    }

    public func truncateSpool(_ id: UploadID, to size: Int64) throws {
        let path = spoolPath(id)
        let fd = try POSIX.open(path, O_WRONLY | O_CREAT)
        defer { POSIX.close(fd) }
        try POSIX.truncate(fd, to: size, path: path)
    }

    public func readSpool(_ id: UploadID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let path = spoolPath(id)
        let fd = try POSIX.open(path, O_RDONLY)
        defer { POSIX.close(fd) }
        return try POSIX.preadFully(fd, into: buffer, at: offset, path: path)
    }

    public func removeSpool(_ id: UploadID) { POSIX.unlink(spoolPath(id)) }

    public func spoolSize(_ id: UploadID) -> Int64? { POSIX.fileSize(spoolPath(id)) }

    public func spoolIDs() -> [String] { POSIX.list(uploads) }

    public func storeSpool(_ id: UploadID, size: Int64, as digest: Digest) throws {
        guard blobSize(digest) == nil else { return }
        let spool = spoolPath(id)
        let fd = try POSIX.open(spool, O_WRONLY)
        do {
            try POSIX.truncate(fd, to: size, path: spool)
            if durable { try POSIX.fsync(fd, path: spool) }
            POSIX.close(fd)
        } catch {
            POSIX.close(fd)
            throw error
        }
        let directory = blobDirectory(digest)
        try POSIX.makeDirectories(directory, durable: durable)
        // A second name for the spool's file: the spool keeps its own until the commit is logged.
        try POSIX.link(spool, blobPath(digest))
        if durable { try POSIX.fsyncDirectory(directory) }
    }

    public func blobSize(_ digest: Digest) -> Int64? { POSIX.fileSize(blobPath(digest)) }

    public func writeBlob(_ digest: Digest, _ bytes: [UInt8]) throws {
        guard blobSize(digest) == nil else { return }
        try POSIX.makeDirectories(blobDirectory(digest), durable: durable)
        try POSIX.writeFileAtomically(blobPath(digest), bytes, sync: durable)
    }

    public func openBlob(_ digest: Digest) throws -> any BlobReader {
        let path = blobPath(digest)
        let fd: Int32
        do { fd = try POSIX.open(path, O_RDONLY) } catch { throw ContentNotFound(what: "blob \(digest)") }
        let descriptor = Descriptor(fd, path: path)
        return FileBlobReader(descriptor: descriptor, size: try POSIX.size(fd, path: path))
    }

    public func removeBlob(_ digest: Digest) { POSIX.unlink(blobPath(digest)) }

    public func blobDigests() -> [Digest] {
        Digest.Algorithm.allCases.flatMap { algorithm in
            let root = blobs + "/" + algorithm.rawValue
            return POSIX.list(root).flatMap { prefix in
                POSIX.list(root + "/" + prefix).compactMap { Digest(algorithm: algorithm, hex: $0) }
            }
        }
    }
}

struct FileSpoolWriter: SpoolWriter {
    let descriptor: Descriptor
    let directory: String
    let durable: Bool

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        try POSIX.pwriteAll(descriptor.fd, bytes, at: offset, path: descriptor.path)
    }

    /// Allocates the blocks up front, keeping the file's size: ext4's delayed allocation then has
    /// no per-page work to do, which measured 0.25 s of kernel CPU per GiB written instead of
    /// 0.3–1.7 s. Best effort: a failure here (ENOSPC, a filesystem without it) surfaces, if at
    /// all, from the writes themselves.
    func reserve(_ length: Int64, at offset: Int64) {
        guard length >= FileSpoolWriter.smallestReservation, offset >= 0, length <= FileSpoolWriter.largestReservation
        else { return }
        _ = CLinux.fallocate(descriptor.fd, FileSpoolWriter.keepSize, Int(offset), Int(length))
    }

    /// `FALLOC_FL_KEEP_SIZE`: a spool's size stays the bytes really written.
    static let keepSize: Int32 = 1
    /// Nothing reserved for a small body (a config, a tiny layer): it is one page or a few, and
    /// the call would cost more than it saves.
    static let smallestReservation: Int64 = 64 << 10
    /// No reservation beyond this, whatever a client declares.
    static let largestReservation: Int64 = 16 << 30

    func sync(entry: Bool) throws {
        guard durable else { return }
        try POSIX.fsync(descriptor.fd, path: descriptor.path)
        if entry { try POSIX.fsyncDirectory(directory) }
    }

    func close() {}
}

struct FileBlobReader: BlobReader {
    let descriptor: Descriptor
    let size: Int64

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try POSIX.preadFully(descriptor.fd, into: buffer, at: offset, path: descriptor.path)
    }

    var fileDescriptor: Int32? { descriptor.fd }

    func close() {}
}
