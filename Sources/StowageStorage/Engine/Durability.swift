import Dispatch
import StowageCore
import Synchronization

/// What readers see (the state as of the last durable record), and under `--fsync always` the
/// bookkeeping of the group commit that moves it: one fsync covers every record appended before
/// it began, and every writer waiting for one of them.
///
/// Where a sync runs depends on whether writers overlap (``GroupCommitting``'s `waitUntilDurable`
/// drives it, on the writer's actor):
/// - On the fsync thread while they do: the writers wait, and the sync's end is taken on the
///   writer's actor, which resumes them and starts the next sync on what was appended meanwhile.
///   The hop to the actor is what gathers writers: under 64 connections one fsync covers about
///   20 of them.
/// - By the writer itself, off its actor, once ``loneSyncsBeforeLeading`` syncs in a row covered
///   one writer each: a lone writer (a test's boto3 client, one push at a time) then wakes no
///   thread for its fsync. Through the fsync thread one ECR CreateRepository took 10.5 context
///   switches and led by its writer 5.7, about 0.15 ms less CPU on this virtual machine (where a
///   switch costs tens of µs). Led by writers under load, a writer's thread blocked on fsyncs
///   for others, and the cooperative pool (one thread per core) was left one thread.
final class Durability: Sendable {
    /// The registry as readers see it: replaced only once a record is durable (or, with nothing
    /// to fsync, applied). A lock of its own: readers never wait on the commit's bookkeeping.
    let published: Mutex<RegistryStore.Published>
    private let commit: Mutex<Commit>
    /// The fsync thread (also `--fsync batch`'s).
    let queue = DispatchQueue(label: "stowage.fsync")

    /// Syncs in a row covering a single writer after which a writer leads its own.
    static let loneSyncsBeforeLeading = 8

    private struct Commit {
        /// The last record appended, the state after it, and what makes it durable.
        var appended: Appended?
        /// The last record an fsync covered.
        var durable: UInt64
        /// A sync is running or about to; its end resumes the waiters it covers.
        var leading = false
        /// Syncs in a row that covered one writer, none waiting after (up to ``loneSyncsBeforeLeading``).
        var loneSyncs = 0
        /// The fsync failed: every wait from now on throws this.
        var failure: StoreUnavailable?
        /// Writers waiting for a sync to cover their record; resumed with `true` to lead one.
        var waiters: [(sequence: UInt64, continuation: CheckedContinuation<Bool, any Error>)] = []
    }

    /// The last record appended, the state after it, and what makes it durable: a sync's target.
    struct Appended: Sendable {
        var sequence: UInt64
        var state: RegistryState
        var target: any LogSyncTarget
    }

    init(state: RegistryState, sequence: UInt64) {
        published = Mutex(RegistryStore.Published(state: state, sequence: sequence))
        commit = Mutex(Commit(durable: sequence))
    }

    /// Records that everything through `sequence` is appended, leaving `state`, and made durable by
    /// `target`. Called by the writer on its actor, before it waits for any of it.
    func appended(through sequence: UInt64, state: RegistryState, target: any LogSyncTarget) {
        commit.withLock { commit in
            guard sequence > commit.appended?.sequence ?? 0 else { return }
            commit.appended = Appended(sequence: sequence, state: state, target: target)
        }
    }

    /// What a writer waiting for a record does.
    enum Turn {
        /// Nothing: the record is durable and published.
        case covered
        /// It runs the sync itself (``sync()``), off its actor.
        case lead
        /// It starts a sync on the fsync thread (the lead is taken for it), then waits.
        case startSync
        /// It waits (``wait(for:_:)``): a sync that will cover it is running or about to.
        case wait
    }

    /// Decides the turn of a writer waiting for record `sequence` (reported appended), taking
    /// the lead when no sync is running.
    ///
    /// - Throws: ``StoreUnavailable`` when an fsync failed.
    func turn(for sequence: UInt64) throws -> Turn {
        try commit.withLock { commit in
            if let failure = commit.failure { throw failure }
            if commit.durable >= sequence { return .covered }
            if commit.leading { return .wait }
            commit.leading = true
            return commit.loneSyncs >= Self.loneSyncsBeforeLeading ? .lead : .startSync
        }
    }

