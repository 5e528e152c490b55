#if canImport(Glibc)
    import Glibc
#endif

/// Long work off the request path (a snapshot, a checkpoint's state), on a thread of its own that
/// yields the cores to the threads serving requests.
///
/// On Swift's cooperative pool, which has as many threads as there are cores, such work held one
/// of them for the whole of it (a snapshot at a million images: 0.2-0.7 s), leaving requests one
/// thread on this 2-core machine. On a thread of its own at nice 10 the scheduler gives a request's
/// thread the core when it wakes; the work gets about a tenth of a core that is also wanted
/// (weight 110 against 1024), all of an idle one.
public enum BackgroundThread {
    /// The nice value of the thread: lowering a thread's priority needs no privilege.
    static let niceness: Int32 = 10

    /// Runs `work` on a new thread at ``niceness`` and returns what it returns.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job {
                #if os(Linux)
                    // Linux keeps a nice value per thread: PRIO_PROCESS with 0 is the calling thread.
                    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
                #endif
                continuation.resume(with: Result { try work() })
            }
            let context = Unmanaged.passRetained(job).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(
                &thread, nil,
                { context in
                    let job = Unmanaged<Job>.fromOpaque(context!).takeRetainedValue()
                    job.body()
                    return nil
                }, context)
            if started == 0 {
                pthread_detach(thread)
            } else {
                // No thread to be had: the work runs here, as it did before.
                Unmanaged<Job>.fromOpaque(context).release()
                continuation.resume(with: Result { try work() })
            }
        }
    }

    private final class Job: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
