import CLinux
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Why the log cannot be opened. Every message names the file and what to do next.
public struct LogError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The event log on disk: segment files `wal/%016x.wal` (see ``RecordFraming``).
public final class FileEventLog: EventLog {
    public let directory: String
    private var segments: [(first: UInt64, path: String)]
    private var current: Descriptor
    /// Where the current segment's records end: the next append goes here.
    private var currentSize: Int64
    /// The current segment's size on disk: its records, then zeros written ahead of them.
    private var reservedSize: Int64
    private var removedBytes: Int64 = 0
    private var heldBytes: Int64

    /// Opens the log in `directory`, creating it when absent, and repairs a torn tail.
    ///
    /// Segments that can only hold records up to `after` (covered by a snapshot) are not read.
    /// A torn tail of the last segment is copied to `<segment>.broken` and cut off. Any other
    /// damage throws a ``LogError`` that says which file and offset are bad and how to proceed.
    public init(directory: String, after: UInt64 = 0, logger: Logger? = nil) throws {
        self.directory = directory
        try POSIX.makeDirectories(directory, durable: true)
        var segments: [(first: UInt64, path: String)] = []
        for name in POSIX.list(directory) where name.hasSuffix(".wal") {
            guard let first = UInt64(name.dropLast(4), radix: 16) else { continue }
            segments.append((first, directory + "/" + name))
        }
        if segments.isEmpty {
            let path = directory + "/" + Self.segmentName(1)
            let fd = try POSIX.open(path, O_RDWR | O_CREAT | O_TRUNC)
            POSIX.close(fd)
            try POSIX.fsyncDirectory(directory)
            segments.append((1, path))
        }
        self.segments = segments
        let last = segments[segments.count - 1]
        // Check the last segment: the only place a crash can leave damage.
        let bytes = try POSIX.readFile(last.path)
        let scan = RecordFraming.scan(bytes)
        if let damage = scan.damage {
            guard damage.isTornTail else {
                throw Self.damageError(path: last.path, damage: damage, isLast: true)
            }
            try POSIX.writeFileAtomically(last.path + ".broken", bytes)
            let fd = try POSIX.open(last.path, O_RDWR)
            defer { POSIX.close(fd) }
            try POSIX.truncate(fd, to: Int64(scan.validEnd), path: last.path)
            try POSIX.fsync(fd, path: last.path)
            logger?.warning(
                "repaired the log's torn tail: \(damage) in \(last.path); cut \(bytes.count - scan.validEnd) bytes, kept a copy in \(last.path).broken"
            )
        }
        current = Descriptor(try POSIX.open(last.path, O_RDWR), path: last.path)
        currentSize = Int64(scan.validEnd)
        reservedSize = scan.damage == nil ? Int64(bytes.count) : currentSize
        heldBytes = segments.dropLast().reduce(Int64(scan.validEnd)) { $0 + (POSIX.fileSize($1.path) ?? 0) }
    }

