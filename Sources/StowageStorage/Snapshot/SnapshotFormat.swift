import Dispatch
import FoundationEssentials
import HashTreeCollections
public import StowageCore

/// # Snapshot file format, version 3
///
/// ```
/// magic        8 bytes   "STOWSNAP"
/// version      u32 LE    3
/// flags        u32 LE    0
/// sequence     u64 LE    the last log sequence number the snapshot covers
/// rawLength    u64 LE    size of the text once inflated (all its segments)
/// tableCRC     u32 LE    zlib CRC-32 of the segment table
/// headerCRC    u32 LE    zlib CRC-32 of the 36 bytes above
/// segments     u32 LE    how many segments the text is cut into (at least one)
/// table        for each segment: rawLength u64 LE, compressedLength u64 LE,
///              crc u32 LE (zlib CRC-32 of its compressed bytes), part u32 LE
/// payload      the segments, one after another, each its own zlib stream
/// ```
///
/// The text is the RegistryState as JSON (sorted keys, so the same state always gives the same
/// bytes; written by `StateWriter`, read by `StateReader`), cut into segments deflated on their
/// own: the segments one after another inflate to the whole text. A segment's `part` says what
/// it holds: 0, the *frame* (everything but the repositories); n ≥ 1, repositories of the text's
/// n-th `"repositories"` object (its scope's), whole ones, cut after one every `segmentSize`
/// bytes or so (a repository larger than that goes on over several segments: bit 31 of `part`
/// says the segment's last repository goes on in the next). The frame's segments together are a
/// state whose repositories objects are empty; a *unit* (a segment, or a run of them that one
/// repository spans) is `"name":{...},"name":{...}` (after a comma unless it is its part's
/// first). So a restart reads each unit on its own thread as soon as it is inflated into a
/// buffer that thread reuses: the text is never whole in memory (a million images' is 768 MiB,
/// and a fresh page costs the kernel more to hand over than the read spends on it).
///
/// Version 2, which every later Stowage still reads, is the same without `part` (20-byte table
/// entries), cut every `segmentSize` bytes wherever that falls, inflated whole on every core and
/// then read. Version 1 is the same header with one zlib stream of the whole text after it and
/// `payloadCRC` (the CRC-32 of that stream) where v2 has `tableCRC`.
///
/// Files live in `snap/` as `%016x.snap` (the sequence), written to a temporary name, synced,
/// renamed and the directory synced. Decoding checks the magic, the header's checksum, the
/// version, the table's checksum, that the segments add up to the text and fill the file
/// exactly, that no segment claims more text than deflate can pack into its bytes, that the
/// parts come in order, each segment's checksum, and that each inflates to exactly its length.
public enum SnapshotFormat {
    public static let magic = Array("STOWSNAP".utf8)
    /// The version written; versions 1, 2 and 3 are read.
    public static let version: UInt32 = 3
    static let headerSize = 40
    /// A table entry's size in version 3 (version 2's had no `part`: 20 bytes).
    static let tableEntrySize = 24
    /// About how much text each segment holds: a snapshot of a few thousand images already
    /// reads on two cores, a million images' is ~190 segments for the cores to share, and
    /// deflate (a 32 KiB window) packs no worse for the cuts.
    public static let segmentSize = 4 << 20
    /// Deflate packs at most 258 bytes into 2 bits of a block, about 1032 to 1; a segment that
    /// claims more text than this times its bytes (plus a stream's fixed overhead) is refused
    /// before any memory is set aside for it.
    static let mostInflation = 1032
    /// Bit 31 of a segment's `part`: its last repository goes on in the next segment.
    static let goesOn: UInt32 = 1 << 31

    /// Why a snapshot could not be read.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Encodes `state`, which covers the log through `sequence`, at zlib `level`, in segments of
    /// about `segmentSize` bytes of text, cut where the repositories begin and end.
    public static func encode(
        _ state: RegistryState, sequence: UInt64, level: Int32 = 1, segmentSize: Int = segmentSize
    ) throws -> [UInt8] {
        try encode(state, sequence: sequence, level: level, segmentSize: segmentSize, reusing: nil).bytes
    }

    /// A snapshot, how it is laid out, and how many of its units were copied from the last one.
    public struct Encoded: Sendable {
        public var bytes: [UInt8]
        public var layout: SnapshotLayout
        public var unitsReused: Int
        public var unitsWritten: Int
    }

