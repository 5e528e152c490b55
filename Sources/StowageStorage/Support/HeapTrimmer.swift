#if canImport(Glibc)
    import CLinux
    import Dispatch
    import Glibc
    public import Logging

    /// Gives the heap that a burst of work freed, and the code pages it mapped, back to the kernel
    /// once the server is idle again.
    ///
    /// glibc keeps what is freed inside its arenas (a server's event-loop and dispatch threads
    /// have one each) for the next allocation; only the top of each heap is ever returned on its
    /// own. After 64 connections of traffic the server held ~9 MiB more than it needed, after the
    /// bench's whole work ~20 MiB: memory nothing would use again until the next burst.
    /// `malloc_trim(0)` returns the free pages of every arena (also those in the middle of a heap).
    /// The same idle moment unmaps the code pages start-up and the burst mapped (``CodePages``):
    /// an idle server then holds 12 MiB instead of 24.
    ///
    /// It runs when the process is idle, judged from its own CPU time: sampled every `interval`,
    /// a sample that used more than a hundredth of it marks work done, and the first quiet sample
    /// after work trims. Nothing on a request's path pays for it, and a trim (it holds each arena's
    /// lock while it walks its free chunks) never runs under load.
    public enum HeapTrimmer {
        nonisolated(unsafe) private static var timer: (any DispatchSourceTimer)?

        /// Starts trimming after each burst of work, logging each trim at debug level.
        public static func start(logger: Logger, interval: Duration = .milliseconds(250)) {
            let nanoseconds =
                Int(interval.components.seconds) * 1_000_000_000
                + Int(interval.components.attoseconds / 1_000_000_000)
            let quiet = UInt64(nanoseconds / 100)
            let samples = Samples(last: ProcessUsage.cpuNanoseconds())
            let source = DispatchSource.makeTimerSource(
                queue: DispatchQueue(label: "stowage.heap-trimmer", qos: .utility))
            source.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
            source.setEventHandler {
                let now = ProcessUsage.cpuNanoseconds()
                defer { samples.last = ProcessUsage.cpuNanoseconds() }  // the trim's own CPU is not work
                if now &- samples.last > quiet {
                    samples.worked = true
                    return
                }
                guard samples.worked else { return }
                samples.worked = false
                let before = ProcessUsage.residentBytes() ?? 0
                let started = ContinuousClock.now
                malloc_trim(0)
                let code = CodePages.release()
                let took = (ContinuousClock.now - started).components
                let after = ProcessUsage.residentBytes() ?? 0
                let microseconds = took.seconds * 1_000_000 + took.attoseconds / 1_000_000_000_000
                logger.debug(
                    "idle after work: trimmed the heap and unmapped \(mebibytes(code)) MiB of code pages, resident \(mebibytes(before)) -> \(mebibytes(after)) MiB in \(microseconds) µs"
                )
            }
            source.resume()
            timer = source
        }

        /// What the last sample saw; read and written only on the timer's serial queue.
        private final class Samples: @unchecked Sendable {
            var last: UInt64
            /// Start-up counts as work: the first quiet sample trims what opening the store left.
            var worked = true
            init(last: UInt64) { self.last = last }
        }

        static func mebibytes(_ bytes: Int) -> String {
            let tenths = (bytes * 10 + (1 << 19)) >> 20
            return "\(tenths / 10).\(tenths % 10)"
        }
    }
#endif
