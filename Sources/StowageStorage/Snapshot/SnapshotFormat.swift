import Dispatch
import FoundationEssentials
public import StowageCore

/// # Snapshot file format, version 2
///
/// ```
/// magic        8 bytes   "STOWSNAP"
/// version      u32 LE    2
/// flags        u32 LE    0
/// sequence     u64 LE    the last log sequence number the snapshot covers
/// rawLength    u64 LE    size of the text once inflated (all its segments)
/// tableCRC     u32 LE    zlib CRC-32 of the segment table
/// headerCRC    u32 LE    zlib CRC-32 of the 36 bytes above
/// segments     u32 LE    how many segments the text is cut into (at least one)
/// table        for each segment: rawLength u64 LE, compressedLength u64 LE,
///              crc u32 LE (zlib CRC-32 of its compressed bytes)
/// payload      the segments, one after another, each its own zlib stream
/// ```
///
/// The text is the RegistryState as JSON (sorted keys, so the same state always gives the same
/// bytes; written by `StateWriter`, read by `StateReader`), cut every `segmentSize` bytes or so
/// into segments deflated on their own, so that a restart inflates them on every core, each
/// straight into its place in one buffer. Version 1, which every later Stowage still reads, is
/// the same header with one zlib stream of the whole text after it and `payloadCRC` (the CRC-32
/// of that stream) where v2 has `tableCRC`.
///
/// Files live in `snap/` as `%016x.snap` (the sequence), written to a temporary name, synced,
/// renamed and the directory synced. Decoding checks the magic, the header's checksum, the
/// version, the table's checksum, that the segments add up to the text and fill the file
/// exactly, that no segment claims more text than deflate can pack into its bytes, each
/// segment's checksum, and that each inflates to exactly its length.
public enum SnapshotFormat {
    public static let magic = Array("STOWSNAP".utf8)
    /// The version written; versions 1 and 2 are read.
    public static let version: UInt32 = 2
    static let headerSize = 40
    static let tableEntrySize = 20
    /// About how much text each segment holds: a snapshot of a few thousand images already
    /// inflates on two cores, a million images' is ~190 segments for the cores to share, and
    /// deflate (a 32 KiB window) packs no worse for the cuts.
    public static let segmentSize = 4 << 20
    /// Deflate packs at most 258 bytes into 2 bits of a block, about 1032 to 1; a segment that
    /// claims more text than this times its bytes (plus a stream's fixed overhead) is refused
    /// before any memory is set aside for it.
    static let mostInflation = 1032

    /// Why a snapshot could not be read.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Encodes `state`, which covers the log through `sequence`, at zlib `level`, in segments of
    /// about `segmentSize` bytes of text.
    public static func encode(
        _ state: RegistryState, sequence: UInt64, level: Int32 = 1, segmentSize: Int = segmentSize
    ) throws -> [UInt8] {
        var segments: [(rawLength: Int, stream: [UInt8])] = []
        var deflater = Zlib.Deflater(level: level)
        var writer = StateWriter(
            sink: { piece in
                if deflater.consumed >= segmentSize {
                    segments.append((deflater.consumed, deflater.finish()))
                    deflater = Zlib.Deflater(level: level)
                }
                deflater.append(piece)
            }, chunk: min(1 << 20, max(1, segmentSize)))
        try writer.write(state)
        segments.append((deflater.consumed, deflater.finish()))
        var table: [UInt8] = []
        LittleEndian.append(UInt32(segments.count), to: &table)
        for segment in segments {
            LittleEndian.append(UInt64(segment.rawLength), to: &table)
            LittleEndian.append(UInt64(segment.stream.count), to: &table)
            LittleEndian.append(segment.stream.withUnsafeBytes { Zlib.crc32($0) }, to: &table)
        }
        var bytes = magic
        bytes.reserveCapacity(headerSize + table.count + segments.reduce(0) { $0 + $1.stream.count })
        LittleEndian.append(version, to: &bytes)
        LittleEndian.append(UInt32(0), to: &bytes)
        LittleEndian.append(sequence, to: &bytes)
        LittleEndian.append(UInt64(segments.reduce(0) { $0 + $1.rawLength }), to: &bytes)
        LittleEndian.append(table.withUnsafeBytes { Zlib.crc32($0) }, to: &bytes)
        LittleEndian.append(bytes.withUnsafeBytes { Zlib.crc32($0) }, to: &bytes)
        bytes += table
        for segment in segments { bytes += segment.stream }
        return bytes
    }

