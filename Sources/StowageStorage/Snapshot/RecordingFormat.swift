public import StowageCore

/// A stretch of a registry's history that travels: the state it starts from, every record after
/// it (applied and refused), the stored states its restores return to, and the blobs it linked.
/// `stowage serve --replay FILE` serves one read-only.
public struct Recording: Sendable {
    /// The record the recording starts after (0: the start of history).
    public var baseSequence: UInt64
    /// The whole registry right after `baseSequence`: checkpoints, uploads, clock included.
    public var base: RegistryState
    /// The states the restores among `records` return to, by the sequence they are stored under.
    public var points: [UInt64: RegistryState]
    /// The records after `baseSequence`, oldest first, with no gap.
    public var records: [LogRecord]
    /// The bytes of blobs the registry linked at some point of the recording (what storage still held).
    public var blobs: [Digest: [UInt8]]

    public init(
        baseSequence: UInt64, base: RegistryState, points: [UInt64: RegistryState], records: [LogRecord],
        blobs: [Digest: [UInt8]]
    ) {
        self.baseSequence = baseSequence
        self.base = base
        self.points = points
        self.records = records
        self.blobs = blobs
    }

    /// The sequence of the last record.
    public var lastSequence: UInt64 { records.last?.sequence ?? baseSequence }

    /// Every blob the registry linked at some point of the recording: at the base, in every
    /// stored point, and every blob a record links.
    public var blobsEverLinked: Set<Digest> {
        var digests = base.linkedBlobs
        for point in points.values { digests.formUnion(point.linkedBlobs) }
        for record in records where record.refusal == nil {
            switch record.envelope.command {
            case .putBlob(_, let digest, _), .mountBlob(_, let digest, _): digests.insert(digest)
            case .commitUpload(_, _, _, let computed, _, _): digests.insert(computed)
            default: break
            }
        }
        return digests
    }
}

/// # Recording file format, version 1
///
/// The container of export files (``PackedFile``) with magic `STOWRCRD`; its payload:
///
/// ```
/// baseSequence  u64 LE    the record the recording starts after
/// stateLength   u64 LE, then the registry right after it, as JSON (as snapshots hold it)
/// pointCount    u32 LE, then for each stored point, by sequence:
///   sequence u64 LE, stateLength u64 LE, the state as JSON
/// recordCount   u64 LE, then for each record, oldest first:
///   recordLength u32 LE, the record as JSON (as the log holds it)
/// blobCount     u32 LE, then the blobs as in an export file
/// ```
///
/// Decoding checks what an import checks (the container, bounded inflate, every blob's digest)
/// and that the history holds together: records numbered from `baseSequence + 1` without a gap,
/// and every applied record applies again, in order, to the base.
public enum RecordingFormat {
    public static let magic = Array("STOWRCRD".utf8)
    public static let version: UInt32 = 1

    /// Why a recording was refused.
    public typealias Failure = FileFailure

    public static func encode(_ recording: Recording) throws -> [UInt8] {
        var payload: [UInt8] = []
        LittleEndian.append(recording.baseSequence, to: &payload)
        let base = try StateCodec.encodeState(recording.base)
        LittleEndian.append(UInt64(base.count), to: &payload)
        payload += base
        LittleEndian.append(UInt32(recording.points.count), to: &payload)
        for (sequence, state) in recording.points.sorted(by: { $0.key < $1.key }) {
            let json = try StateCodec.encodeState(state)
            LittleEndian.append(sequence, to: &payload)
            LittleEndian.append(UInt64(json.count), to: &payload)
            payload += json
        }
        LittleEndian.append(UInt64(recording.records.count), to: &payload)
        for record in recording.records {
            let json = try StateCodec.encodeRecord(record)
            LittleEndian.append(UInt32(json.count), to: &payload)
            payload += json
        }
        PackedFile.appendBlobs(recording.blobs, to: &payload)
        return PackedFile.pack(magic: magic, version: version, flags: 1, payload: payload)
    }

    /// Decodes and validates a recording, inflating at most `limit` bytes.
    public static func decode(_ bytes: [UInt8], limit: Int) throws(Failure) -> Recording {
        try FileFailure.catching { try validated(bytes, limit: limit) }
    }

    private static func validated(_ bytes: [UInt8], limit: Int) throws -> Recording {
        let payload = try PackedFile.open(bytes, magic: magic, version: version, what: "recording", limit: limit)
            .payload
        var reader = PackedFile.Reader(bytes: payload)
        let baseSequence = try reader.integer(UInt64.self, "base sequence")
        let base = try state(try reader.sized("base state"), "the base state")
        var points: [UInt64: RegistryState] = [:]
        for i in 0..<(try reader.integer(UInt32.self, "point count")) {
            let sequence = try reader.integer(UInt64.self, "sequence of point \(i)")
            points[sequence] = try state(try reader.sized("state of point \(sequence)"), "point \(sequence)")
        }
        let count = try reader.integer(UInt64.self, "record count")
        guard count <= UInt64(payload.count) else {
            throw Failure(description: "the record count \(count) is impossible")
        }
        var records: [LogRecord] = []
        records.reserveCapacity(Int(count))
        for i in 0..<count {
            let length = try reader.integer(UInt32.self, "length of record \(i)")
            let json = try reader.take(UInt64(length), "record \(i)")
            let record: LogRecord
            do { record = try StateCodec.decodeRecord(json) } catch {
                throw Failure(description: "record \(i) does not decode: \(error)")
            }
            guard record.sequence == baseSequence + i + 1 else {
                throw Failure(
                    description:
                        "record \(i) is numbered \(record.sequence), not \(baseSequence + i + 1): the history has a gap"
                )
            }
            records.append(record)
        }
        let blobs = try reader.blobs()
        guard reader.isAtEnd else { throw Failure(description: "unexpected bytes after the last blob") }
        // The history holds together: every applied record applies again to what came before it.
        var folded = base
        for record in records where record.refusal == nil {
            do { try folded.apply(record.envelope) { points[$0] } } catch {
                throw Failure(
                    description:
                        "record \(record.sequence) (\(record.envelope.command.kind)) does not apply to the state before it: \(error)"
                )
            }
        }
        return Recording(baseSequence: baseSequence, base: base, points: points, records: records, blobs: blobs)
    }

    private static func state(_ json: ArraySlice<UInt8>, _ what: String) throws -> RegistryState {
        let state: RegistryState
        do { state = try StateCodec.decodeState(json) } catch {
            throw Failure(description: "\(what) does not decode: \(error)")
        }
        let problems = state._checkInvariants()
        guard problems.isEmpty else { throw Failure(description: "\(what) is inconsistent: \(problems[0])") }
        return state
    }
}
