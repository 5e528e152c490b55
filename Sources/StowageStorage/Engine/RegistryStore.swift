import Dispatch
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
            content = try FileContentStore(directory: path)
        case .memory:
            snapshots = InMemorySnapshotStore()
            content = InMemoryContentStore()
        }
        // The newest snapshot that loads.
        var state = RegistryState()
        var base: UInt64 = 0
        for sequence in snapshots.sequences() {
            do {
                let decoded = try SnapshotFormat.decode(try snapshots.read(sequence))
                (base, state) = (decoded.sequence, decoded.state)
                break
            } catch {
                snapshots.setAside(sequence)
                report.snapshotsSetAside.append("snapshot \(sequence): \(error)")
                logger.warning("snapshot \(sequence) does not load (\(error)); set it aside as .broken, trying an older one")
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
        // Replay the log after the snapshot.
        var last = base
        for payload in try log.payloads(after: base) {
            let record: LogRecord
            do { record = try StateCodec.decode(LogRecord.self, from: payload) } catch {
                throw LogError(description: "a log record passed its checksum but does not decode (\(error)); the log was written by an incompatible Stowage")
            }
            guard record.sequence > base else { continue }
            guard record.sequence == last + 1 else {
                throw LogError(
                    description: "the log jumps from record \(last) to \(record.sequence); records are missing. Restore the data directory from a backup."
                )
            }
            last = record.sequence
            guard record.refusal == nil else { continue }
            do { try state.apply(record.envelope) } catch {
                throw LogError(
                    description: "log record \(record.sequence) (\(record.envelope.command.kind)) was applied once but is refused on replay: \(error). The snapshot and the log disagree.")
            }
            report.replayed += 1
        }
        head = state
        lastSequence = last
        durableSequence = last
        recordsSinceSnapshot = last - base
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
        if let failure { throw failure }
        let envelope = Envelope(sequence: lastSequence + 1, time: clock.now(), scope: scope, command: command)
        var next = head
        do {
            try next.apply(envelope)
        } catch {
            try append(LogRecord(envelope: envelope, refusal: error))
            snapshotIfDue()
            throw error
        }
        try append(LogRecord(envelope: envelope))
        head = next
        switch command {
        case .deleteBlobLink, .deleteRepository, .reset: garbageMayExist = true
        default: break
        }
        switch configuration.fsync {
        case .always:
            try await waitUntilDurable(envelope.sequence)
        case .batch:
            publish(next, through: envelope.sequence)
            scheduleBatchSync()
        case .never:
            publish(next, through: envelope.sequence)
        }
        snapshotIfDue()
        return envelope
    }

    private func snapshotIfDue() {
        if recordsSinceSnapshot >= configuration.snapshotEvery && snapshotTask == nil { _ = startSnapshot() }
    }

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
            let failure = StoreUnavailable(description: "writing the log failed (\(error)); writes are refused until Stowage restarts")
            self.failure = failure
            logger.error("\(failure)")
            throw failure
        }
        lastSequence = record.sequence
        recordsSinceSnapshot += 1
    }

    private func publish(_ state: RegistryState, through sequence: UInt64) {
        published.withLock { $0 = Published(state: state, sequence: sequence) }
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
            let failure = StoreUnavailable(description: "fsync of the log failed (\(error)); writes are refused until Stowage restarts")
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
            if self.recordsSinceSnapshot >= self.configuration.snapshotEvery { _ = self.startSnapshot() }
            return try result.get()
        }
        snapshotTask = task
        return task
    }

    private func writeSnapshot(_ state: RegistryState, sequence: UInt64) async throws -> SnapshotInfo {
        let snapshots = self.snapshots
        let level = configuration.compressionLevel
        let size = try await Task.detached {
            let bytes = try SnapshotFormat.encode(state, sequence: sequence, level: level)
            try snapshots.write(bytes, sequence: sequence)
            return bytes.count
        }.value
        try pruneSnapshots()
        return SnapshotInfo(sequence: sequence, bytes: size)
    }

    private func pruneSnapshots() throws {
        let kept = snapshots.sequences()
        guard kept.count >= configuration.snapshotsKept else { return }
        for old in kept.dropFirst(configuration.snapshotsKept) { snapshots.remove(old) }
        try log.removeSegments(through: kept[configuration.snapshotsKept - 1])
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