    /// The header fields, checked.
    public struct Header: Sendable {
        public var version: UInt32
        public var sequence: UInt64
        public var rawLength: UInt64
        /// Where each segment's stream is in the file, where its text goes, and its checksum.
        public var segments: [Segment]
    }

    /// One independently deflated piece of the text.
    public struct Segment: Sendable {
        /// Its zlib stream's place in the file.
        public var stream: Range<Int>
        /// Its text's place in the whole text.
        public var text: Range<Int>
        /// The CRC-32 of its stream.
        public var crc: UInt32
    }

    /// Reads and checks the header and, in version 2, the segment table. The segments' own
    /// checksums are checked as they are inflated (on every core, by ``text(_:)``).
    public static func header(_ bytes: [UInt8]) throws(Failure) -> Header {
        guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else {
            throw Failure(description: "not a Stowage snapshot (bad magic)")
        }
        let headerCRC = bytes[0..<36].withUnsafeBytes { Zlib.crc32($0) }
        guard headerCRC == LittleEndian.read(UInt32.self, bytes, 36) else {
            throw Failure(description: "header checksum mismatch")
        }
        let version = LittleEndian.read(UInt32.self, bytes, 8)
        let (sequence, rawLength) = (
            LittleEndian.read(UInt64.self, bytes, 16), LittleEndian.read(UInt64.self, bytes, 24)
        )
        let segments: [Segment]
        switch version {
        case 1:
            segments = [
                try segment(
                    stream: headerSize, count: UInt64(bytes.count - headerSize), text: 0, length: rawLength,
                    crc: LittleEndian.read(UInt32.self, bytes, 32), "the payload")
            ]
        case 2:
            segments = try table(bytes, rawLength: rawLength)
        default:
            throw Failure(description: "snapshot format version \(version); this Stowage reads versions 1 and 2")
        }
        return Header(version: version, sequence: sequence, rawLength: rawLength, segments: segments)
    }

    /// The segments of a version 2 file, each checked to lie in the file and the text.
    private static func table(_ bytes: [UInt8], rawLength: UInt64) throws(Failure) -> [Segment] {
        guard bytes.count >= headerSize + 4 else { throw Failure(description: "the segment table is missing") }
        let count = Int(LittleEndian.read(UInt32.self, bytes, headerSize))
        guard count >= 1, count <= (bytes.count - headerSize - 4) / tableEntrySize else {
            throw Failure(description: "the segment table claims \(count) segments, which the file cannot hold")
        }
        let tableEnd = headerSize + 4 + count * tableEntrySize
        guard
            bytes[headerSize..<tableEnd].withUnsafeBytes({ Zlib.crc32($0) })
                == LittleEndian.read(UInt32.self, bytes, 32)
        else { throw Failure(description: "segment table checksum mismatch") }
        var segments: [Segment] = []
        var (stream, text) = (tableEnd, 0)
        for index in 0..<count {
            let entry = headerSize + 4 + index * tableEntrySize
            let segment = try segment(
                stream: stream, count: LittleEndian.read(UInt64.self, bytes, entry + 8), text: text,
                length: LittleEndian.read(UInt64.self, bytes, entry),
                crc: LittleEndian.read(UInt32.self, bytes, entry + 16),
                "segment \(index)", fileLength: bytes.count)
            segments.append(segment)
            (stream, text) = (segment.stream.upperBound, segment.text.upperBound)
        }
        guard stream == bytes.count else {
            throw Failure(description: "the segments end at byte \(stream) of a file of \(bytes.count) bytes")
        }
        guard UInt64(text) == rawLength else {
            throw Failure(description: "the segments hold \(text) bytes of text, not the \(rawLength) the header says")
        }
        return segments
    }

