import Dispatch
import HashTreeCollections
public import Logging
public import StowageCore
import Synchronization

/// The engine's storage failed; writes are refused until a restart, reads still work.
public struct StoreUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// What a recovery found and did, for the start-up log and `/_admin/stats`.
public struct RecoveryReport: Sendable {
    /// The sequence number of the snapshot recovery started from (0: none).
    public var snapshotSequence: UInt64 = 0
    /// Snapshots that failed to load and were set aside, with the reason.
    public var snapshotsSetAside: [String] = []
    /// Log records replayed after the snapshot.
    public var replayed = 0
    /// Spool files cut back to their logged length, or removed as unknown.
    public var spoolsRepaired = 0
}

/// The single writer of the registry: stamps each command with its sequence number and time,
/// checks it against the current state, appends it to the log, makes it durable per policy,
/// applies it, and only then returns, so the caller can acknowledge.
///
/// Readers never wait for writers: ``state`` is an immutable value behind a lock, replaced
/// once a write is durable, so a reader never sees what a crash could take back.
public actor RegistryStore {
    public nonisolated let content: any ContentStore
    public nonisolated let configuration: EngineConfiguration
    public nonisolated let clock: any RegistryClock
    public nonisolated let recovery: RecoveryReport
    private let log: any EventLog
    private let snapshots: any SnapshotStore
    /// Stored states by the sequence number they are the state after: one per checkpoint and
    /// one per restore, so rewinds and imports replay exactly.
    private let points: any SnapshotStore
    private var pointCache: [UInt64: RegistryState] = [:]
    private var subscribers: [Int: AsyncStream<LogRecord>.Continuation] = [:]
    /// Records appended but not yet published, held back from subscribers to keep log order
    /// and never show what a crash could take back.
    private var unstreamed: [LogRecord] = []
    private var nextSubscriber = 0
    private let logger: Logger

    /// Every applied record, including those not yet durable.
    private var head: RegistryState
    /// The sequence number of the last record appended (applied or refused).
    private var lastSequence: UInt64
    private nonisolated let published: Mutex<Published>
    private var failure: StoreUnavailable?

    private var durableSequence: UInt64
    private var syncing = false
    private var batchSyncScheduled = false
    private var durabilityWaiters: [(sequence: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private nonisolated let syncQueue = DispatchQueue(label: "stowage.fsync")

    private var recordsSinceSnapshot: UInt64 = 0
    /// How long the last snapshot took to encode and write, which sets the spacing of the next.
    private var lastSnapshotSeconds = 0.0
    private var snapshotTask: Task<SnapshotInfo, any Error>?
    private var pinnedBlobs: [Digest: Int] = [:]
    /// Set when an applied command may have left a stored blob unreferenced.
    private var garbageMayExist = true

    struct Published: Sendable {
        var state: RegistryState
        var sequence: UInt64
    }

    /// A snapshot that was written.
    public struct SnapshotInfo: Sendable {
        public var sequence: UInt64
        public var bytes: Int
        /// How long encoding, compressing and writing it took.
        public var seconds: Double = 0
    }

    /// Opens (or creates) the registry and recovers its state: the newest snapshot that loads,
    /// then the log after it.
    public init(
        configuration: EngineConfiguration, clock: any RegistryClock = SystemClock(),
        logger: Logger = Logger(label: "stowage.engine")
    ) throws {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        var report = RecoveryReport()
        switch configuration.location {
        case .directory(let path):
            snapshots = try FileSnapshotStore(directory: path + "/snap")
            points = try FileSnapshotStore(directory: path + "/snap/points")
            content = try FileContentStore(directory: path, durable: configuration.fsync != .never)
        case .memory:
            snapshots = InMemorySnapshotStore()
            points = InMemorySnapshotStore()
            content = InMemoryContentStore()
        }
        // The newest snapshot that loads.
        var state = RegistryState()
        var base: UInt64 = 0
        var loadSeconds = 0.0
        for sequence in snapshots.sequences() {
            do {
                let started = ContinuousClock.now
                let decoded = try SnapshotFormat.decode(try snapshots.read(sequence))
                (base, state) = (decoded.sequence, decoded.state)
                // Until this process writes one, reading one is the measure of a snapshot's cost.
                let elapsed = ContinuousClock.now - started
                loadSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                break
            } catch {
                snapshots.setAside(sequence)
                report.snapshotsSetAside.append("snapshot \(sequence): \(error)")
                logger.warning(
                    "snapshot \(sequence) does not load (\(error)); set it aside as .broken, trying an older one")
            }
        }
        report.snapshotSequence = base
        switch configuration.location {
        case .directory(let path): log = try FileEventLog(directory: path + "/wal", after: base, logger: logger)
        case .memory: log = InMemoryEventLog()
        }
        guard log.firstSequence <= base + 1 else {
            throw LogError(
                description: """
                    the log starts at record \(log.firstSequence), but the newest snapshot that loads covers only \
                    records up to \(base): records \(base + 1)...\(log.firstSequence - 1) are gone.
                    Restore the data directory from a backup, or start with an empty one.
                    """)
        }
        // Replay the log after the snapshot. Restores read stored points; checkpoints store theirs
        // if a crash came before they were written.
        var cache: [UInt64: RegistryState] = [:]
        let storedPoints = Set(points.sequences())
        let points = self.points
        let resolve: (UInt64) -> RegistryState? = { sequence in
            if let state = cache[sequence] { return state }
            guard storedPoints.contains(sequence), let bytes = try? points.read(sequence) else { return nil }
            return try? SnapshotFormat.decode(bytes).state
        }
        var last = base
        for payload in try log.payloads(after: base) {
            let record: LogRecord
            do { record = try StateCodec.decode(LogRecord.self, from: payload) } catch {
                throw LogError(
                    description:
                        "a log record passed its checksum but does not decode (\(error)); the log was written by an incompatible Stowage"
                )
            }
            guard record.sequence > base else { continue }
            guard record.sequence == last + 1 else {
                throw LogError(
                    description:
                        "the log jumps from record \(last) to \(record.sequence); records are missing. Restore the data directory from a backup."
                )
            }
            last = record.sequence
            guard record.refusal == nil else { continue }
            do { try state.apply(record.envelope, points: resolve) } catch {
                throw LogError(
                    description:
                        "log record \(record.sequence) (\(record.envelope.command.kind)) was applied once but is refused on replay: \(error). The snapshot and the log disagree."
                )
            }
            report.replayed += 1
            if case .checkpoint = record.envelope.command {
                cache[record.sequence] = state
                if !storedPoints.contains(record.sequence) {
                    try points.write(
                        try SnapshotFormat.encode(state, sequence: record.sequence), sequence: record.sequence)
                }
            }
        }
        pointCache = cache
        head = state
        lastSequence = last
        durableSequence = last
        recordsSinceSnapshot = last - base
        lastSnapshotSeconds = loadSeconds
        published = Mutex(Published(state: state, sequence: last))
        // Spools: cut back to what the log acknowledged; remove those of no upload.
        let inFlight = Dictionary(state.uploadsInFlight.map { ($0.upload.id.rawValue, $0.upload) }) { a, _ in a }
        let spools = content.spoolIDs()
        for name in spools {
            if let upload = inFlight[name] {
                try content.truncateSpool(upload.id, to: upload.size)
            } else if let id = UploadID(name) {
                content.removeSpool(id)
            }
            report.spoolsRepaired += 1
        }
        for upload in inFlight.values where !spools.contains(upload.id.rawValue) {
            try content.createSpool(upload.id)
        }
        recovery = report
    }

    // MARK: Reading

    /// The registry as of the last durable write. O(1); never waits for a writer.
    public nonisolated var state: RegistryState { published.withLock { $0.state } }

    /// The sequence number of the last durable record.
    public nonisolated var sequence: UInt64 { published.withLock { $0.sequence } }

    // MARK: Writing

    /// Stamps, checks, logs, makes durable (per policy) and applies a command.
    ///
    /// - Returns: the envelope as logged.
    /// - Throws: ``RegistryError`` when the reducer refuses the command (the refusal is logged
    ///   too, and the state is unchanged); ``StoreUnavailable`` when storage failed.
    @discardableResult
    public func submit(_ command: Command, scope: Scope = .default) async throws -> Envelope {
        try await commit(command, scope: scope)
    }

    /// Submits commands in order with one wait for durability, after the last (one fsync where
    /// separate submits would take one each). Stops at the first refusal, which it throws once
    /// the commands before it are durable.
    public func submit(_ commands: [Command], scope: Scope = .default) async throws -> [Envelope] {
        var envelopes: [Envelope] = []
        do {
            for (index, command) in commands.enumerated() {
                envelopes.append(try await commit(command, scope: scope, durable: index == commands.count - 1))
            }
        } catch {
            if let last = envelopes.last, configuration.fsync == .always { try await waitUntilDurable(last.sequence) }
            throw error
        }
        return envelopes
    }

    /// The one write path: stamp, check (with the stored points a restore may name), store the
    /// point a checkpoint or restore makes, append, make durable, publish.
    private func commit(
        _ command: Command, scope: Scope, extraPoints: [UInt64: RegistryState] = [:], durable: Bool = true
    ) async throws -> Envelope {
        if let failure { throw failure }
        let envelope = Envelope(sequence: lastSequence + 1, time: clock.now(), scope: scope, command: command)
        var next = head
        do {
            try next.apply(envelope) { sequence in extraPoints[sequence] ?? self.point(sequence) }
        } catch {
            try append(LogRecord(envelope: envelope, refusal: error))
            // A refusal changes nothing: once everything before it is published, so is its place in the log.
            let visible = published.withLock { state in
                if state.sequence == envelope.sequence - 1 { state.sequence = envelope.sequence }
                return state.sequence
            }
            stream(through: visible)
            snapshotIfDue()
            throw error
        }
        var storesPoint = false
        switch command {
        case .checkpoint: storesPoint = true
        // A rewind to a checkpoint reuses the checkpoint's point; an import or a rewind to a sequence stores its own.
        case .restore(let point, _): storesPoint = point == envelope.sequence
        default: break
        }
        if storesPoint {
            // The exact state after this record, stored before the record is logged.
            do {
                try points.write(
                    try SnapshotFormat.encode(next, sequence: envelope.sequence, level: configuration.compressionLevel),
                    sequence: envelope.sequence)
            } catch {
                throw StoreUnavailable(description: "cannot store the state of record \(envelope.sequence): \(error)")
            }
            pointCache[envelope.sequence] = next
        }
        try append(LogRecord(envelope: envelope))
        head = next
        switch command {
        case .deleteBlobLink, .deleteRepository, .reset, .restore: garbageMayExist = true
        default: break
        }
        switch configuration.fsync {
        case .always:
            // Not durable yet: the caller's next command waits for both (published then too).
            if durable { try await waitUntilDurable(envelope.sequence) }
        case .batch:
            publish(next, through: envelope.sequence)
            scheduleBatchSync()
        case .never:
            publish(next, through: envelope.sequence)
        }
        switch command {
        case .reset, .restore, .deleteRepository: removeOrphanSpools()
        default: break
        }
        snapshotIfDue()
        return envelope
    }

    /// A stored point, from memory or from its file.
    private func point(_ sequence: UInt64) -> RegistryState? {
        if let state = pointCache[sequence] { return state }
        guard let bytes = try? points.read(sequence), let state = try? SnapshotFormat.decode(bytes).state else {
            return nil
        }
        pointCache[sequence] = state
        return state
    }

    /// Spools whose upload is no longer in flight (after a reset, restore or repository deletion).
    private func removeOrphanSpools() {
        let inFlight = Set(head.uploadsInFlight.map(\.upload.id.rawValue))
        for name in content.spoolIDs() where !inFlight.contains(name) && !name.hasPrefix("mono-") {
            if let id = UploadID(name) { content.removeSpool(id) }
        }
    }

    // MARK: History: rewind, import, the state at a point

    /// Where a rewind goes.
    public enum RewindTarget: Sendable, Equatable {
        case sequence(UInt64)
        case checkpoint(CheckpointName)
    }

    /// Why a rewind, an import or a look into the past cannot be done.
    public struct HistoryError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Makes the registry what it was after a record or at a checkpoint, as one logged command.
    /// A named checkpoint costs O(1): its state is kept.
    @discardableResult
    public func rewind(to target: RewindTarget) async throws -> Envelope {
        switch target {
        case .checkpoint(let name):
            guard let checkpoint = head.checkpoints[name] else {
                throw HistoryError(description: "there is no checkpoint named '\(name)'")
            }
            guard point(checkpoint.sequence) != nil else {
                throw HistoryError(description: "the state of checkpoint '\(name)' is not stored any more")
            }
            return try await commit(
                .restore(point: checkpoint.sequence, cause: .rewind(to: checkpoint.sequence, checkpoint: name)),
                scope: .default)
        case .sequence(let sequence):
            let target = try state(at: sequence)
            let missing = target.linkedBlobs.filter { content.blobSize($0) == nil }
            guard missing.isEmpty else {
                throw HistoryError(
                    description:
                        "the registry at record \(sequence) links \(missing.count) blob(s) that were collected since; rewind to a checkpoint (their blobs are kept) or to a later record"
                )
            }
            let own = lastSequence + 1
            return try await commit(
                .restore(point: own, cause: .rewind(to: sequence, checkpoint: nil)), scope: .default,
                extraPoints: [own: target])
        }
    }

    /// Replaces the registry with `state` (an import), as one logged command. The caller has
    /// stored every blob the state links.
    @discardableResult
    public func restore(imported state: RegistryState, bytes: Int64) async throws -> Envelope {
        let own = lastSequence + 1
        return try await commit(
            .restore(point: own, cause: .importFile(bytes: bytes)), scope: .default, extraPoints: [own: state])
    }

    /// The registry as it was right after record `sequence`: the nearest stored state at or
    /// before it (a snapshot or point), then the log up to it.
    public func state(at sequence: UInt64) throws -> RegistryState {
        guard sequence <= lastSequence else {
            throw HistoryError(description: "record \(sequence) has not happened yet; the log ends at \(lastSequence)")
        }
        if sequence == lastSequence { return head }
        var bases: [(UInt64, () throws -> RegistryState)] = []
        for s in Set(points.sequences()).union(pointCache.keys) where s <= sequence {
            bases.append(
                (
                    s,
                    {
                        guard let state = self.point(s) else {
                            throw HistoryError(description: "point \(s) is unreadable")
                        }; return state
                    }
                ))
        }
        for s in snapshots.sequences() where s <= sequence {
            bases.append((s, { try SnapshotFormat.decode(try self.snapshots.read(s)).state }))
        }
        if log.firstSequence == 1 { bases.append((0, { RegistryState() })) }
        for (base, load) in bases.sorted(by: { $0.0 > $1.0 }) {
            guard base >= log.firstSequence - 1, var state = try? load() else { continue }
            for record in try records(after: base) where record.sequence <= sequence && record.refusal == nil {
                try state.apply(record.envelope) { self.point($0) }
            }
            return state
        }
        throw HistoryError(
            description:
                "record \(sequence) is older than the history kept: the log now starts at record \(log.firstSequence); create a checkpoint to keep a state for longer"
        )
    }

    /// The sequence number of the last record at or before `time`; 0 when none is that old.
    public func sequence(at time: Timestamp) throws -> UInt64 {
        var found: UInt64 = 0
        for record in try records(after: 0) where record.envelope.time <= time { found = record.sequence }
        if found == 0 && log.firstSequence > 1 {
            throw HistoryError(description: "the log kept now starts at record \(log.firstSequence), after that time")
        }
        return found
    }

    // MARK: Following the log

    /// Every record appended from now on (refused ones at once, applied ones once durable).
    public func subscribe() -> AsyncStream<LogRecord> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: LogRecord.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = nextSubscriber
        nextSubscriber += 1
        subscribers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        return stream
    }

    private func unsubscribe(_ id: Int) { subscribers[id] = nil }

    private func snapshotIfDue() {
        if recordsSinceSnapshot >= snapshotInterval && snapshotTask == nil { _ = startSnapshot() }
    }

    /// Records between snapshots: `snapshotEvery`, or with a `snapshotBudget` more when
    /// snapshots grow expensive, so that a snapshot's cost (it encodes the whole state) spread over
    /// the records since the last one stays within the budget however large the registry grows.
    /// Restart replays at most this many records, so it is capped.
    public var snapshotInterval: UInt64 {
        guard let budget = configuration.snapshotBudget, budget > 0 else { return configuration.snapshotEvery }
        let spread = UInt64(min(lastSnapshotSeconds / budget, Double(Self.snapshotSpacingLimit)))
        return max(configuration.snapshotEvery, spread)
    }

    /// Never more than this many records between snapshots.
    public static let snapshotSpacingLimit: UInt64 = 1_000_000

    private func append(_ record: LogRecord) throws {
        let payload: [UInt8]
        do { payload = try StateCodec.encode(record) } catch {
            throw StoreUnavailable(description: "cannot encode a log record: \(error)")
        }
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + RecordFraming.headerSize)
        RecordFraming.appendFrame(payload, to: &frame)
        do {
            try log.append(framed: frame, lastSequence: record.sequence)
        } catch {
            let failure = StoreUnavailable(
                description: "writing the log failed (\(error)); writes are refused until Stowage restarts")
            self.failure = failure
            logger.error("\(failure)")
            throw failure
        }
        lastSequence = record.sequence
        recordsSinceSnapshot += 1
        if !subscribers.isEmpty { unstreamed.append(record) }
    }

    private func publish(_ state: RegistryState, through sequence: UInt64) {
        published.withLock { $0 = Published(state: state, sequence: sequence) }
        stream(through: sequence)
    }

    /// Hands subscribers the records up to `sequence`, in order.
    private func stream(through sequence: UInt64) {
        guard !unstreamed.isEmpty else { return }
        let ready = unstreamed.prefix { $0.sequence <= sequence }
        unstreamed.removeFirst(ready.count)
        for record in ready {
            for subscriber in subscribers.values { subscriber.yield(record) }
        }
    }

    // MARK: Durability (group commit)

    private func waitUntilDurable(_ sequence: UInt64) async throws {
        if durableSequence >= sequence { return }
        try await withCheckedThrowingContinuation { continuation in
            durabilityWaiters.append((sequence, continuation))
            if !syncing { startSync() }
        }
    }

    /// One fsync on the fsync thread covers every record appended so far; writers that arrive
    /// while it runs are covered by the next one.
    private func startSync() {
        syncing = true
        let target = lastSequence
        let state = head
        let handle = log.syncTarget()
        let queue = syncQueue
        Task {
            let result: Result<Void, any Error> = await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: Result { try handle.sync() }) }
            }
            self.finishSync(through: target, state: state, result: result)
        }
    }

    private func finishSync(through target: UInt64, state: RegistryState, result: Result<Void, any Error>) {
        syncing = false
        switch result {
        case .success:
            if target > durableSequence {
                durableSequence = target
                publish(state, through: target)
            }
            let ready = durabilityWaiters.filter { $0.sequence <= target }
            durabilityWaiters.removeAll { $0.sequence <= target }
            for waiter in ready { waiter.continuation.resume() }
        case .failure(let error):
            let failure = StoreUnavailable(
                description: "fsync of the log failed (\(error)); writes are refused until Stowage restarts")
            self.failure = failure
            logger.error("\(failure)")
            let waiting = durabilityWaiters
            durabilityWaiters.removeAll()
            for waiter in waiting { waiter.continuation.resume(throwing: failure) }
        }
        if !durabilityWaiters.isEmpty { startSync() }
    }

    private func scheduleBatchSync() {
        guard !batchSyncScheduled else { return }
        batchSyncScheduled = true
        let handle = log.syncTarget()
        let queue = syncQueue
        Task {
            try? await Task.sleep(for: .milliseconds(20))
            self.batchSyncScheduled = false
            queue.async { try? handle.sync() }
        }
    }

    // MARK: Snapshots

    /// Writes a snapshot of everything logged so far, now, and returns where it ends and its size.
    public func compact() async throws -> SnapshotInfo {
        while let running = snapshotTask { _ = try? await running.value }
        return try await startSnapshot().value
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
        let snapshots = self.snapshots
        let level = configuration.compressionLevel
        let started = ContinuousClock.now
        let size = try await Task.detached {
            let bytes = try SnapshotFormat.encode(state, sequence: sequence, level: level)
            try snapshots.write(bytes, sequence: sequence)
            return bytes.count
        }.value
        let elapsed = ContinuousClock.now - started
        try pruneSnapshots()
        return SnapshotInfo(
            sequence: sequence, bytes: size,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    private func pruneSnapshots() throws {
        let kept = snapshots.sequences()
        guard kept.count >= configuration.snapshotsKept else { return }
        for old in kept.dropFirst(configuration.snapshotsKept) { snapshots.remove(old) }
        let oldest = kept[configuration.snapshotsKept - 1]
        try log.removeSegments(through: oldest)
        // Points are needed by replay only while the log still holds their record, and by
        // checkpoints while they exist.
        let checkpointed = Set(head.checkpoints.values.map(\.sequence))
        for sequence in points.sequences() where sequence <= oldest && !checkpointed.contains(sequence) {
            points.remove(sequence)
            pointCache[sequence] = nil
        }
    }

    /// Log size, first retained sequence and the snapshots held, for statistics.
    public func storageFacts() -> (logBytes: Int64, firstSequence: UInt64, snapshots: [UInt64]) {
        (log.byteCount, log.firstSequence, snapshots.sequences())
    }

    /// The records after `sequence` still held by the log, oldest first, up to `limit`.
    public func records(after sequence: UInt64, limit: Int = .max) throws -> [LogRecord] {
        var records: [LogRecord] = []
        for payload in try log.payloads(after: sequence) {
            let record = try StateCodec.decode(LogRecord.self, from: payload)
            guard record.sequence > sequence else { continue }
            records.append(record)
            if records.count >= limit { break }
        }
        return records
    }

    // MARK: Blobs and garbage

    /// Keeps `digest` from garbage collection while a blob is being stored and logged.
    public func pin(_ digest: Digest) { pinnedBlobs[digest, default: 0] += 1 }

    public func unpin(_ digest: Digest) {
        pinnedBlobs[digest, default: 1] -= 1
        if pinnedBlobs[digest] == 0 { pinnedBlobs[digest] = nil }
    }

    /// Removes stored blobs that no repository links, no upload is committing, and no
    /// checkpoint can bring back. Returns how many were removed.
    @discardableResult
    public func collectGarbage() -> Int {
        garbageMayExist = false
        var keep = head.linkedBlobs
        keep.formUnion(pinnedBlobs.keys)
        // Blobs a rewind to a checkpoint would bring back.
        for checkpoint in head.checkpoints.values {
            if let state = point(checkpoint.sequence) { keep.formUnion(state.linkedBlobs) }
        }
        var removed = 0
        for digest in content.blobDigests() where !keep.contains(digest) {
            content.removeBlob(digest)
            removed += 1
        }
        return removed
    }

    /// Collects garbage if a command since the last collection may have left some (and at start-up).
    @discardableResult
    public func collectGarbageIfNeeded() -> Int {
        garbageMayExist ? collectGarbage() : 0
    }

    /// Waits for background work (a snapshot in progress) to finish; for shutdown and tests.
    public func quiesce() async {
        while let running = snapshotTask { _ = try? await running.value }
        if configuration.fsync != .never { try? log.syncTarget().sync() }
    }
}
