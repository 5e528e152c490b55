/// When appended records are made durable before a write is acknowledged.
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// fsync before acknowledging; concurrent writers share one fsync (group commit).
    case always
    /// Acknowledge at once; fsync in the background every few milliseconds.
    case batch
    /// Never fsync (the OS writes back when it likes). A process crash loses nothing; a power cut may.
    case never
}

/// Where the engine keeps its log, snapshots and content.
public enum StorageLocation: Sendable, Equatable {
    /// `wal/`, `snap/`, `blobs/` and `uploads/` under a directory.
    case directory(String)
    /// Everything in memory (`--ephemeral`).
    case memory
}

/// How the engine runs.
public struct EngineConfiguration: Sendable {
    public var location: StorageLocation
    public var fsync: FsyncPolicy
    /// Write a snapshot after this many log records.
    public var snapshotEvery: UInt64
    /// When set, snapshots are spaced further apart than `snapshotEvery` as they grow slower, so
    /// that each record carries at most this many seconds of snapshot time (the cost of a command
    /// stays flat as the registry grows). `nil`: exactly every `snapshotEvery` records.
    public var snapshotBudget: Double?
    /// How many snapshots to keep (at least 2); the log is kept since the oldest.
    public var snapshotsKept: Int
    /// zlib level for snapshots.
    public var compressionLevel: Int32
    /// Take `LOCK` in the data directory, so a second engine on it refuses to start. Off only in
    /// tests that open a directory again while the first engine still lives, as a restart would not.
    public var locksDirectory = true
    /// A recording to serve, read-only, in memory (`stowage serve --replay`): the engine starts
    /// from its base and its records, and refuses every write with ``StoreReadOnly``.
    public var replaying: Recording?

    /// Whether every write is refused (a replay).
    public var readOnly: Bool { replaying != nil }

    public init(
        location: StorageLocation, fsync: FsyncPolicy = .always, snapshotEvery: UInt64 = 10_000,
        snapshotBudget: Double? = nil, snapshotsKept: Int = 2, compressionLevel: Int32 = 1
    ) {
        self.location = location
        self.fsync = fsync
        self.snapshotEvery = snapshotEvery
        self.snapshotBudget = snapshotBudget
        self.snapshotsKept = max(2, snapshotsKept)
        self.compressionLevel = compressionLevel
    }
}
