/// # Log record framing
///
/// The event log is a sequence of segment files in `wal/`, named `%016x.wal` after the
/// sequence number of their first record, so names sort in log order. A segment is a run of
/// frames and nothing else:
///
/// ```
/// frame  := length  lengthCheck  crc  payload
/// length      u32 little-endian   payload size in bytes, 1 ... 64 MiB
/// lengthCheck u32 little-endian   ~length: a damaged header is seen without trusting length
/// crc         u32 little-endian   zlib CRC-32 of payload
/// payload     length bytes        one LogRecord as JSON (sorted keys)
/// ```
///
/// The last segment may go on in zeros after its frames: space the log writes ahead of its
/// records (a frame's length is never 0), so that syncing a record does not change the file's
/// size. Zeros to the end of a segment are the end of its records, not damage.
///
/// Appends only ever add whole frames after the last segment's frames, so a crash can leave
/// at most one partial frame there: a *torn tail*. On start-up a torn tail of the last segment
/// is cut off (after keeping a `.broken` copy). Any other damage — a frame that fails its
/// checks while valid frames follow it, or damage in an earlier segment — cannot come from a
/// crash, so start-up stops and says which file and offset are bad.
enum RecordFraming {
    static let headerSize = 12
    static let maximumPayload = 64 << 20

    /// Appends one frame carrying `payload` to `buffer`.
    static func appendFrame(_ payload: [UInt8], to buffer: inout [UInt8]) {
        let length = UInt32(payload.count)
        let crc = payload.withUnsafeBytes { Zlib.crc32($0) }
        for word in [length, ~length, crc] {
            withUnsafeBytes(of: word.littleEndian) { buffer.append(contentsOf: $0) }
        }
        buffer.append(contentsOf: payload)
    }

    /// What a scan of a segment found.
    struct Scan {
        /// Each valid frame's offset and payload, in order.
        var frames: [(offset: Int, payload: ArraySlice<UInt8>)] = []
        /// Where the valid frames end.
        var validEnd = 0
        /// The first problem after the valid frames, if any.
        var damage: Damage?
    }

    /// A problem found in a segment.
    enum Damage: Equatable, CustomStringConvertible {
        /// The last frame is cut short by the end of the file: what a crash mid-append leaves.
        case incomplete(offset: Int)
        /// A complete frame fails its checks. `validFrameFollows` tells whether a valid frame
        /// starts somewhere after it, which a crash cannot explain.
        case corrupt(offset: Int, reason: String, validFrameFollows: Bool)

        var offset: Int {
            switch self {
            case .incomplete(let offset), .corrupt(let offset, _, _): offset
            }
        }

        /// Whether cutting the file at `offset` is a repair rather than a loss of acknowledged data.
        var isTornTail: Bool {
            switch self {
            case .incomplete: true
            case .corrupt(_, _, let follows): !follows
            }
        }

        var description: String {
            switch self {
            case .incomplete(let offset): "incomplete record at offset \(offset)"
            case .corrupt(let offset, let reason, _): "damaged record at offset \(offset) (\(reason))"
            }
        }
    }

    /// Reads frames from the start of `bytes` until the end or the first damage.
    static func scan(_ bytes: [UInt8]) -> Scan {
        var scan = Scan()
        var offset = 0
        while offset < bytes.count {
            if bytes[offset] == 0 && zeros(bytes, from: offset) { return scan }
            switch frame(in: bytes, at: offset) {
            case .valid(let payload, let next):
                scan.frames.append((offset, payload))
                offset = next
                scan.validEnd = next
            case .incomplete:
                scan.damage = .incomplete(offset: offset)
                return scan
            case .corrupt(let reason):
                let follows = (offset + 1..<bytes.count).contains { candidate in
                    if case .valid = frame(in: bytes, at: candidate) { return true }
                    return false
                }
                scan.damage = .corrupt(offset: offset, reason: reason, validFrameFollows: follows)
                return scan
            }
        }
        return scan
    }

    /// Whether every byte from `offset` to the end is zero (the space written ahead of records).
    private static func zeros(_ bytes: [UInt8], from offset: Int) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var i = offset
            // Eight bytes at a time; the frame that follows a zero byte stops this at once.
            while i + 8 <= buffer.count {
                let word = UnsafeRawPointer(buffer.baseAddress! + i).loadUnaligned(as: UInt64.self)
                if word != 0 { return false }
                i += 8
            }
            while i < buffer.count {
                if buffer[i] != 0 { return false }
                i += 1
            }
            return true
        }
    }

    private enum FrameResult {
        case valid(ArraySlice<UInt8>, next: Int)
        case incomplete
        case corrupt(String)
    }

    private static func frame(in bytes: [UInt8], at offset: Int) -> FrameResult {
        guard bytes.count - offset >= headerSize else { return .incomplete }
        let length = word(bytes, offset)
        guard length == ~word(bytes, offset + 4) else { return .corrupt("header check failed") }
        guard length > 0 && length <= maximumPayload else { return .corrupt("impossible length \(length)") }
        let end = offset + headerSize + Int(length)
        guard end <= bytes.count else { return .incomplete }
        let payload = bytes[(offset + headerSize)..<end]
        let crc = payload.withUnsafeBytes { Zlib.crc32($0) }
        guard crc == word(bytes, offset + 8) else { return .corrupt("checksum mismatch") }
        return .valid(payload, next: end)
    }

    private static func word(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }
}
