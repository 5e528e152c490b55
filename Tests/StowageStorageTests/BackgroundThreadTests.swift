#if canImport(Glibc)
    import Glibc
    import Testing

    @testable import StowageStorage

    /// Snapshot work runs on a thread of its own at a lower priority, and hands back its result or error.
    struct BackgroundThreadTests {
        struct Refused: Error {}

        @Test func runsOnAThreadOfItsOwnAtNiceTenAndReturnsWhatTheWorkReturns() async throws {
            let caller = pthread_self()
            let (thread, niceness) = try await BackgroundThread.run {
                (pthread_self(), getpriority(__priority_which_t(0), 0))
            }
            #expect(thread != caller)
            #expect(niceness == BackgroundThread.niceness)
            // The caller's own thread keeps its priority.
            #expect(getpriority(__priority_which_t(0), 0) < BackgroundThread.niceness)
            await #expect(throws: Refused.self) { try await BackgroundThread.run { throw Refused() } }
            // Many at once: each on its own thread, every result back.
            let sums = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<32 { group.addTask { try await BackgroundThread.run { (0...n).reduce(0, +) } } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }.sorted()
            }
            #expect(sums == (0..<32).map { $0 * ($0 + 1) / 2 }.sorted())
        }
    }
#endif
