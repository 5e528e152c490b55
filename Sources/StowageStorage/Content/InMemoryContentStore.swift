public import StowageCore
import Synchronization

/// Spools and blobs in memory, for `--ephemeral`.
public final class InMemoryContentStore: ContentStore {
    private let spools = Mutex<[UploadID: [UInt8]]>([:])
    private let blobs = Mutex<[Digest: [UInt8]]>([:])

    public init() {}

    public func createSpool(_ id: UploadID) throws { spools.withLock { $0[id] = [] } }

    public func openSpool(_ id: UploadID) throws -> any SpoolWriter { MemorySpoolWriter(store: self, id: id) }

    fileprivate func write(_ id: UploadID, _ bytes: UnsafeRawBufferPointer, at offset: Int64) {
        spools.withLock { spools in
            var spool = spools.removeValue(forKey: id) ?? []
            let end = Int(offset) + bytes.count
            if spool.count < end { spool.append(contentsOf: repeatElement(0, count: end - spool.count)) }
            spool.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[Int(offset)..<end]).copyMemory(from: bytes)
            }
            spools[id] = spool
        }
    }

    public func truncateSpool(_ id: UploadID, to size: Int64) throws {
        spools.withLock { spools in
            var spool = spools.removeValue(forKey: id) ?? []
            if spool.count > Int(size) { spool.removeLast(spool.count - Int(size)) }
            spools[id] = spool
        }
    }

    public func readSpool(_ id: UploadID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try spools.withLock { spools in
            guard let spool = spools[id] else { throw ContentNotFound(what: "spool \(id)") }
            return copy(spool, from: offset, into: buffer)
        }
    }

    public func removeSpool(_ id: UploadID) { _ = spools.withLock { $0.removeValue(forKey: id) } }

    public func spoolIDs() -> [String] { spools.withLock { $0.keys.map(\.rawValue).sorted() } }

    public func commitSpool(_ id: UploadID, size: Int64, as digest: Digest) throws {
        let bytes = try spools.withLock { spools in
            guard let spool = spools.removeValue(forKey: id) else { throw ContentNotFound(what: "spool \(id)") }
            return Array(spool.prefix(Int(size)))
        }
        blobs.withLock { blobs in
            if blobs[digest] == nil { blobs[digest] = bytes }
        }
    }

    public func blobSize(_ digest: Digest) -> Int64? { blobs.withLock { $0[digest].map { Int64($0.count) } } }

    public func writeBlob(_ digest: Digest, _ bytes: [UInt8]) throws {
        blobs.withLock { blobs in
            if blobs[digest] == nil { blobs[digest] = bytes }
        }
    }

    public func openBlob(_ digest: Digest) throws -> any BlobReader {
        guard let bytes = blobs.withLock({ $0[digest] }) else { throw ContentNotFound(what: "blob \(digest)") }
        return MemoryBlobReader(bytes: bytes)
    }

    public func removeBlob(_ digest: Digest) { _ = blobs.withLock { $0.removeValue(forKey: digest) } }

    public func blobDigests() -> [Digest] { blobs.withLock { Array($0.keys) } }
}

private func copy(_ bytes: [UInt8], from offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
    let start = min(Int(offset), bytes.count)
    let count = min(buffer.count, bytes.count - start)
    bytes.withUnsafeBytes { source in
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + count)]))
    }
    return count
}

private struct MemorySpoolWriter: SpoolWriter {
    let store: InMemoryContentStore
    let id: UploadID

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws { store.write(id, bytes, at: offset) }
    func close() {}
}

private struct MemoryBlobReader: BlobReader {
    let bytes: [UInt8]
    var size: Int64 { Int64(bytes.count) }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        copy(bytes, from: offset, into: buffer)
    }

    func close() {}
}
