import Dispatch
import Logging
import StowageCore
import Synchronization

/// Appending records, making them durable (group commit: one fsync for every writer waiting),
/// publishing the state once they are, and handing records to the log's followers in order.
extension RegistryStore {
    /// Encodes, frames and appends one record; not durable yet.
    func appendRecord(_ record: LogRecord) throws {
        let payload: [UInt8]
        do { payload = try StateCodec.encodeRecord(record) } catch {
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

    /// Makes everything appended through `sequence` durable as the policy says, and published.
    func settle(through sequence: UInt64) async throws {
        switch configuration.fsync {
        case .always where log.persists:
            try await waitUntilDurable(sequence)
        case .batch where log.persists:
            publish(head, through: lastSequence)
            scheduleBatchSync()
        case .always, .batch, .never:  // `.always` and `.batch` here: a log in memory, nothing to fsync
            publish(head, through: lastSequence)
        }
        snapshotIfDue()
    }

    func publish(_ state: RegistryState, through sequence: UInt64) {
        published.withLock { $0 = Published(state: state, sequence: sequence) }
        stream(through: sequence)
    }

    /// Hands subscribers the records up to `sequence`, in order.
    func stream(through sequence: UInt64) {
        guard !unstreamed.isEmpty else { return }
        let ready = unstreamed.prefix { $0.sequence <= sequence }
        unstreamed.removeFirst(ready.count)
        for record in ready {
            for subscriber in subscribers.values { subscriber.yield(record) }
        }
    }

    func waitUntilDurable(_ sequence: UInt64) async throws {
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
        // Straight onto the fsync thread, and from there one task back to the writer: one
        // thread woken each way, the least a blocking fsync off the writer's thread can cost.
        syncQueue.async {
            let result = Result { try handle.sync() }
            Task { await self.finishSync(through: target, state: state, result: result) }
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
}
