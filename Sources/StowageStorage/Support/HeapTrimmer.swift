#if canImport(Glibc)
    import CLinux
    import Dispatch
    import Glibc
    public import Logging

    /// Gives the heap that a burst of work freed back to the kernel once the server is idle again.
    ///
    /// glibc keeps what is freed inside its arenas (a server's event-loop and dispatch threads
    /// have one each) for the next allocation; only the top of each heap is ever returned on its
    /// own. After 64 connections of traffic the server held ~9 MiB more than it needed, after the
    /// bench's whole work ~20 MiB: memory nothing would use again until the next burst.
    /// `malloc_trim(0)` returns the free pages of every arena (also those in the middle of a heap).
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
            let samples = Samples(last: cpuNanoseconds())
            let source = DispatchSource.makeTimerSource(
                queue: DispatchQueue(label: "stowage.heap-trimmer", qos: .utility))
            source.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
            source.setEventHandler {
                let now = cpuNanoseconds()
                defer { samples.last = cpuNanoseconds() }  // the trim's own CPU is not work
                if now &- samples.last > quiet {
                    samples.worked = true
                    return
                }
                guard samples.worked else { return }
                samples.worked = false
                let before = residentBytes()
                let started = ContinuousClock.now
                malloc_trim(0)
                let took = (ContinuousClock.now - started).components
                let after = residentBytes()
                let microseconds = took.seconds * 1_000_000 + took.attoseconds / 1_000_000_000_000
                logger.debug(
                    "idle after work: trimmed the heap, resident \(mebibytes(before)) -> \(mebibytes(after)) MiB in \(microseconds) µs"
                )
            }
            source.resume()
            timer = source
        }

        /// What the last sample saw; read and written only on the timer's serial queue.
        private final class Samples: @unchecked Sendable {
            var last: UInt64
            var worked = false
            init(last: UInt64) { self.last = last }
        }

        static func cpuNanoseconds() -> UInt64 {
            var time = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
            return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        }

        /// The process's resident memory, from `/proc/self/statm` (0 when it cannot be read; a
        /// file of /proc has no size to read it by, so it is read into a buffer of its own).
        static func residentBytes() -> Int {
            let fd = open("/proc/self/statm", O_RDONLY)
            guard fd >= 0 else { return 0 }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 128)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return 0 }
            let fields = buffer[0..<count].split(separator: UInt8(ascii: " "))
            guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }

        static func mebibytes(_ bytes: Int) -> String {
            let tenths = (bytes * 10 + (1 << 19)) >> 20
            return "\(tenths / 10).\(tenths % 10)"
        }
    }
#endif