    static func segmentName(_ first: UInt64) -> String {
        let hex = String(first, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".wal"
    }

    static func damageError(path: String, damage: RecordFraming.Damage, isLast: Bool) -> LogError {
        let why =
            isLast
            ? "valid records follow it, so it is not the torn tail a crash leaves"
            : "it is not the last segment, so a crash cannot explain it"
        return LogError(
            description: """
                the event log is damaged: \(path): \(damage); \(why).
                Stowage will not start on a damaged log, so that nothing acknowledged is silently lost.
                To keep everything before the damage: stop Stowage, back up the data directory, then run
                  truncate -s \(damage.offset) '\(path)'
                and remove the segments after it; or restore the data directory from a backup, or start with an empty one.
                """)
    }

    public func append(framed bytes: [UInt8], lastSequence: UInt64) throws {
        do {
            let end = currentSize + Int64(bytes.count)
            if end > reservedSize { try reserve(through: end) }
            try bytes.withUnsafeBytes { (buffer) throws in
                try POSIX.pwriteAll(current.fd, buffer, at: currentSize, path: current.path)
            }
        } catch {
            // Never leave a partial frame behind a later append.
            try? POSIX.truncate(current.fd, to: currentSize, path: current.path)
            reservedSize = currentSize
            throw error
        }
        currentSize += Int64(bytes.count)
        heldBytes += Int64(bytes.count)
    }

    /// Writes zeros ahead of the records, from `end` on: an fsync of records written over blocks
    /// the file already has (its size unchanged) writes their pages and nothing else, where an
    /// fsync of an append also writes the file's inode, synchronously (ext4), which measured
    /// 0.20–0.23 ms per fsync against 0.12–0.15 here. The zeros are made durable by the next
    /// sync with the records, and their writeback is started at once, so that sync does not
    /// carry them all; a scan takes zeros to the end of the segment for the end of its records.
    /// As much ahead as the segment holds already, from 64 KiB to 256 KiB at a time (a sync that
    /// carries zeros with its record writes at most that much more).
    private func reserve(through end: Int64) throws {
        let ahead = min(max(currentSize, Self.smallestReservation), Self.largestReservation)
        let target = end + ahead
        // From the record's end: where it goes, it writes itself (a large one would go twice).
        var offset = end
        while offset < target {
            let count = Int(min(target - offset, Int64(Self.zeros.count)))
            try Self.zeros.withUnsafeBytes { (buffer) throws in
                try POSIX.pwriteAll(
                    current.fd, UnsafeRawBufferPointer(rebasing: buffer[..<count]), at: offset, path: current.path)
            }
            offset += Int64(count)
        }
        #if os(Linux)
            // A hint only: the sync after is what makes them durable.
            _ = CLinux.sync_file_range(
                current.fd, Int(end), Int(target - end), UInt32(STOWAGE_SYNC_FILE_RANGE_WRITE))
        #endif
        reservedSize = target
    }

    /// What the zeros are written from: one buffer for every log, never allocated again.
    private static let zeros = [UInt8](repeating: 0, count: Int(smallestReservation))

    static let smallestReservation: Int64 = 64 << 10
    static let largestReservation: Int64 = 256 << 10

    public func syncTarget() -> any LogSyncTarget { FileSync(descriptor: current) }

    public var persists: Bool { true }

    public func startSegment(at sequence: UInt64) throws {
        guard currentSize > 0 else { return }
        // A segment that is done holds its records and nothing after them.
        if reservedSize > currentSize { try POSIX.truncate(current.fd, to: currentSize, path: current.path) }
        try POSIX.fsync(current.fd, path: current.path)
        let path = directory + "/" + Self.segmentName(sequence)
        let fd = try POSIX.open(path, O_RDWR | O_CREAT | O_TRUNC)
        try POSIX.fsyncDirectory(directory)
        current = Descriptor(fd, path: path)
        currentSize = 0
        reservedSize = 0
        segments.append((sequence, path))
    }

    public func payloads(after sequence: UInt64) throws -> [ArraySlice<UInt8>] {
        var payloads: [ArraySlice<UInt8>] = []
        for i in segments.indices where i + 1 == segments.count || segments[i + 1].first > sequence + 1 {
            let path = segments[i].path
            let scan = RecordFraming.scan(try POSIX.readFile(path))
            if let damage = scan.damage, i + 1 < segments.count || !damage.isTornTail {
                throw Self.damageError(path: path, damage: damage, isLast: i + 1 == segments.count)
            }
            payloads += scan.frames.map(\.payload)
        }
        return payloads
    }

    public func removeSegments(through sequence: UInt64) -> @Sendable () throws -> Void {
        var removed: [String] = []
        while segments.count > 1 && segments[1].first <= sequence + 1 {
            heldBytes -= POSIX.fileSize(segments[0].path) ?? 0
            removed.append(segments[0].path)
            segments.removeFirst()
        }
        guard !removed.isEmpty else { return {} }
        let (directory, paths) = (self.directory, removed)
        return {
            for path in paths { POSIX.unlink(path) }
            try POSIX.fsyncDirectory(directory)
        }
    }

    public var byteCount: Int64 { heldBytes }
    public var firstSequence: UInt64 { segments[0].first }

    /// The segment files, oldest first (for inspection and tests).
    public var segmentPaths: [String] { segments.map(\.path) }
}

/// An open file descriptor, closed when the last holder lets go (so an fsync in flight on
/// another thread never races a rotation that closes the segment).
final class Descriptor: Sendable {
    let fd: Int32
    let path: String

    init(_ fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { POSIX.close(fd) }
}

struct FileSync: LogSyncTarget {
    let descriptor: Descriptor

    /// The records' bytes and the segment's size (which changes only when zeros are written
    /// ahead): no inode write for its times.
    func sync() throws {
        try POSIX.fdatasync(descriptor.fd, path: descriptor.path)
    }
}
