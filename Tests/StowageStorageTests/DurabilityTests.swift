import Dispatch
import Glibc
import StowageCore
import Synchronization
import Testing

@testable import StowageStorage

/// The group commit (``Durability`` driven by ``GroupCommitting``): who runs each fsync, how many
/// writers one covers, that nobody returns before a sync covered its record and published it, and
/// that a failed fsync reaches every writer waiting and every one after.
struct DurabilityTests {
    /// Counts syncs and tells where they ran; can hold a sync until released, or fail.
    final class Target: LogSyncTarget {
        struct Failed: Error {}

        private struct Counts {
            var onFsyncThread = 0
            var byWriter = 0
            var running = 0
            var held = false
            var failing = false
        }

        private let counts = Mutex(Counts())
        static let fsyncThread = DispatchSpecificKey<Bool>()

        var onFsyncThread: Int { counts.withLock { $0.onFsyncThread } }
        var byWriter: Int { counts.withLock { $0.byWriter } }
        var running: Int { counts.withLock { $0.running } }

        func hold(_ held: Bool) { counts.withLock { $0.held = held } }
        func fail() { counts.withLock { $0.failing = true } }

        func sync() throws {
            let failing = counts.withLock { counts in
                if DispatchQueue.getSpecific(key: Self.fsyncThread) == true {
                    counts.onFsyncThread += 1
                } else {
                    counts.byWriter += 1
                }
                counts.running += 1
                return counts.failing
            }
            while counts.withLock({ $0.held }) { usleep(200) }
            usleep(50)  // an fsync takes time: writers arriving meanwhile gather behind it
            counts.withLock { $0.running -= 1 }
            if failing { throw Failed() }
        }
    }

    /// A single writer as ``RegistryStore`` is one: appends in order, on its actor, then waits.
    actor Writer: GroupCommitting {
        nonisolated let durability = Durability(state: RegistryState(), sequence: 0)
        nonisolated let target = Target()
        private var last: UInt64 = 0

        init() { durability.queue.setSpecific(key: Target.fsyncThread, value: true) }

        /// Appends one record and returns its sequence number once it is durable.
        @discardableResult
        func write() async throws -> UInt64 {
            last += 1
            let sequence = last
            durability.appended(through: sequence, state: RegistryState(), target: target)
            try await waitUntilDurable(sequence)
            return sequence
        }

        nonisolated var published: UInt64 { durability.published.withLock { $0.sequence } }
    }

    @Test func aLoneWriterLeadsItsOwnSyncsOnceTheyStopOverlapping() async throws {
        let writer = Writer()
        for n in 1...20 {
            let sequence = try await writer.write()
            #expect(sequence == UInt64(n))
            #expect(writer.published == sequence, "returned before its record was published")
        }
        #expect(writer.target.onFsyncThread == Durability.loneSyncsBeforeLeading)
        #expect(writer.target.byWriter == 20 - Durability.loneSyncsBeforeLeading)
    }

    @Test func writersArrivingDuringASyncShareTheNextOneOnTheFsyncThread() async throws {
        let writer = Writer()
        // Lone first, so the writer leads its own: writers arriving during it must still be covered.
        for _ in 1...Durability.loneSyncsBeforeLeading { try await writer.write() }
        writer.target.hold(true)
        let first = Task { try await writer.write() }
        while writer.target.running == 0 { try await Task.sleep(for: .milliseconds(1)) }
        let others = (0..<10).map { _ in Task { try await writer.write() } }
        // Every one of them has appended and waits; none returns while the sync is held.
        while writer.durability.waiting < 10 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(writer.published == UInt64(Durability.loneSyncsBeforeLeading))
        writer.target.hold(false)
        #expect(try await first.value == UInt64(Durability.loneSyncsBeforeLeading + 1))
        var sequences: [UInt64] = []
        for other in others { sequences.append(try await other.value) }
        #expect(Set(sequences).count == 10)
        #expect(writer.published == UInt64(Durability.loneSyncsBeforeLeading + 11))
        // The held sync was the writer's own; one more, on the fsync thread, covered the ten.
        #expect(writer.target.byWriter == 1)
        #expect(writer.target.onFsyncThread == Durability.loneSyncsBeforeLeading + 1)
    }

    @Test func aFailedSyncReachesEveryWriterWaitingAndEveryOneAfter() async throws {
        let writer = Writer()
        try await writer.write()
        writer.target.hold(true)
        writer.target.fail()
        let waiting = (0..<6).map { _ in Task { try await writer.write() } }
        while writer.target.running == 0 { try await Task.sleep(for: .milliseconds(1)) }
        try await Task.sleep(for: .milliseconds(20))
        writer.target.hold(false)
        for task in waiting {
            await #expect(throws: StoreUnavailable.self) { try await task.value }
        }
        await #expect(throws: StoreUnavailable.self) { try await writer.write() }
        #expect(writer.published == 1, "nothing after the failed sync was published")
    }

    /// Real threads: writers on every core, each checking that its record is published when it
    /// returns; syncs are shared (far fewer than writes) and none is lost or left waiting.
    @Test func manyWritersAtOnceEachReturnOnlyOnceCoveredAndShareSyncs() async throws {
        let writer = Writer()
        let tasks = 16
        let writes = 100
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    for _ in 0..<writes {
                        let sequence = try await writer.write()
                        #expect(writer.published >= sequence)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(writer.published == UInt64(tasks * writes))
        let syncs = writer.target.onFsyncThread + writer.target.byWriter
        #expect(syncs < tasks * writes / 2, "\(syncs) syncs for \(tasks * writes) writes")
    }
}
