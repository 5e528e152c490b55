import Synchronization

/// Where snapshot files are kept, by the sequence number they cover.
public protocol SnapshotStore: Sendable {
    /// Stores a snapshot durably and atomically.
    func write(_ bytes: [UInt8], sequence: UInt64) throws
    /// The sequence numbers of the stored snapshots, newest first.
    func sequences() -> [UInt64]
    func read(_ sequence: UInt64) throws -> [UInt8]
    /// Sets a snapshot that failed to read aside, so it is never tried again but kept for a person to look at.
    func setAside(_ sequence: UInt64)
    func remove(_ sequence: UInt64)
}

/// Snapshots as files `snap/%016x.snap`.
public struct FileSnapshotStore: SnapshotStore {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        try POSIX.makeDirectories(directory, durable: true)
    }

    func path(_ sequence: UInt64) -> String {
        let hex = String(sequence, radix: 16)
        return directory + "/" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".snap"
    }

    public func write(_ bytes: [UInt8], sequence: UInt64) throws {
        try POSIX.writeFileAtomically(path(sequence), bytes)
    }

    public func sequences() -> [UInt64] {
        POSIX.list(directory).filter { $0.hasSuffix(".snap") }.compactMap { UInt64($0.dropLast(5), radix: 16) }
            .sorted(by: >)
    }

    public func read(_ sequence: UInt64) throws -> [UInt8] { try POSIX.readFile(path(sequence)) }

    public func setAside(_ sequence: UInt64) { try? POSIX.rename(path(sequence), path(sequence) + ".broken") }

    public func remove(_ sequence: UInt64) { POSIX.unlink(path(sequence)) }

    /// Removes the temporary files of snapshots a crash (or a stop cut short) left half-written:
    /// only for the one server that holds the directory's lock, whose own writes are not begun.
    func removeUnfinished() -> Int {
        let unfinished = POSIX.list(directory).filter { $0.contains(".snap.tmp-") }
        for name in unfinished { POSIX.unlink(directory + "/" + name) }
        return unfinished.count
    }
}

/// Snapshots in memory, for `--ephemeral`.
public final class InMemorySnapshotStore: SnapshotStore {
    private let files = Mutex<[UInt64: [UInt8]]>([:])

    public init() {}

    public func write(_ bytes: [UInt8], sequence: UInt64) throws { files.withLock { $0[sequence] = bytes } }
    public func sequences() -> [UInt64] { files.withLock { $0.keys.sorted(by: >) } }
    public func read(_ sequence: UInt64) throws -> [UInt8] {
        guard let bytes = files.withLock({ $0[sequence] }) else {
            throw SnapshotFormat.Failure(description: "no snapshot \(sequence)")
        }
        return bytes
    }
    public func setAside(_ sequence: UInt64) { remove(sequence) }
    public func remove(_ sequence: UInt64) { _ = files.withLock { $0.removeValue(forKey: sequence) } }
}
