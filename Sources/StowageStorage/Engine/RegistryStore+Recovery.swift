import HashTreeCollections
public import Logging
public import StowageCore

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
        var report: RecoveryReport
    }

    static func open(_ configuration: EngineConfiguration, logger: Logger) throws -> Recovered {
        var report = RecoveryReport()
        let snapshots: any SnapshotStore
        let points: any SnapshotStore
        let content: any ContentStore
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
        // if a crash came before they were written. Reactions are never run again: they are in the log.
        var cache: [UInt64: RegistryState] = [:]
        let storedPoints = Set(points.sequences())
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
        return Recovered(
            content: content, snapshots: snapshots, points: points, log: log, state: state, sequence: last,
            pointCache: cache, snapshotLoadSeconds: loadSeconds, report: report)
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
