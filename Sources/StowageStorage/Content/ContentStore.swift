public import StowageCore

/// Where blob bytes live: upload spools while a blob arrives, then content-addressed blobs.
///
/// One store serves every account-region: a blob is kept once, whoever pushed it. Which
/// repositories may see it is the state's business (blob links), not the store's.
public protocol ContentStore: Sendable {
    /// Creates an empty spool for an upload.
    func createSpool(_ id: UploadID) throws
    /// Opens an upload's spool for writing chunks.
    func openSpool(_ id: UploadID) throws -> any SpoolWriter
    /// Cuts a spool back to `size` bytes (recovery, and a refused chunk).
    func truncateSpool(_ id: UploadID, to size: Int64) throws
    /// Reads spooled bytes (to rebuild a running hash after a restart).
    func readSpool(_ id: UploadID, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    func removeSpool(_ id: UploadID)
    /// How many bytes a spool holds; `nil` when there is no spool.
    func spoolSize(_ id: UploadID) -> Int64?
    /// The ids of every spool present.
    func spoolIDs() -> [String]
    /// Makes the first `size` bytes of the spool the blob `digest`, durably (nothing to do when the
    /// blob is stored already). The spool stays until ``removeSpool(_:)``, which the engine calls once
    /// the commit is logged, so a crash in between leaves the upload whole (a memory store may
    /// hand the spool's bytes to the blob instead of copying them).
    func storeSpool(_ id: UploadID, size: Int64, as digest: Digest) throws

    /// The size of a stored blob, or `nil` when it is not stored.
    func blobSize(_ digest: Digest) -> Int64?
    /// Stores a whole blob durably (a blob that arrived in one piece, or an import).
    func writeBlob(_ digest: Digest, _ bytes: [UInt8]) throws
    /// Opens a stored blob for reading.
    func openBlob(_ digest: Digest) throws -> any BlobReader
    func removeBlob(_ digest: Digest)
    /// Every stored blob.
    func blobDigests() -> [Digest]
}

/// Writes an upload's chunks into its spool.
public protocol SpoolWriter: Sendable {
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws
    /// A hint that `length` bytes will be written at `offset` (a request's `Content-Length`).
    func reserve(_ length: Int64, at offset: Int64)
    /// Makes what was written durable before it is logged — and, with `entry`, the spool's own
    /// name in its directory (the first chunk of an upload). Nothing to do in memory.
    func sync(entry: Bool) throws
    func close()
}

extension SpoolWriter {
    public func reserve(_ length: Int64, at offset: Int64) {}
    public func sync(entry: Bool) throws {}
}

/// Reads a stored blob.
public protocol BlobReader: Sendable {
    var size: Int64 { get }
    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// The open file behind the blob, valid while the reader is, for `sendfile(2)`; nil in memory.
    var fileDescriptor: Int32? { get }
    func close()
}

extension BlobReader {
    public var fileDescriptor: Int32? { nil }
}

/// A blob or spool the store does not hold.
public struct ContentNotFound: Error, CustomStringConvertible, Sendable {
    public var what: String
    public var description: String { "\(what) is not stored" }
}
