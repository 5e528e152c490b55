public import StowageCore
import Synchronization

/// Spools and blobs in memory, for `--ephemeral`.
public final class InMemoryContentStore: ContentStore {
    private let spools = Mutex<[UploadID: MemoryBytes]>([:])
    private let blobs = Mutex<[Digest: MemoryBytes]>([:])

    public init() {}

    public func createSpool(_ id: UploadID) throws { spools.withLock { $0[id] = MemoryBytes() } }

    public func openSpool(_ id: UploadID) throws -> any SpoolWriter { MemorySpoolWriter(store: self, id: id) }

    /// The spool's bytes: written outside the lock, as each upload has one writer at a time.
    fileprivate func spool(_ id: UploadID) -> MemoryBytes {
        spools.withLock { spools in
            if let spool = spools[id] { return spool }
            let spool = MemoryBytes()
            spools[id] = spool
            return spool
        }
    }

    public func truncateSpool(_ id: UploadID, to size: Int64) throws {
        spools.withLock { $0[id] }?.truncate(to: Int(size))
    }

    public func readSpool(_ id: UploadID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try spools.withLock { spools in
            guard let spool = spools[id] else { throw ContentNotFound(what: "spool \(id)") }
            return spool.read(at: Int(offset), into: buffer)
        }
    }

    public func removeSpool(_ id: UploadID) { _ = spools.withLock { $0.removeValue(forKey: id) } }

    public func spoolSize(_ id: UploadID) -> Int64? { spools.withLock { $0[id].map { Int64($0.count) } } }

    public func spoolIDs() -> [String] { spools.withLock { $0.keys.map(\.rawValue).sorted() } }

    public func storeSpool(_ id: UploadID, size: Int64, as digest: Digest) throws {
        guard blobSize(digest) == nil else { return }
        let bytes = try spools.withLock { spools in
            guard let spool = spools.removeValue(forKey: id) else { throw ContentNotFound(what: "spool \(id)") }
            return spool
        }
        // Moved, not copied: the spool becomes the blob (nothing survives a crash in memory anyway).
        bytes.truncate(to: Int(size))
        blobs.withLock { blobs in
            if blobs[digest] == nil { blobs[digest] = bytes }
        }
    }

    public func blobSize(_ digest: Digest) -> Int64? { blobs.withLock { $0[digest].map { Int64($0.count) } } }

    public func writeBlob(_ digest: Digest, _ bytes: [UInt8]) throws {
        blobs.withLock { blobs in
            if blobs[digest] == nil { blobs[digest] = bytes.withUnsafeBytes { MemoryBytes($0) } }
        }
    }

    public func openBlob(_ digest: Digest) throws -> any BlobReader {
        guard let bytes = blobs.withLock({ $0[digest] }) else { throw ContentNotFound(what: "blob \(digest)") }
        return MemoryBlobReader(bytes: bytes)
    }

    public func removeBlob(_ digest: Digest) { _ = blobs.withLock { $0.removeValue(forKey: digest) } }

    public func blobDigests() -> [Digest] { blobs.withLock { Array($0.keys) } }
}

private struct MemorySpoolWriter: SpoolWriter {
    let bytes: MemoryBytes

    init(store: InMemoryContentStore, id: UploadID) { bytes = store.spool(id) }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws { self.bytes.write(bytes, at: Int(offset)) }
    func close() {}
}

private struct MemoryBlobReader: BlobReader {
    let bytes: MemoryBytes
    var size: Int64 { Int64(bytes.count) }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        bytes.read(at: Int(offset), into: buffer)
    }

    func close() {}
}
