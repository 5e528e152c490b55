import Dispatch
import HashTreeCollections
import Logging
import StowageCore

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
    /// Uploads ended because their spool held fewer bytes than the log had acknowledged (a power
    /// cut, or a spool removed by hand), each with a logged `endUpload`.
    public var uploadsEnded: [String] = []
}

/// Start-up: the newest snapshot that loads, then the log after it, then the spools made to
/// agree with what the log acknowledged.
enum Recovery {
    struct Recovered {
        var content: any ContentStore
        var snapshots: any SnapshotStore
        var points: any SnapshotStore
        var log: any EventLog
        var state: RegistryState
        var sequence: UInt64
        var pointCache: [UInt64: RegistryState]
        var snapshotLoadSeconds: Double
        /// How the snapshot loaded lies in its file, for the next snapshot to copy from (none
        /// when the log after it resets or restores the state).
        var snapshotLayout: SnapshotLayout?
        var report: RecoveryReport
        var lock: DirectoryLock?
    }

    static func open(_ configuration: EngineConfiguration, clock: any RegistryClock, logger: Logger) throws -> Recovered
    {
        var report = RecoveryReport()
        let snapshots: any SnapshotStore
        let points: any SnapshotStore
        let content: any ContentStore
        var lock: DirectoryLock?
        switch configuration.location {
        case .directory(let path):
            // Before anything is read: one server per data directory.
            if configuration.locksDirectory { lock = try DirectoryLock(directory: path) }
            let (snapshotFiles, pointFiles) = (
                try FileSnapshotStore(directory: path + "/snap"),
                try FileSnapshotStore(directory: path + "/snap/points")
            )
            if lock != nil && !configuration.readOnly {
                let removed = snapshotFiles.removeUnfinished() + pointFiles.removeUnfinished()
                if removed > 0 { logger.info("removed \(removed) half-written snapshot file(s) a crash left") }
            }
            (snapshots, points) = (snapshotFiles, pointFiles)
            content = try FileContentStore(directory: path, durable: configuration.fsync != .never)
        case .memory:
            snapshots = InMemorySnapshotStore()
            points = InMemorySnapshotStore()
            content = InMemoryContentStore()
            if let recording = configuration.replaying {
                // A replay starts as a recovery would: from the base as a snapshot, then its records.
                try snapshots.write(
                    try SnapshotFormat.encode(recording.base, sequence: recording.baseSequence),
                    sequence: recording.baseSequence)
                for (sequence, state) in recording.points {
                    try points.write(try SnapshotFormat.encode(state, sequence: sequence), sequence: sequence)
                }
                for (digest, bytes) in recording.blobs { try content.writeBlob(digest, bytes) }
            }
        }
        // The newest snapshot that loads.
        var state = RegistryState()
        var base: UInt64 = 0
        var loadSeconds = 0.0
        var layout: SnapshotLayout?
        for sequence in snapshots.sequences() {
            do {
                let started = ContinuousClock.now
                let decoded = try SnapshotFormat.decodeWithLayout(try snapshots.read(sequence))
                (base, state, layout) = (decoded.sequence, decoded.state, decoded.layout)
                // Until this process writes one, reading one is the measure of a snapshot's cost.
                loadSeconds = (ContinuousClock.now - started).seconds
                break
            } catch {
                snapshots.setAside(sequence)
                report.snapshotsSetAside.append("snapshot \(sequence): \(error)")
                logger.warning(
                    "snapshot \(sequence) does not load (\(error)); set it aside as .broken, trying an older one")
            }
        }
        report.snapshotSequence = base
        let log: any EventLog
        switch configuration.location {
        case .directory(let path): log = try FileEventLog(directory: path + "/wal", after: base, logger: logger)
        case .memory:
            let memory = InMemoryEventLog()
            if let recording = configuration.replaying {
                try memory.startSegment(at: recording.baseSequence + 1)
                var frames: [UInt8] = []
                for record in recording.records {
                    RecordFraming.appendFrame(try StateCodec.encodeRecord(record), to: &frames)
                }
                try memory.append(framed: frames, lastSequence: recording.lastSequence)
            }
            log = memory
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
        // if a crash came before they were written. Reactions are never run again: they are in the log.
        var cache: [UInt64: RegistryState] = [:]
        let storedPoints = Set(points.sequences())
        let resolve: (UInt64) -> RegistryState? = { sequence in
            if let state = cache[sequence] { return state }
            guard storedPoints.contains(sequence), let bytes = try? points.read(sequence) else { return nil }
            return try? SnapshotFormat.decode(bytes).state
        }
        var last = base
        try forEachRecord(in: try log.payloads(after: base)) { decoded in
            let record: LogRecord
            do { record = try decoded.get() } catch {
                throw LogError(
                    description:
                        "a log record passed its checksum but does not decode (\(error)); the log was written by an incompatible Stowage"
                )
            }
            guard record.sequence > base else { return }
            guard record.sequence == last + 1 else {
                throw LogError(
                    description:
                        "the log jumps from record \(last) to \(record.sequence); records are missing. Restore the data directory from a backup."
                )
            }
            last = record.sequence
            guard record.refusal == nil else { return }
            do { try state.apply(record.envelope, points: resolve) } catch {
                throw LogError(
                    description:
                        "log record \(record.sequence) (\(record.envelope.command.kind)) was applied once but is refused on replay: \(error). The snapshot and the log disagree."
                )
            }
            report.replayed += 1
            if record.envelope.command.replacesState { layout = nil }
            if case .checkpoint = record.envelope.command {
                cache[record.sequence] = state
                if !storedPoints.contains(record.sequence) {
                    try points.write(
                        try SnapshotFormat.encode(state, sequence: record.sequence), sequence: record.sequence)
                }
            }
        }
        // A point is of a record in the log: one past its end was written for a record a crash
        // took back (a checkpoint's is written beside its record), and its sequence will be reused.
        if !configuration.readOnly {
            for sequence in storedPoints where sequence > last { points.remove(sequence) }
        }
        // The clock stands where the log last set it.
        clock.setOffset(state.clockOffset ?? 0)
        if configuration.readOnly {
            // A replay: the uploads it ended with stay as recorded (it has no spools, and writes nothing).
            return Recovered(
                content: content, snapshots: snapshots, points: points, log: log, state: state, sequence: last,
                pointCache: cache, snapshotLoadSeconds: loadSeconds, snapshotLayout: layout, report: report,
                lock: lock)
        }
        // Spools: cut back to what the log acknowledged; remove those of no upload. A spool that
        // holds less than the log acknowledged is never filled up with zeros: its upload ends, logged.
        let inFlight = Dictionary(state.uploadsInFlight.map { ($0.upload.id.rawValue, $0) }) { a, _ in a }
        let spools = Set(content.spoolIDs())
        var lost: [(scope: Scope, upload: Upload)] = []
        for name in spools.sorted() {
            if let (scope, upload) = inFlight[name] {
                guard let size = content.spoolSize(upload.id), size >= upload.size else {
                    lost.append((scope, upload))
                    continue
                }
                if size > upload.size {
                    try content.truncateSpool(upload.id, to: upload.size)
                    report.spoolsRepaired += 1
                }
            } else if let id = UploadID(name) {
                content.removeSpool(id)
                report.spoolsRepaired += 1
            }
        }
        for (scope, upload) in inFlight.values.sorted(by: { $0.upload.id < $1.upload.id })
        where !spools.contains(upload.id.rawValue) {
            if upload.size == 0 { try content.createSpool(upload.id) } else { lost.append((scope, upload)) }
        }
        for (scope, upload) in lost {
            last += 1
            let envelope = Envelope(
                sequence: last, time: max(clock.now(), state.time), scope: scope,
                command: .endUpload(upload: upload.id, repository: upload.repository, reason: .bytesLost))
            try state.apply(envelope)
            var frame: [UInt8] = []
            RecordFraming.appendFrame(try StateCodec.encodeRecord(LogRecord(envelope: envelope)), to: &frame)
            try log.append(framed: frame, lastSequence: last)
            logger.warning(
                "upload \(upload.id) in \(upload.repository) had \(upload.size) bytes acknowledged but its spool holds \(content.spoolSize(upload.id) ?? 0): ended it (record \(last)); the client must push that blob again"
            )
            content.removeSpool(upload.id)
            report.uploadsEnded.append(upload.id.rawValue)
        }
        if !lost.isEmpty { try log.syncTarget().sync() }
        return Recovered(
            content: content, snapshots: snapshots, points: points, log: log, state: state, sequence: last,
            pointCache: cache, snapshotLoadSeconds: loadSeconds, snapshotLayout: layout, report: report,
            lock: lock)
    }
}

extension Recovery {
    /// Records a batch, decoded on a second core while the records before them are applied.
    static let replayBatch = 2048