    /// Resumes `continuation` once a sync covers record `sequence`: with `false`; with `true` when
    /// no sync is running any more, the lead taken for the writer; or throwing when the fsync failed.
    func wait(for sequence: UInt64, _ continuation: CheckedContinuation<Bool, any Error>) {
        // Looked at again under the lock: the sync may have ended since the turn was decided.
        let now: Result<Bool, any Error>? = commit.withLock { commit in
            if let failure = commit.failure { return .failure(failure) }
            if commit.durable >= sequence { return .success(false) }
            if !commit.leading {
                commit.leading = true
                return .success(true)
            }
            commit.waiters.append((sequence, continuation))
            return nil
        }
        if let now { continuation.resume(with: now) }
    }

    /// How many writers wait for a sync now.
    var waiting: Int { commit.withLock { $0.waiters.count } }

    /// What the lead's next sync covers: everything appended so far.
    func target() -> Appended {
        guard let appended = commit.withLock({ $0.appended }) else {
            preconditionFailure("a sync was led before anything was reported appended")
        }
        return appended
    }

    /// A writer's own sync, off its actor.
    ///
    /// - Returns: whether writers still wait, whose records came after it (the lead is kept for
    ///   the next sync, which the caller starts).
    func sync() async throws -> Bool {
        let appended = target()
        return try finish(appended, Result { try appended.target.sync() }, leader: true)
    }

    /// The end of a sync of `appended`: the state it covers published, the writers it covers
    /// resumed.
    ///
    /// - Parameter leader: the sync was run by a writer that is not among the waiters.
    /// - Returns: whether writers still wait, whose records came after it (the lead is kept for
    ///   the next sync, which the caller starts).
    /// - Throws: ``StoreUnavailable`` when the sync failed (every waiter is resumed with it).
    func finish(_ appended: Appended, _ result: Result<Void, any Error>, leader: Bool) throws -> Bool {
        var covered: [CheckedContinuation<Bool, any Error>] = []
        let (failure, more): (StoreUnavailable?, Bool) = commit.withLock { commit in
            switch result {
            case .success:
                if appended.sequence > commit.durable {
                    commit.durable = appended.sequence
                    // Under the commit's lock, so that publications follow the syncs' order.
                    published.withLock { published in
                        if appended.sequence > published.sequence {
                            published = RegistryStore.Published(state: appended.state, sequence: appended.sequence)
                        }
                    }
                }
                covered = commit.waiters.filter { $0.sequence <= appended.sequence }.map(\.continuation)
                commit.waiters.removeAll { $0.sequence <= appended.sequence }
                let more = !commit.waiters.isEmpty
                let lone = !more && covered.count + (leader ? 1 : 0) == 1
                commit.loneSyncs = lone ? min(commit.loneSyncs + 1, Self.loneSyncsBeforeLeading) : 0
                if !more { commit.leading = false }
                return (nil, more)
            case .failure(let error):
                let failure = StoreUnavailable(
                    description: "fsync of the log failed (\(error)); writes are refused until Stowage restarts")
                commit.failure = failure
                commit.leading = false
                covered = commit.waiters.map(\.continuation)
                commit.waiters.removeAll()
                return (failure, false)
            }
        }
        if let failure {
            for waiter in covered { waiter.resume(throwing: failure) }
            throw failure
        }
        for waiter in covered { waiter.resume(returning: false) }
        return more
    }
}

/// A single writer that waits for its records through a ``Durability`` (``RegistryStore``):
/// the group commit's moves, made on the writer's actor.
protocol GroupCommitting: Actor {
    nonisolated var durability: Durability { get }
}

extension GroupCommitting {
    /// Waits for record `sequence` to be durable: leads the sync itself (off the actor, which is
    /// free for other writers meanwhile), starts one on the fsync thread, or waits for the one
    /// that will cover it (see ``Durability``).
    func waitUntilDurable(_ sequence: UInt64) async throws {
        var turn = try durability.turn(for: sequence)
        if turn == .startSync { startSync() }
        if turn == .startSync || turn == .wait {
            let leads = try await withCheckedThrowingContinuation { durability.wait(for: sequence, $0) }
            turn = leads ? .lead : .covered
        }
        if turn == .lead, try await durability.sync() { startSync() }
    }

    /// A sync of everything appended so far on the fsync thread, for the lead held; its end is
    /// taken back on the actor, where it starts the next if writers still wait.
    func startSync() {
        let appended = durability.target()
        durability.queue.async {
            let result = Result { try appended.target.sync() }
            Task { await self.finishSync(appended, result) }
        }
    }

    func finishSync(_ appended: Durability.Appended, _ result: Result<Void, any Error>) {
        // A failure reaches every waiter, whose settle marks the store failed.
        if (try? durability.finish(appended, result, leader: false)) == true { startSync() }
    }
}
