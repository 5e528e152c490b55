public import StowageCore

#if canImport(Glibc)
    import Glibc
#endif

/// Spools in `uploads/<id>`, blobs in `blobs/<algorithm>/<first two hex>/<hex>`.
public struct FileContentStore: ContentStore {
    public let uploads: String
    public let blobs: String

    public init(directory: String) throws {
        uploads = directory + "/uploads"
        blobs = directory + "/blobs"
        try POSIX.makeDirectories(uploads)
        try POSIX.makeDirectories(blobs)
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
        return FileSpoolWriter(descriptor: Descriptor(try POSIX.open(path, O_WRONLY | O_CREAT), path: path))
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

    public func spoolIDs() -> [String] { POSIX.list(uploads) }

    public func commitSpool(_ id: UploadID, size: Int64, as digest: Digest) throws {
        let spool = spoolPath(id)
        if blobSize(digest) != nil {
            POSIX.unlink(spool)
            return
        }
        let fd = try POSIX.open(spool, O_WRONLY)
        do {
            try POSIX.truncate(fd, to: size, path: spool)
            try POSIX.fsync(fd, path: spool)
            POSIX.close(fd)
        } catch {
            POSIX.close(fd)
            throw error
        }
        let directory = blobDirectory(digest)
        try POSIX.makeDirectories(directory)
        try POSIX.rename(spool, blobPath(digest))
        try POSIX.fsyncDirectory(directory)
    }

    public func blobSize(_ digest: Digest) -> Int64? { POSIX.fileSize(blobPath(digest)) }

    public func writeBlob(_ digest: Digest, _ bytes: [UInt8]) throws {
        guard blobSize(digest) == nil else { return }
        try POSIX.makeDirectories(blobDirectory(digest))
        try POSIX.writeFileAtomically(blobPath(digest), bytes)
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

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        try POSIX.pwriteAll(descriptor.fd, bytes, at: offset, path: descriptor.path)
    }

    func close() {}
}

struct FileBlobReader: BlobReader {
    let descriptor: Descriptor
    let size: Int64

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try POSIX.preadFully(descriptor.fd, into: buffer, at: offset, path: descriptor.path)
    }

    func close() {}
}