    /// Encodes `state` as ``encode(_:sequence:level:segmentSize:)`` does, copying from the snapshot
    /// `reusing` (its layout and its file's bytes) every unit whose repositories no command has
    /// written into since (``Repository/identity``), whose place in its scope is
    /// the same (first or not) and whose streams still match their checksums: a snapshot costs
    /// what changed, not the whole state. The text is the same either way; only where it is cut
    /// into segments depends on the snapshots before.
    public static func encode(
        _ state: RegistryState, sequence: UInt64, level: Int32 = 1, segmentSize: Int = segmentSize,
        reusing previous: (layout: SnapshotLayout, bytes: [UInt8])?
    ) throws -> Encoded {
        var segments: [(rawLength: Int, stream: ArraySlice<UInt8>, crc: UInt32, part: UInt32)] = []
        var units: [(scope: Scope, first: Bool, repositories: [SnapshotLayout.Held], segments: Range<Int>)] = []
        var (reused, written) = (0, 0)
        var deflater = Zlib.Deflater(level: level)
        var (part, parts): (UInt32, UInt32) = (0, 0)
        var scope: Scope?
        // The unit being written: its repositories, whether it is its scope's first, its first segment.
        var (unitRepositories, unitFirst, unitStart): ([SnapshotLayout.Held], Bool, Int) = ([], false, 0)
        func cut(goingOn: Bool) {
            if deflater.consumed > 0 {
                let stream = deflater.finish()
                segments.append(
                    (
                        deflater.consumed, ArraySlice(stream), stream.withUnsafeBytes { Zlib.crc32($0) },
                        goingOn ? part | goesOn : part
                    ))
                deflater = Zlib.Deflater(level: level)
            }
            guard !goingOn else { return }
            if let scope, !unitRepositories.isEmpty {
                units.append((scope, unitFirst, unitRepositories, unitStart..<segments.count))
                written += 1
            }
            unitRepositories = []
            unitStart = segments.count
        }
        /// The previous snapshot's unit that starts at `keys[index]`, when it can be copied.
        func reusable(
            _ index: Int, _ keys: [RepositoryName], _ repositories: TreeDictionary<RepositoryName, Repository>
        )
            -> SnapshotLayout.Unit?
        {
            guard let previous, let scope, let found = previous.layout.starting[scope]?[keys[index]] else { return nil }
            let unit = previous.layout.units[found]
            guard unit.first == (index == 0), keys.count - index >= unit.repositories.count else { return nil }
            for (offset, old) in unit.repositories.enumerated() {
                guard keys[index + offset] == old.name, repositories[keys[index + offset]]!.identity == old.identity
                else { return nil }
            }
            for piece in unit.segments {
                guard piece.stream.upperBound <= previous.bytes.count,
                    previous.bytes[piece.stream].withUnsafeBytes({ Zlib.crc32($0) }) == piece.crc
                else { return nil }
            }
            return unit
        }
        var writer = StateWriter(
            sink: { piece in
                // Between marks: in the frame anywhere, among repositories inside one.
                if deflater.consumed >= segmentSize { cut(goingOn: part != 0) }
                deflater.append(piece)
            },
            marks: { mark in
                switch mark {
                case .repositoriesOpen(let opened):
                    cut(goingOn: false)
                    parts += 1
                    part = parts
                    scope = opened
                case .repository(let index, let keys, let repositories):
                    if let unit = reusable(index, keys, repositories) {
                        cut(goingOn: false)
                        for piece in unit.segments {
                            segments.append(
                                (
                                    piece.rawLength, previous!.bytes[piece.stream], piece.crc,
                                    piece.goesOn ? part | goesOn : part
                                ))
                        }
                        units.append((scope!, unit.first, unit.repositories, unitStart..<segments.count))
                        unitStart = segments.count
                        reused += 1
                        return unit.repositories.count
                    }
                    if unitRepositories.isEmpty { unitFirst = index == 0 }
                    unitRepositories.append(.init(name: keys[index], identity: repositories[keys[index]]!.identity))
                case .repositoryEnd:
                    if deflater.consumed >= segmentSize { cut(goingOn: false) }
                case .repositoriesClose:
                    cut(goingOn: false)
                    part = 0
                    scope = nil
                }
                return 0
            }, chunk: min(1 << 20, max(1, segmentSize)))
        try writer.write(state)
        cut(goingOn: false)
        var table: [UInt8] = []
        LittleEndian.append(UInt32(segments.count), to: &table)
        for segment in segments {
            LittleEndian.append(UInt64(segment.rawLength), to: &table)
            LittleEndian.append(UInt64(segment.stream.count), to: &table)
            LittleEndian.append(segment.crc, to: &table)
            LittleEndian.append(segment.part, to: &table)
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
        var pieces: [SnapshotLayout.Piece] = []
        for segment in segments {
            pieces.append(
                SnapshotLayout.Piece(
                    stream: bytes.count..<bytes.count + segment.stream.count, rawLength: segment.rawLength,
                    crc: segment.crc, goesOn: segment.part & goesOn != 0))
            bytes += segment.stream
        }
        let layout = SnapshotLayout(
            sequence: sequence,
            units: units.map {
                SnapshotLayout.Unit(
                    scope: $0.scope, first: $0.first, repositories: $0.repositories,
                    segments: Array(pieces[$0.segments]))
            })
        return Encoded(bytes: bytes, layout: layout, unitsReused: reused, unitsWritten: written)
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
        /// 0: the frame; n: repositories of the text's n-th repositories object (always 0 before v3).
        public var part: UInt32 = 0
        /// Whether its last repository goes on in the next segment.
        public var goesOn = false
    }

    /// Reads and checks the header and, from version 2, the segment table. The segments' own
    /// checksums are checked as they are inflated (on every core).
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
        case 2, 3:
            segments = try table(bytes, rawLength: rawLength, parts: version == 3)
        default:
            throw Failure(description: "snapshot format version \(version); this Stowage reads versions 1 to 3")
        }
        return Header(version: version, sequence: sequence, rawLength: rawLength, segments: segments)
    }

    /// The segments of a version 2 or 3 file, each checked to lie in the file and the text, and
    /// (with `parts`) their parts to come in order.
    private static func table(_ bytes: [UInt8], rawLength: UInt64, parts: Bool) throws(Failure) -> [Segment] {
        let entrySize = parts ? tableEntrySize : 20
        guard bytes.count >= headerSize + 4 else { throw Failure(description: "the segment table is missing") }
        let count = Int(LittleEndian.read(UInt32.self, bytes, headerSize))
        guard count >= 1, count <= (bytes.count - headerSize - 4) / entrySize else {
            throw Failure(description: "the segment table claims \(count) segments, which the file cannot hold")
        }
        let tableEnd = headerSize + 4 + count * entrySize
        guard
            bytes[headerSize..<tableEnd].withUnsafeBytes({ Zlib.crc32($0) })
                == LittleEndian.read(UInt32.self, bytes, 32)
        else { throw Failure(description: "segment table checksum mismatch") }
        var segments: [Segment] = []
        var (stream, text) = (tableEnd, 0)
        for index in 0..<count {
            let entry = headerSize + 4 + index * entrySize
            var segment = try segment(
                stream: stream, count: LittleEndian.read(UInt64.self, bytes, entry + 8), text: text,
                length: LittleEndian.read(UInt64.self, bytes, entry),
                crc: LittleEndian.read(UInt32.self, bytes, entry + 16),
                "segment \(index)", fileLength: bytes.count)
            if parts {
                let part = LittleEndian.read(UInt32.self, bytes, entry + 20)
                (segment.part, segment.goesOn) = (part & ~goesOn, part & goesOn != 0)
            }
            segments.append(segment)
            (stream, text) = (segment.stream.upperBound, segment.text.upperBound)
        }
        guard stream == bytes.count else {
            throw Failure(description: "the segments end at byte \(stream) of a file of \(bytes.count) bytes")
        }
        guard UInt64(text) == rawLength else {
            throw Failure(description: "the segments hold \(text) bytes of text, not the \(rawLength) the header says")
        }
        if parts { try checkParts(segments) }
        return segments
    }

    /// The text begins and ends in the frame; each part is one run of segments, parts numbered
    /// in increasing order from 1 (a part is its scope's place among all scopes, so one whose
    /// repositories are all gone leaves its number out); only a repository's segment goes on,
    /// and into its own part.
    private static func checkParts(_ segments: [Segment]) throws(Failure) {
        var parts: UInt32 = 0
        for (index, segment) in segments.enumerated() {
            let previous = index > 0 ? segments[index - 1] : nil
            let next = index + 1 < segments.count ? segments[index + 1] : nil
            let inOrder =
                switch segment.part {
                case 0: !segment.goesOn
                default:
                    previous != nil && next != nil
                        && (previous!.part == segment.part || (previous!.part == 0 && segment.part > parts))
                        && (!segment.goesOn || next!.part == segment.part)
                }
            guard inOrder else {
                throw Failure(description: "segment \(index): part \(segment.part) out of order in the table")
            }
            parts = max(parts, segment.part)
        }
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

    /// The snapshot's whole text, every segment checked and inflated, on every core when there
    /// are several.
    public static func text(_ bytes: [UInt8]) throws(Failure) -> [UInt8] {
        let header = try header(bytes)
        return try inflate(bytes, header, header.segments.indices, parallel: true)
    }

    /// Decodes a snapshot into the state and the last sequence it covers.
    public static func decode(_ bytes: [UInt8]) throws -> (sequence: UInt64, state: RegistryState) {
        let decoded = try decodeWithLayout(bytes)
        return (decoded.sequence, decoded.state)
    }

    /// Decodes a snapshot, with how it is laid out when it is of version 3 (the next snapshot
    /// can copy from it then: a restart's first snapshot costs what changed since, too).
    public static func decodeWithLayout(_ bytes: [UInt8]) throws
        -> (sequence: UInt64, state: RegistryState, layout: SnapshotLayout?)
    {
        let header = try header(bytes)
        guard header.version >= 3 else {
            let text = try inflate(bytes, header, header.segments.indices, parallel: true)
            return (header.sequence, try StateCodec.decodeState(text), nil)
        }
        let (state, layout) = try readInParts(bytes, header)
        return (header.sequence, state, layout)
    }

    /// Version 3: each unit of repositories inflated and read on a thread of its own, into a
    /// buffer the thread reuses; then the frame, with them.
    private static func readInParts(_ bytes: [UInt8], _ header: Header) throws -> (RegistryState, SnapshotLayout) {
        let segments = header.segments
        // A unit: a segment of repositories, with those its last repository goes on into.
        var units: [(part: Int, segments: Range<Int>, first: Bool)] = []
        for index in segments.indices where segments[index].part != 0 {
            let previous = segments[index - 1]
            if previous.part == segments[index].part && previous.goesOn {
                units[units.count - 1].segments = units[units.count - 1].segments.lowerBound..<index + 1
            } else {
                units.append((Int(segments[index].part), index..<index + 1, previous.part == 0))
            }
        }
        let lengths = units.map {
            segments[$0.segments.upperBound - 1].text.upperBound - segments[$0.segments.lowerBound].text.lowerBound
        }
        let total = lengths.reduce(0, +)
        let threads = total > StateReader.parallelThreshold ? Parallel.cores : 1
        typealias Read = [(RepositoryName, Repository)]
        let (runUnits, runs) = (units, Parallel.runs(lengths, threads: threads))
        let read = Parallel.perform(runs.count) { run -> Result<[Read], any Error> in
            // One buffer for the run, as large as its largest unit.
            let room = runs[run].map { lengths[$0] }.max() ?? 0
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, room))
            defer { buffer.deallocate() }
            return Result {
                try runs[run].map { unit in
                    let (_, range, first) = runUnits[unit]
                    let start = segments[range.lowerBound].text.lowerBound
                    for index in range {
                        let place = segments[index].text
                        try bytes.withUnsafeBufferPointer { file throws(Failure) in
                            try inflate(
                                file, segments[index], "segment \(index)",
                                into: UnsafeMutableBufferPointer(
                                    rebasing: buffer[(place.lowerBound - start)..<(place.upperBound - start)]))
                        }
                    }
                    return try StateReader.readRepositories(
                        UnsafeBufferPointer(rebasing: buffer[0..<lengths[unit]]), first: first)
                }
            }
        }
        let parts = Int(segments.map(\.part).max() ?? 0)
        var repositories = [TreeDictionary<RepositoryName, Repository>](repeating: [:], count: parts)
        var unit = 0
        var unitRepositories: [[SnapshotLayout.Held]] = []
        for run in read {
            for unitRead in try run.get() {
                for (name, repository) in unitRead { repositories[units[unit].part - 1][name] = repository }
                unitRepositories.append(unitRead.map { .init(name: $0.0, identity: $0.1.identity) })
                unit += 1
            }
        }
        let frame = try inflate(bytes, header, segments.indices.filter { segments[$0].part == 0 }, parallel: false)
        let state = try StateReader.read(frame: frame, repositories: repositories)
        // Part n holds the repositories of the n-th scope, in the order the writer takes them.
        var scopes = Array(state.scopes.keys)
        scopes.sort()
        let layout = SnapshotLayout(
            sequence: header.sequence,
            units: zip(units, unitRepositories).map { unit, repositories in
                SnapshotLayout.Unit(
                    scope: scopes[unit.part - 1], first: unit.first, repositories: repositories,
                    segments: unit.segments.map { index in
                        SnapshotLayout.Piece(
                            stream: segments[index].stream, rawLength: segments[index].text.count,
                            crc: segments[index].crc, goesOn: segments[index].goesOn)
                    })
            })
        return (state, layout)
    }

    /// The text of the segments `chosen`, one after another, each checked and inflated (on every
    /// core when `parallel` and there are several).
    private static func inflate(
        _ bytes: [UInt8], _ header: Header, _ chosen: some Collection<Int>, parallel: Bool
    ) throws(Failure) -> [UInt8] {
        let segments = header.segments
        let chosen = Array(chosen)
        var ends = 0
        let places = chosen.map { index in
            defer { ends += segments[index].text.count }
            return ends..<ends + segments[index].text.count
        }
        let length = ends
        var failures = [Failure?](repeating: nil, count: chosen.count)
        let text = [UInt8](unsafeUninitializedCapacity: length) { text, initialized in
            bytes.withUnsafeBufferPointer { file in
                failures.withUnsafeMutableBufferPointer { failures in
                    // Each segment writes only its own part of `text` and its own slot of `failures`,
                    // and `concurrentPerform` returns when every segment is done.
                    nonisolated(unsafe) let (file, text, failures) = (file, text, failures)
                    @Sendable func inflate(_ n: Int) {
                        let what = header.version == 1 ? "the payload" : "segment \(chosen[n])"
                        do throws(Failure) {
                            try Self.inflate(
                                file, segments[chosen[n]], what,
                                into: UnsafeMutableBufferPointer(rebasing: text[places[n]]))
                        } catch {
                            failures[n] = error
                        }
                    }
                    if chosen.count == 1 || !parallel {
                        for n in chosen.indices { inflate(n) }
                    } else {
                        DispatchQueue.concurrentPerform(iterations: chosen.count, execute: inflate)
                    }
                }
            }
            initialized = failures.allSatisfy { $0 == nil } ? length : 0
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        return text
    }

    /// Checks `segment`'s stream in `file` and inflates it into `target`, which it must fill exactly.
    private static func inflate(
        _ file: UnsafeBufferPointer<UInt8>, _ segment: Segment, _ what: String,
        into target: UnsafeMutableBufferPointer<UInt8>
    ) throws(Failure) {
        let stream = UnsafeBufferPointer(rebasing: file[segment.stream])
        guard Zlib.crc32(UnsafeRawBufferPointer(stream)) == segment.crc else {
            throw Failure(description: "\(what): checksum mismatch")
        }
        do throws(Zlib.Failure) {
            // The checksum just read covers the stream's bytes: zlib's own of the text is not computed.
            try Zlib.inflate(stream, exactlyInto: target, checksum: false)
        } catch {
            throw Failure(description: "\(what): length mismatch or corrupt stream: \(error)")
        }
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

    /// A log record, by ``StateReader``: what ``decode(_:from:)`` reads, the common commands read by hand.
    public static func decodeRecord(_ bytes: some Collection<UInt8>) throws -> LogRecord {
        try StateReader.readRecord(bytes)
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

/// Where a snapshot's repositories lie in its file, unit by unit (a unit: the repositories
/// between two cuts, in one segment or a run of them), with the identity of each repository a
/// unit holds (``Repository/identity``, which keeps nothing of its contents alive): a repository
/// whose identity is unchanged is one no command wrote into since. What the next snapshot copies
/// instead of writing again.
public struct SnapshotLayout: Sendable {
    struct Held: Sendable {
        var name: RepositoryName
        var identity: Repository.Identity
    }

    struct Piece: Sendable {
        /// Its stream's place in the file.
        var stream: Range<Int>
        var rawLength: Int
        var crc: UInt32
        var goesOn: Bool
    }

    struct Unit: Sendable {
        var scope: Scope
        /// Whether it is its scope's first (its text has no comma before it).
        var first: Bool
        var repositories: [Held]
        var segments: [Piece]
    }

    /// The snapshot it describes.
    public let sequence: UInt64
    let units: [Unit]
    /// The unit each repository that begins one begins, by scope.
    let starting: [Scope: [RepositoryName: Int]]

    init(sequence: UInt64, units: [Unit]) {
        self.sequence = sequence
        self.units = units
        var starting: [Scope: [RepositoryName: Int]] = [:]
        for (index, unit) in units.enumerated() {
            if let name = unit.repositories.first?.name { starting[unit.scope, default: [:]][name] = index }
        }
        self.starting = starting
    }

    /// How many units it has.
    public var unitCount: Int { units.count }
}