    /// `body` of each payload's record (or of why it does not decode), in order: on two cores,
    /// batch k + 1 is decoded while `body` takes batch k (decoding is more than half of a replay).
    static func forEachRecord(
        in payloads: [ArraySlice<UInt8>], batch: Int = replayBatch,
        _ body: (Result<LogRecord, any Error>) throws -> Void
    ) throws {
        let batches = stride(from: 0, to: payloads.count, by: max(1, batch)).map {
            $0..<min($0 + max(1, batch), payloads.count)
        }
        let decode = { @Sendable (range: Range<Int>) in
            payloads[range].map { payload in Result { try StateCodec.decodeRecord(payload) } }
        }
        guard Parallel.cores > 1, batches.count > 1 else {
            for range in batches { for record in decode(range) { try body(record) } }
            return
        }
        var ready = decode(batches[0])
        for k in batches.indices {
            var next: [Result<LogRecord, any Error>] = []
            var failure: (any Error)?
            // Iteration 0 is `body` over this batch, 1 the decoding of the next; each writes only
            // its own variable, and `concurrentPerform` returns when both are done.
            withoutActuallyEscaping(body) { body in
                nonisolated(unsafe) let body = body
                let current = ready
                nonisolated(unsafe) var nextOut: [Result<LogRecord, any Error>] = []
                nonisolated(unsafe) var failed: (any Error)?
                DispatchQueue.concurrentPerform(iterations: 2) { iteration in
                    if iteration == 0 {
                        do { for record in current { try body(record) } } catch { failed = error }
                    } else if k + 1 < batches.count {
                        nextOut = decode(batches[k + 1])
                    }
                }
                next = nextOut
                failure = failed
            }
            if let failure { throw failure }
            ready = next
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
