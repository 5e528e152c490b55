#if canImport(Glibc)
    import Glibc
#endif

/// A large registry's state is a heap of a gigabyte or more (a million images), and most of a
/// restart from a snapshot of it was the kernel zeroing that heap's fresh pages one 4 KiB fault
/// at a time: a third of the restart's CPU in the profile, more in a VM whose memory is backed
/// lazily. glibc's malloc asks for 2 MiB pages (`madvise(MADV_HUGEPAGE)`) when its tunable
/// `glibc.malloc.hugetlb` is 1, and tunables are read once, when a process starts; so a server
/// starts itself again, once, with it set.
public enum HugePages {
    static let tunable = "glibc.malloc.hugetlb"

    /// Executes this program again, same pid, arguments and environment, with `GLIBC_TUNABLES`
    /// asking for huge pages; returns (changing nothing) when it is set already, when
    /// `STOWAGE_HUGE_PAGES=0`, when the kernel's transparent huge pages are off, or when the
    /// exec fails. Call it before opening anything: descriptors without close-on-exec survive.
    public static func requestForTheHeap() {
        #if os(Linux)
            let environment = variables()
            if environment.contains(where: { $0 == "STOWAGE_HUGE_PAGES=0" }) { return }
            let prefix = "GLIBC_TUNABLES="
            let current = environment.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            if current?.contains(tunable) == true { return }
            guard transparentHugePagesAvailable() else { return }
            let tunables = (current.map { $0.isEmpty ? "" : $0 + ":" } ?? "") + tunable + "=1"
            let changed = environment.filter { !$0.hasPrefix(prefix) } + [prefix + tunables]
            // execve with an environment of its own: setenv is not safe with other threads running.
            // The binary by its own path, not /proc/self/exe, so that its name stays `stowage`.
            guard let path = POSIX.executablePath() else { return }
            var cStrings = changed.map { strdup($0) } + [nil]
            _ = execve(path, CommandLine.unsafeArgv, &cStrings)
            for pointer in cStrings { free(pointer) }
        #endif
    }

    /// Whether `MADV_HUGEPAGE` takes effect: transparent huge pages set to `always` or `madvise`.
    static func transparentHugePagesAvailable() -> Bool {
        guard let bytes = try? POSIX.readFile("/sys/kernel/mm/transparent_hugepage/enabled") else { return false }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.contains("[always]") || text.contains("[madvise]")
    }

    /// This process's environment, as `NAME=value` strings.
    static func variables() -> [String] {
        var result: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            result.append(String(cString: entry))
            cursor += 1
        }
        return result
    }
}
