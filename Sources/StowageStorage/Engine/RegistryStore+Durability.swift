import Dispatch
import Logging
import StowageCore
import Synchronization

/// Appending records, making them durable (group commit, ``Durability``: one fsync for every
/// writer waiting), publishing the state once they are, and handing records to the log's
/// followers in order.
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
        if tracksDurability {
            reportAppended()
            do { try await waitUntilDurable(sequence) } catch let error as StoreUnavailable {
                if failure == nil {
                    failure = error
                    logger.error("\(error)")
                }
                throw error
            }
            stream(through: self.sequence)
        } else {
            publish(head, through: lastSequence)
            if configuration.fsync == .batch && log.persists { scheduleBatchSync() }
        }
        snapshotIfDue()
    }

    /// Tells the group commit what is appended so far and the state after it, before anyone waits
    /// for it (a refusal's record too, which no one waits for: the next sync covers it).
    func reportAppended() {
        guard tracksDurability else { return }
        durability.appended(through: lastSequence, state: head, target: log.syncTarget())
    }

    /// Whether writers wait for an fsync (``Durability``): `--fsync always` on a log that persists.
    var tracksDurability: Bool { configuration.fsync == .always && log.persists }

    func publish(_ state: RegistryState, through sequence: UInt64) {
        durability.published.withLock { $0 = Published(state: state, sequence: sequence) }
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

    private func scheduleBatchSync() {
        guard !batchSyncScheduled else { return }
        batchSyncScheduled = true
        let handle = log.syncTarget()
        let queue = durability.queue
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

extension RegistryStore: GroupCommitting {}
