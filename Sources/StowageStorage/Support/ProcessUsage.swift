#if canImport(Glibc)
    import CLinux
    import Glibc

    /// What this process uses of the machine, as the kernel counts it: for the heap trimmer, the
    /// admin API's `/_admin/health` memory figure and the bench.
    public enum ProcessUsage {
        /// The process's CPU time, every thread, in nanoseconds.
        public static func cpuNanoseconds() -> UInt64 {
            var time = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
            return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
        }

        /// The process's resident memory in bytes, from `/proc/self/statm`; `nil` when it cannot be
        /// read. (A file of /proc has no size to read it by, so it is read into a buffer of its own.)
        public static func residentBytes() -> Int? {
            let fd = open("/proc/self/statm", O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 128)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return nil }
            let fields = buffer[0..<count].split(separator: UInt8(ascii: " "))
            guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }

        /// Bytes the heap has handed out and not taken back (`mallinfo2`: the arenas' chunks in use
        /// and the mapped ones): what a structure costs, however much of the heap was resident before.
        public static func heapBytesInUse() -> Int {
            let info = mallinfo2()
            return Int(info.uordblks + info.hblkhd)
        }
    }
#endif
