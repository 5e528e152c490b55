#if canImport(Glibc)
    import Glibc

    /// Lets go of the pages of this program's machine code that the process has mapped but is not
    /// running: most of them were mapped while it started.
    ///
    /// A fault on a page of a file-backed mapping maps the page cache's pages around it as well
    /// (the kernel's fault-around, 64 KiB), so start-up — argument parsing, opening the store,
    /// building the routes, code run once — leaves 16 MiB of the 28 MiB mapping that holds the
    /// code (and its read-only data) resident: two thirds of an idle server's resident memory.
    /// Those pages are clean copies of the binary in the page cache: `MADV_DONTNEED` unmaps them
    /// and leaves them cached, and a page run again is mapped again by a minor fault (with its
    /// neighbours).
    ///
    /// Only pages that still are the file's are let go: a page of code written to (a debugger's
    /// breakpoint, a uprobe) is a private copy that `MADV_DONTNEED` would discard, so a mapping
    /// with one is left whole (read from `/proc/self/pagemap`).
    public enum CodePages {
        /// Unmaps this program's resident code pages; returns how many bytes were resident.
        @discardableResult
        public static func release() -> Int {
            var released = 0
            for range in executableRanges() {
                guard let resident = residentFilePages(range) else { continue }
                guard resident > 0 else { continue }
                if madvise(UnsafeMutableRawPointer(bitPattern: range.lowerBound), range.count, MADV_DONTNEED) == 0 {
                    released += resident * pageSize
                }
            }
            return released
        }

        static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

        /// The executable mappings (`r-xp`) of this program's own file, from `/proc/self/maps`.
        static func executableRanges() -> [Range<UInt>] {
            guard let executable = POSIX.executablePath(), let maps = try? POSIX.readUntilEnd("/proc/self/maps")
            else { return [] }
            var ranges: [Range<UInt>] = []
            for line in maps.split(separator: UInt8(ascii: "\n")) {
                // start-end perms offset dev inode path
                let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 5, omittingEmptySubsequences: true)
                guard fields.count == 6, Array(fields[1]) == Array("r-xp".utf8) else { continue }
                let name = String(decoding: fields[5], as: UTF8.self).trimmingLeadingSpaces()
                guard name == executable else { continue }
                let bounds = fields[0].split(separator: UInt8(ascii: "-"))
                guard bounds.count == 2,
                    let start = UInt(String(decoding: bounds[0], as: UTF8.self), radix: 16),
                    let end = UInt(String(decoding: bounds[1], as: UTF8.self), radix: 16), start < end
                else { continue }
                ranges.append(start..<end)
            }
            return ranges
        }

        /// How many pages of `range` are resident, if every one of them is the file's own page
        /// (none a private copy); `nil` when one is, or when the page map cannot be read.
        static func residentFilePages(_ range: Range<UInt>) -> Int? {
            let fd = open("/proc/self/pagemap", O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            let size = UInt(pageSize)
            let first = range.lowerBound / size
            let count = Int((range.upperBound - range.lowerBound) / size)
            var entries = [UInt64](repeating: 0, count: count)
            let wanted = count * 8
            let read = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, wanted, off_t(first * 8)) }
            guard read == wanted else { return nil }
            var resident = 0
            for entry in entries where entry & (1 << 63) != 0 {
                // Bit 61: a file page (or shared anonymous); a private copy of a written page has it clear.
                guard entry & (1 << 61) != 0 else { return nil }
                resident += 1
            }
            return resident
        }
    }

    extension String {
        fileprivate func trimmingLeadingSpaces() -> String { String(drop { $0 == " " }) }
    }
#endif
