import HashTreeCollections
import Logging
import StowageCore

/// Snapshots: every so many records (spaced by their cost), the state is written in the
/// background on a new log segment, copying from the last snapshot the repositories no command
/// has written into since; the newest snapshots and the log since the oldest are kept.
extension RegistryStore {
    /// A snapshot that was written.
    public struct SnapshotInfo: Sendable {
        public var sequence: UInt64
        public var bytes: Int
        /// How long encoding, compressing and writing it took.
        public var seconds: Double = 0
        /// Units of repositories copied from the snapshot before, and written.
        public var unitsCopied = 0
        public var unitsWritten = 0
    }

    func snapshotIfDue() {
        if recordsSinceSnapshot >= snapshotInterval && snapshotTask == nil { _ = startSnapshot() }
    }

    /// Records between snapshots: `snapshotEvery`, or with a `snapshotBudget` more when
    /// snapshots grow expensive, so that a snapshot's cost (it encodes what changed, and copies the rest) spread over
    /// the records since the last one stays within the budget however large the registry grows.
    /// Restart replays at most this many records, so it is capped.
    public var snapshotInterval: UInt64 {
        guard let budget = configuration.snapshotBudget, budget > 0 else { return configuration.snapshotEvery }
        let spread = UInt64(min(lastSnapshotSeconds / budget, Double(Self.snapshotSpacingLimit)))
        return max(configuration.snapshotEvery, spread)
    }

    /// Never more than this many records between snapshots.
    public static let snapshotSpacingLimit: UInt64 = 1_000_000

    /// Writes a snapshot of everything logged so far, now, and returns where it ends and its size.
    public func compact() async throws -> SnapshotInfo {
        if configuration.readOnly { throw StoreReadOnly() }
        while let running = snapshotTask { _ = try? await running.value }
        let info = try await startSnapshot().value
        // What it made unneeded is gone when it answers (the writer went on meanwhile).
        await pruning?.value
        return info
    }

    /// Starts a new log segment and writes the current state as a snapshot in the background,
    /// then keeps the newest snapshots and the log since the oldest of them. When it is done and
    /// enough records arrived meanwhile, the next snapshot starts at once: a slow snapshot never
    /// leaves the log uncompacted.
    private func startSnapshot() -> Task<SnapshotInfo, any Error> {
        let sequence = lastSequence
        let state = head
        recordsSinceSnapshot = 0
        // The new segment must start exactly after the snapshot's last record, before any other
        // append: segment names promise where their records begin.
        let rotation = Result { try log.startSegment(at: sequence + 1) }
        let task = Task<SnapshotInfo, any Error> {
            let result: Result<SnapshotInfo, any Error>
            do {
                try rotation.get()
                result = .success(try await self.writeSnapshot(state, sequence: sequence))
            } catch {
                result = .failure(error)
            }
            self.snapshotTask = nil
            if case .failure(let error) = result { self.logger.error("snapshot at \(sequence) failed: \(error)") }
            if case .success(let info) = result { self.lastSnapshotSeconds = info.seconds }
            if self.recordsSinceSnapshot >= self.snapshotInterval { _ = self.startSnapshot() }
            return try result.get()
        }
        snapshotTask = task
        return task
    }

    private func writeSnapshot(_ state: RegistryState, sequence: UInt64) async throws -> SnapshotInfo {
        // A snapshot past a checkpoint whose point is not stored would leave a restart no record
        // to rebuild it from.
        try await storeCheckpointPoints()
        let snapshots = self.snapshots
        let level = configuration.compressionLevel
        let (layout, replacements) = (snapshotLayout, stateReplacements)
        let started = ContinuousClock.now
        // On a thread of its own that yields to requests: pushes go on at their pace meanwhile.
        let (encoded, phases) = try await BackgroundThread.run {
            var clock = ContinuousClock.now
            func lap() -> Double {
                defer { clock = ContinuousClock.now }
                return (ContinuousClock.now - clock).seconds * 1000
            }
            // The last snapshot's file, to copy what did not change from (checked unit by unit:
            // a damaged or missing file only means more is written).
            let previous = layout.flatMap { layout in (try? snapshots.read(layout.sequence)).map { (layout, $0) } }
            let read = lap()
            let encoded = try SnapshotFormat.encode(state, sequence: sequence, level: level, reusing: previous)
            let encoding = lap()
            try snapshots.write(encoded.bytes, sequence: sequence)
            return (encoded, (read, encoding, lap()))
        }
        let elapsed = ContinuousClock.now - started
        if replacements == stateReplacements { snapshotLayout = encoded.layout }
        let size = encoded.bytes.count
        let pruning = ContinuousClock.now
        pruneSnapshots()
        logger.debug(
            "snapshot at \(sequence): \(size) bytes, \(encoded.unitsReused) units of repositories copied from the last, \(encoded.unitsWritten) written; ms reading the last \(Int(phases.0)), encoding \(Int(phases.1)), writing \(Int(phases.2)), pruning \(Int((ContinuousClock.now - pruning).seconds * 1000))"
        )
        return SnapshotInfo(
            sequence: sequence, bytes: size, seconds: elapsed.seconds, unitsCopied: encoded.unitsReused,
            unitsWritten: encoded.unitsWritten)
    }

