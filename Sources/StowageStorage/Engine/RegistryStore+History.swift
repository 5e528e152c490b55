import HashTreeCollections
public import StowageCore
import Synchronization

/// History: rewinds and imports (each one logged command), and the registry as it was at any
/// record the log still holds.
extension RegistryStore {

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
            let restore = Command.restore(
                point: checkpoint.sequence, cause: .rewind(to: checkpoint.sequence, checkpoint: name))
            return try await write(scope: .default) { _ in [restore] }.envelopes[0]
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
            let restore = Command.restore(point: own, cause: .rewind(to: sequence, checkpoint: nil))
            return try await write(scope: .default, extraPoints: [own: target]) { _ in [restore] }.envelopes[0]
        }
    }

    /// Replaces the registry with `state` (an import), as one logged command. The caller has
    /// stored every blob the state links.
    @discardableResult
    public func restore(imported state: RegistryState, bytes: Int64) async throws -> Envelope {
        let own = lastSequence + 1
        let restore = Command.restore(point: own, cause: .importFile(bytes: bytes))
        return try await write(scope: .default, extraPoints: [own: state]) { _ in [restore] }.envelopes[0]
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

    /// A point of history as a person names it: a checkpoint's name, a sequence number, or an
    /// RFC 3339 time (the last record at or before it; record times never run backwards, so that
    /// is one record). `nil` when the text is none of these.
    public func point(named text: String) throws -> (sequence: UInt64, checkpoint: CheckpointName?)? {
        if let number = UInt64(text) { return (number, nil) }
        if let name = CheckpointName(text), let found = head.checkpoints[name] { return (found.sequence, name) }
        if let time = RFC3339.parse(text) { return (try sequence(at: time), nil) }
        return nil
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

    /// The records after `sequence` still held by the log, oldest first, up to `limit`.
    public func records(after sequence: UInt64, limit: Int = .max) throws -> [LogRecord] {
        var records: [LogRecord] = []
        for payload in try log.payloads(after: sequence) {
            let record = try StateCodec.decodeRecord(payload)
            guard record.sequence > sequence else { continue }
            records.append(record)
            if records.count >= limit { break }
        }
        return records
    }

    /// A stored point, from memory or from its file.
    func point(_ sequence: UInt64) -> RegistryState? {
        if let state = pointCache[sequence] { return state }
        guard let bytes = try? points.read(sequence), let state = try? SnapshotFormat.decode(bytes).state else {
            return nil
        }
        pointCache[sequence] = state
        return state
    }
}

extension RegistryStore {
    /// One move of a tag: where it pointed after a record (`nil`: it was removed), and why.
    public struct TagMove: Sendable, Equatable {
        public var sequence: UInt64
        public var time: Timestamp
        public var digest: Digest?
        public var cause: String
    }

    /// Every move of `tag` in repository `name`, oldest first, over the history kept, from record
    /// `start` to record `end` (both included, when given): the state is folded from the oldest
    /// state that can be rebuilt, record by record, and a move is every record after which the
    /// tag points elsewhere.
    public func tagHistory(
        _ tag: Tag, in name: RepositoryName, scope: Scope, start: UInt64? = nil, end: UInt64? = nil
    ) throws -> [TagMove] {
        let first = log.firstSequence - 1
        var base = first
        var state: RegistryState
        do { state = try self.state(at: first) } catch {
            // The oldest kept snapshot, when the log's first records are older than any state kept.
            guard let oldest = snapshots.sequences().last else { throw error }
            base = oldest
            state = try self.state(at: oldest)
        }
        var moves: [TagMove] = []
        var current = state[scope].repositories[name]?.tags[tag]?.digest
        for record in try records(after: base) where record.refusal == nil {
            if let end, record.sequence > end { break }
            try state.apply(record.envelope) { self.point($0) }
            let now = state[scope].repositories[name]?.tags[tag]?.digest
            guard now != current else { continue }
            current = now
            if let start, record.sequence < start { continue }
            moves.append(
                TagMove(
                    sequence: record.sequence, time: record.envelope.time, digest: now, cause: Self.cause(of: record)))
        }
        return moves
    }

    /// Why a record changed what it changed, in a few words.
    static func cause(of record: LogRecord) -> String {
        if let cause = record.cause {
            if case .expireImages(_, _, let rules?) = record.envelope.command, !rules.isEmpty {
                let listed = Array(Set(rules)).sorted().map(String.init).joined(separator: ", ")
                return "lifecycle rule \(listed) (after record \(cause.trigger))"
            }
            return "\(cause.reaction.label) after record \(cause.trigger)"
        }
        switch record.envelope.command {
        case .restore, .reset: return record.envelope.command.summary
        case .deleteRepository(let name, _):
            return "repository \(name) deleted" + (record.origin.map { " (\($0))" } ?? "")
        default:
            return record.origin.map { "\(record.envelope.command.kind) (\($0))" } ?? record.envelope.command.kind
        }
    }
}

extension RegistryStore {
    /// The history since record `since` (a checkpoint's sequence, say), or since the oldest state
    /// the history kept can rebuild, as a recording without blobs (the caller reads those from
    /// ``content``: ``Recording/blobsEverLinked``).
    public func recording(since: UInt64? = nil) throws -> Recording {
        let end = lastSequence
        var baseSequence = since ?? (log.firstSequence - 1)
        var base: RegistryState
        do { base = try state(at: baseSequence) } catch  where since == nil {
            // The log starts inside a snapshot's range: start at the oldest snapshot the log follows.
            guard let oldest = snapshots.sequences().filter({ $0 >= log.firstSequence - 1 }).min() else { throw error }
            baseSequence = oldest
            base = try state(at: oldest)
        }
        let records = try self.records(after: baseSequence).filter { $0.sequence <= end }
        var points: [UInt64: RegistryState] = [:]
        var wanted = Set(head.checkpoints.values.map(\.sequence)).union(base.checkpoints.values.map(\.sequence))
        for record in records where record.refusal == nil {
            if case .restore(let point, _) = record.envelope.command { wanted.insert(point) }
        }
        for sequence in wanted { points[sequence] = point(sequence) }
        return Recording(baseSequence: baseSequence, base: base, points: points, records: records, blobs: [:])
    }

    /// The end of history as readers may see it: the published state, or, in a replay (whose
    /// readers may be shown an earlier point), its last record.
    public var end: (sequence: UInt64, state: RegistryState) {
        configuration.readOnly ? (lastSequence, head) : (sequence, state)
    }

    /// A replay's view: the registry every reader sees becomes the state after record `sequence`
    /// (nothing is logged). Only for a read-only engine.
    @discardableResult
    public func show(_ sequence: UInt64) throws -> RegistryState {
        guard configuration.readOnly else {
            throw HistoryError(description: "only a replay moves its view; a live registry moves by a rewind")
        }
        let shown = try state(at: sequence)
        durability.published.withLock { $0 = Published(state: shown, sequence: sequence) }
        return shown
    }
}
