import Dispatch
import HashTreeCollections
public import Logging
public import StowageCore
import Synchronization

/// The engine serves a recording (`stowage serve --replay`): every write is refused.
public struct StoreReadOnly: Error, CustomStringConvertible, Sendable {
    public init() {}

    public var description: String {
        "this server replays a recording and is read-only: nothing can be pushed, changed or deleted"
    }
}

/// The engine's storage failed; writes are refused until a restart, reads still work.
public struct StoreUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The single writer of the registry: stamps each command with its sequence number and time,
/// checks it against the current state, appends it to the log, makes it durable per policy,
/// applies it, runs what follows from it (``Reaction``), and only then returns, so the caller
/// can acknowledge.
///
/// Every decision that depends on the state is taken here, in one turn of the actor together
/// with the append it leads to: the reducer's checks, which repository a write creates
/// (``RepositoryCreation``), which reactions follow. Readers never wait for writers: ``state`` is
/// an immutable value behind a lock, replaced once a write is durable, so a reader never sees
/// what a crash could take back.
///
/// The actor's concerns live in their own files: recovery at start-up, durability (group
/// commit), snapshots, history (rewinds, imports, the past), garbage, reactions; blob bytes
/// arrive through ``Ingest``.
public actor RegistryStore {
    public nonisolated let content: any ContentStore
    public nonisolated let configuration: EngineConfiguration
    public nonisolated let clock: any RegistryClock
    public nonisolated let recovery: RecoveryReport
    /// The data directory's lock, held while the engine lives.
    nonisolated let lock: DirectoryLock?
    let log: any EventLog
    let snapshots: any SnapshotStore
    /// Stored states by the sequence number they are the state after: one per checkpoint and
    /// one per restore, so rewinds and imports replay exactly.
    let points: any SnapshotStore
    var pointCache: [UInt64: RegistryState]
    /// Checkpoints whose point is held in ``pointCache`` but not yet in its file (written in the
    /// background; every snapshot waits for them).
    var unstoredPoints: Set<UInt64> = []
    var pointWriter: Task<Void, any Error>?
    var subscribers: [Int: AsyncStream<LogRecord>.Continuation] = [:]
    /// Records appended but not yet published, held back from subscribers to keep log order
    /// and never show what a crash could take back.
    var unstreamed: [LogRecord] = []
    var nextSubscriber = 0
    let logger: Logger

    /// Every applied record, including those not yet durable.
    var head: RegistryState
    /// The sequence number of the last record appended (applied or refused).
    var lastSequence: UInt64
    /// The time of the last record appended: record times never run backwards.
    var lastTime: Timestamp
    /// What readers see, and the group commit that moves it under `--fsync always`.
    nonisolated let durability: Durability
    var failure: StoreUnavailable?

    var batchSyncScheduled = false

    var recordsSinceSnapshot: UInt64
    /// How long the last snapshot took to encode and write, which sets the spacing of the next.
    var lastSnapshotSeconds: Double
    var snapshotTask: Task<SnapshotInfo, any Error>?
    /// How the last snapshot written lies in its file, with the identities of the repositories it
    /// wrote: the next snapshot copies the units of those no command has written into since.
    var snapshotLayout: SnapshotLayout?
    /// Deleting the files the last snapshot made unneeded, off the writer.
    var pruning: Task<Void, Never>?
    /// Counts resets and restores, after which a layout describes repositories the state no
    /// longer holds (and would only keep them alive).
    var stateReplacements: UInt64 = 0
    var pinnedBlobs: [Digest: Int] = [:]
    /// Set when an applied command may have left a stored blob unreferenced.
    var garbageMayExist = true

    struct Published: Sendable {
        var state: RegistryState
        var sequence: UInt64
    }

    /// Opens (or creates) the registry and recovers its state: the newest snapshot that loads,
    /// then the log after it.
    public init(
        configuration: EngineConfiguration, clock: any RegistryClock = SystemClock(),
        logger: Logger = Logger(label: "stowage.engine")
    ) throws {
        let recovered = try Recovery.open(configuration, clock: clock, logger: logger)
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        content = recovered.content
        snapshots = recovered.snapshots
        points = recovered.points
        log = recovered.log
        pointCache = recovered.pointCache
        head = recovered.state
        lastSequence = recovered.sequence
        lastTime = recovered.state.time
        recordsSinceSnapshot = recovered.sequence - recovered.report.snapshotSequence
        lastSnapshotSeconds = recovered.snapshotLoadSeconds
        snapshotLayout = recovered.snapshotLayout
        durability = Durability(state: recovered.state, sequence: recovered.sequence)
        recovery = recovered.report
        lock = recovered.lock
    }

    // MARK: Reading

    /// The registry as of the last durable write. O(1); never waits for a writer.
    public nonisolated var state: RegistryState { durability.published.withLock { $0.state } }

    /// The sequence number of the last durable record.
    public nonisolated var sequence: UInt64 { durability.published.withLock { $0.sequence } }

    // MARK: Writing

    /// What made the commands of the current task (the edges set it per request: `ECR PutImage`,
    /// `PUT /v2 manifest`, `admin import`); logged with each record the task appends.
    @TaskLocal public static var origin: String?

    /// The time for the next record: the clock's, or the last record's if the clock was set back,
    /// so that record times never run backwards (and `state?at=<time>` means one thing).
    func stamp() -> Timestamp {
        let now = clock.now()
        if now > lastTime { lastTime = now }
        return lastTime
    }

    /// Sets the server's clock to stand `offset` milliseconds from its source, as a logged command
    /// (stamped with the clock it sets), so a restart keeps it.
    @discardableResult
    public func moveClock(toOffset offset: Int64) async throws -> Envelope {
        try await write(scope: .default) { _ in
            self.clock.setOffset(offset)
            return [.setClock(offsetMilliseconds: offset)]
        }.envelopes[0]
    }

    /// What a write did: the records it logged, and the registry just before and just after them
    /// (before any reaction), for answers that must describe exactly this write.
    public struct Written: Sendable {
        public var envelopes: [Envelope]
        public var before: RegistryState
        public var after: RegistryState
    }

    /// Stamps, checks, logs, makes durable (per policy) and applies a command, then its reactions.
    ///
    /// - Returns: the envelope as logged.
    /// - Throws: ``RegistryError`` when the reducer refuses the command (the refusal is logged
    ///   too, and the state is unchanged); ``StoreUnavailable`` when storage failed.
    @discardableResult
    public func submit(_ command: Command, scope: Scope = .default) async throws -> Envelope {
        try await write(scope: scope) { _ in [command] }.envelopes[0]
    }

    /// Submits commands in order with one wait for durability, after the last (one fsync where
    /// separate submits would take one each). Stops at the first refusal, which it throws once
    /// the commands before it are durable.
    @discardableResult
    public func submit(_ commands: [Command], scope: Scope = .default) async throws -> [Envelope] {
        try await write(scope: scope) { _ in commands }.envelopes
    }

    /// Submits commands in order, as ``submit(_:scope:)-([Command],_)`` does, and returns what they did.
    public func write(_ commands: [Command], scope: Scope) async throws -> Written {
        try await write(scope: scope) { _ in commands }
    }

    /// Submits the commands `decide` makes of the current state, in the same turn of the writer as
    /// their append: for a command whose content depends on the state (a scan records the
    /// findings seeded at the time it is logged).
    @discardableResult
    public func submit(scope: Scope, deciding decide: @Sendable (RegistryState) -> [Command]) async throws -> Written {
        try await write(scope: scope, decide)
    }

    /// Submits commands that write into repository `name`, which is created first when it does not
    /// exist and `creation` allows it: decided against the state the commands are applied to, so
    /// of any number of concurrent first pushes one creates the repository and none is refused.
    @discardableResult
    public func submit(
        _ commands: [Command], scope: Scope, creating name: RepositoryName, _ creation: RepositoryCreation
    ) async throws -> Written {
        try await write(scope: scope) { state in
            (state.creation(of: name, in: scope, creation).map { [$0] } ?? []) + commands
        }
    }

    /// Logs that a request named `command` and was refused at the edge before it reached the
    /// reducer (a chunk at the wrong offset, a digest that does not match its bytes), so the
    /// history of an upload shows it. Changes nothing.
    public func recordRefusal(_ command: Command, because reason: RegistryError, scope: Scope = .default) throws {
        if let failure { throw failure }
        let envelope = Envelope(sequence: lastSequence + 1, time: stamp(), scope: scope, command: command)
        try appendRefusal(LogRecord(envelope: envelope, refusal: reason, origin: Self.origin))
    }

    /// The one write path: in a single turn of the actor, the commands `prepare` decides on the
    /// current state are stamped, checked and appended; then the caller waits for durability
    /// (per policy), and then for the reactions.
    func write(
        scope: Scope, extraPoints: [UInt64: RegistryState] = [:],
        _ prepare: (RegistryState) throws -> [Command]
    ) async throws -> Written {
        if configuration.readOnly { throw StoreReadOnly() }
        let before = head
        let appended = try append(prepare(head).map { Pending(scope: scope, command: $0) }, extraPoints: extraPoints)
        let after = head
        if let last = appended.envelopes.last {
            try await settle(through: last.sequence)
            await react(to: appended.envelopes)
        }
        if let refusal = appended.refusal { throw refusal }
        return Written(envelopes: appended.envelopes, before: before, after: after)
    }

    /// A command on its way into the log.
    struct Pending {
        var scope: Scope
        var command: Command
        var cause: RecordCause? = nil
    }

    /// Stamps, checks and appends commands in order, synchronously: nothing else reaches the log
    /// between the check of one and its append. Stops at the first refusal (logged as one).
    ///
    /// - Returns: the envelopes applied, and the refusal that stopped them, if one did.
    /// - Throws: ``StoreUnavailable`` when storage failed.
    func append(_ pending: [Pending], extraPoints: [UInt64: RegistryState] = [:]) throws -> (
        envelopes: [Envelope], refusal: RegistryError?
    ) {
        if let failure { throw failure }
        if configuration.readOnly { throw StoreReadOnly() }
        var envelopes: [Envelope] = []
        for item in pending {
            let envelope = Envelope(
                sequence: lastSequence + 1, time: stamp(), scope: item.scope, command: item.command)
            var next = head
            do {
                try next.apply(envelope) { sequence in extraPoints[sequence] ?? self.point(sequence) }
            } catch {
                try appendRefusal(
                    LogRecord(
                        envelope: envelope, refusal: error, cause: item.cause,
                        origin: item.cause == nil ? Self.origin : nil
                    ))
                return (envelopes, error)
            }
            if case .restore(let point, _) = item.command, point == envelope.sequence {
                // An import or a rewind to a sequence: its state is in no record, so it is stored
                // before the record is logged.
                do {
                    try points.write(
                        try SnapshotFormat.encode(
                            next, sequence: envelope.sequence, level: configuration.compressionLevel),
                        sequence: envelope.sequence)
                } catch {
                    throw StoreUnavailable(
                        description: "cannot store the state of record \(envelope.sequence): \(error)")
                }
                pointCache[envelope.sequence] = next
            }
            try appendRecord(
                LogRecord(envelope: envelope, cause: item.cause, origin: item.cause == nil ? Self.origin : nil))
            head = next
            if case .checkpoint = item.command {
                // Kept in memory and written in the background (a large state takes seconds to
                // encode): until it is stored no snapshot is written past this record, so a
                // restart replays it and stores the point then.
                pointCache[envelope.sequence] = next
                storePointInBackground(envelope.sequence)
            }
            switch item.command {
            case .deleteBlobLink, .deleteRepository, .reset, .restore:
                garbageMayExist = true
            default: break
            }
            if item.command.replacesState { forgetSnapshotLayout() }
            switch item.command {
            case .reset, .restore, .deleteRepository, .endUpload: removeOrphanSpools()
            default: break
            }
            envelopes.append(envelope)
        }
        return (envelopes, nil)
    }

    /// A refusal changes nothing: once everything before it is published, so is its place in the log.
    private func appendRefusal(_ record: LogRecord) throws {
        if configuration.readOnly { throw StoreReadOnly() }
        try appendRecord(record)
        reportAppended()
        let visible = durability.published.withLock { state in
            if state.sequence == record.sequence - 1 { state.sequence = record.sequence }
            return state.sequence
        }
        stream(through: visible)
        snapshotIfDue()
    }
}