    /// A segment whose stream starts at `stream` and whose text at `text`, refused when either
    /// cannot be: past the end of the file, or more text than `count` bytes of deflate can hold.
    private static func segment(
        stream: Int, count: UInt64, text: Int, length: UInt64, crc: UInt32, _ what: String,
        fileLength: Int = .max
    ) throws(Failure) -> Segment {
        guard count <= UInt64(fileLength - stream) else {
            throw Failure(description: "\(what) runs past the end of the file")
        }
        guard length <= (count + 64) * UInt64(mostInflation) else {
            throw Failure(
                description: "\(what) claims \(length) bytes of text, more than \(count) bytes of deflate hold")
        }
        return Segment(stream: stream..<stream + Int(count), text: text..<text + Int(length), crc: crc)
    }

    /// The snapshot's text, every segment checked and inflated, on every core when there are several.
    public static func text(_ bytes: [UInt8]) throws(Failure) -> [UInt8] { try contents(bytes).text }

    /// Decodes a snapshot into the state and the last sequence it covers.
    public static func decode(_ bytes: [UInt8]) throws -> (sequence: UInt64, state: RegistryState) {
        let (header, text) = try contents(bytes)
        return (header.sequence, try StateCodec.decodeState(text))
    }

    private static func contents(_ bytes: [UInt8]) throws(Failure) -> (header: Header, text: [UInt8]) {
        let header = try header(bytes)
        let segments = header.segments
        var failures = [Failure?](repeating: nil, count: segments.count)
        let length = Int(header.rawLength)
        let text = [UInt8](unsafeUninitializedCapacity: length) { text, initialized in
            bytes.withUnsafeBufferPointer { file in
                failures.withUnsafeMutableBufferPointer { failures in
                    // Each segment writes only its own part of `text` and its own slot of `failures`,
                    // and `concurrentPerform` returns when every segment is done.
                    nonisolated(unsafe) let (file, text, failures) = (file, text, failures)
                    @Sendable func inflate(_ index: Int) {
                        let segment = segments[index]
                        let stream = UnsafeBufferPointer(rebasing: file[segment.stream])
                        let what = header.version == 1 ? "the payload" : "segment \(index)"
                        guard Zlib.crc32(UnsafeRawBufferPointer(stream)) == segment.crc else {
                            failures[index] = Failure(description: "\(what): checksum mismatch")
                            return
                        }
                        do throws(Zlib.Failure) {
                            try Zlib.inflate(
                                stream, exactlyInto: UnsafeMutableBufferPointer(rebasing: text[segment.text]))
                        } catch {
                            failures[index] = Failure(
                                description: "\(what): length mismatch or corrupt stream: \(error)")
                        }
                    }
                    if segments.count == 1 {
                        inflate(0)
                    } else {
                        DispatchQueue.concurrentPerform(iterations: segments.count, execute: inflate)
                    }
                }
            }
            initialized = failures.allSatisfy { $0 == nil } ? length : 0
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return (header, text)
    }
}

/// The JSON coding of states, records and exports: sorted keys and unescaped slashes, so the
/// same value always gives the same bytes.
public enum StateCodec {
    /// Compact JSON, keys sorted: what `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]`
    /// writes, from `CanonicalJSONEncoder`.
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try CanonicalJSONEncoder().encode(value)
    }

    /// A log record, by ``StateWriter``: the same bytes as ``encode(_:)``, the common commands
    /// written by hand.
    public static func encodeRecord(_ record: LogRecord) throws -> [UInt8] {
        var writer = StateWriter()
        try writer.write(record)
        return writer.output
    }

    /// A whole state, by ``StateWriter``: the same bytes as ``encode(_:)``, written by hand.
    public static func encodeState(_ state: RegistryState) throws -> [UInt8] {
        var writer = StateWriter()
        try writer.write(state)
        return writer.output
    }

    /// A whole state, by ``StateReader``: what ``decode(_:from:)`` reads, read by hand.
    public static func decodeState(_ bytes: some Collection<UInt8>) throws -> RegistryState {
        try StateReader.read(bytes)
    }

    public static func decode<T: Decodable, Bytes: Collection<UInt8>>(_ type: T.Type, from bytes: Bytes) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
