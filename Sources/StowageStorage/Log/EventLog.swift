/// The append-only log of records, in sequence order.
///
/// Used only by the engine's single writer. `syncTarget()` hands out what another thread
/// needs to make the appended records durable, so several writers can share one fsync.
public protocol EventLog: AnyObject {
    /// Appends encoded records (already framed) to the end of the log; not yet durable.
    func append(framed bytes: [UInt8], lastSequence: UInt64) throws
    /// Something that makes everything appended so far durable when called, from any thread.
    func syncTarget() -> any LogSyncTarget
    /// Whether anything outlives the process, so that an fsync means something (not in memory).
    var persists: Bool { get }
    /// Starts a new segment whose first record will be `sequence`.
    func startSegment(at sequence: UInt64) throws
    /// The payloads of the records in every segment that may hold records above `sequence`,
    /// in order; the caller skips records at or below `sequence`.
    func payloads(after sequence: UInt64) throws -> [ArraySlice<UInt8>]
    /// Forgets whole segments whose records all have sequence numbers up to `sequence`, and
    /// returns what deletes them, to be run on any thread (they are never read again).
    func removeSegments(through sequence: UInt64) -> @Sendable () throws -> Void
    /// Total bytes held.
    var byteCount: Int64 { get }
    /// The first sequence number the log still holds (1 when nothing was ever removed).
    var firstSequence: UInt64 { get }
}

/// Makes appended records durable.
public protocol LogSyncTarget: Sendable {
    func sync() throws
}