    /// After a reset or a restore: the next snapshot writes everything.
    func forgetSnapshotLayout() {
        stateReplacements += 1
        snapshotLayout = nil
    }

    /// Decides which snapshots, log segments and points are no longer needed, and deletes their
    /// files off the writer (unlinking a large file and syncing a directory took the writer 10-30
    /// ms at a million images): what they held is in the snapshots kept, so a crash before they
    /// are gone only leaves them for the next time.
    private func pruneSnapshots() {
        let kept = snapshots.sequences()
        guard kept.count >= configuration.snapshotsKept else { return }
        let oldSnapshots = Array(kept.dropFirst(configuration.snapshotsKept))
        let oldest = kept[configuration.snapshotsKept - 1]
        let removeSegments = log.removeSegments(through: oldest)
        // Points are needed by replay only while the log still holds their record, and by
        // checkpoints while they exist.
        let checkpointed = Set(head.checkpoints.values.map(\.sequence))
        let oldPoints = points.sequences().filter { $0 <= oldest && !checkpointed.contains($0) }
        for sequence in oldPoints { pointCache[sequence] = nil }
        let (snapshots, points, logger, before) = (self.snapshots, self.points, self.logger, pruning)
        pruning = Task.detached {
            await before?.value
            for sequence in oldSnapshots { snapshots.remove(sequence) }
            for sequence in oldPoints { points.remove(sequence) }
            do { try removeSegments() } catch { logger.warning("removing log segments through \(oldest): \(error)") }
        }
    }

    /// Starts writing a checkpoint's point (held in ``pointCache``) to its file, after those
    /// before it, off the writer.
    func storePointInBackground(_ sequence: UInt64) {
        unstoredPoints.insert(sequence)
        if pointWriter == nil { pointWriter = Task { try await self.writeUnstoredPoints() } }
    }

    /// Returns once every checkpoint's point is in its file; throws when one cannot be written.
    func storeCheckpointPoints() async throws {
        while true {
            if let running = pointWriter {
                _ = try? await running.value
            } else if unstoredPoints.isEmpty {
                return
            } else {
                let task = Task { try await self.writeUnstoredPoints() }
                pointWriter = task
                try await task.value
            }
        }
    }

    /// The one writer of points in the background: oldest first, until none is left.
    private func writeUnstoredPoints() async throws {
        defer { pointWriter = nil }
        let points = self.points
        let level = configuration.compressionLevel
        let inMemory = configuration.location == .memory
        while let sequence = unstoredPoints.min() {
            // In memory, the cache is the store.
            if let state = pointCache[sequence], !inMemory {
                do {
                    try await BackgroundThread.run {
                        try points.write(
                            try SnapshotFormat.encode(state, sequence: sequence, level: level), sequence: sequence)
                    }
                } catch {
                    logger.error(
                        "cannot store the state of checkpoint record \(sequence) yet (it is kept in memory, and tried again before the next snapshot): \(error)"
                    )
                    throw error
                }
            }
            unstoredPoints.remove(sequence)
        }
    }

    /// Log size, first retained sequence and the snapshots held, for statistics.
    public func storageFacts() -> (logBytes: Int64, firstSequence: UInt64, snapshots: [UInt64]) {
        (log.byteCount, log.firstSequence, snapshots.sequences())
    }

    /// At a clean stop: a snapshot of whatever was logged since the last one, so the next start
    /// reads it instead of replaying those records (it copies what did not change, so it costs
    /// what did). Nothing is lost if it is cut short: the log is synced before, and a
    /// half-written snapshot file is removed at the next start. Returns it, or nil if none was due.
    public func snapshotAtStop() async -> SnapshotInfo? {
        await quiesce()
        guard !configuration.readOnly, configuration.location != .memory, recordsSinceSnapshot > 0 else { return nil }
        do { return try await compact() } catch {
            logger.warning("no snapshot at the stop: \(error)")
            return nil
        }
    }

    /// Waits for background work (a snapshot, checkpoints' points, pruning) to finish; for
    /// shutdown and tests.
    public func quiesce() async {
        while let running = snapshotTask { _ = try? await running.value }
        try? await storeCheckpointPoints()
        await pruning?.value
        if configuration.fsync != .never { try? log.syncTarget().sync() }
    }
}
