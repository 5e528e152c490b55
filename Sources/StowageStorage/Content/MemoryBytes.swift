#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of an in-memory spool or blob: a plain array while small, then fixed chunks.
///
/// A growing `[UInt8]` doubles and copies, and every fresh 4 KiB page costs a fault and a clear:
/// measured with `perf` on a 256 MiB push, 40% of the server's CPU was page faults. Chunks never
/// move, and they are 2 MiB-aligned and advised as huge pages, so the kernel backs them with
/// transparent huge pages where it can (512 times fewer faults). Small blobs (most config blobs
/// and manifests' layers in tests) stay in an array of their own size.
///
/// Not synchronised: a spool has one writer at a time (its upload session), and a blob is never
/// written after its commit, so concurrent readers only read.
final class MemoryBytes: @unchecked Sendable {
    static let chunkSize = 4 << 20
    /// Up to this size the bytes stay in `small`.
    static let smallLimit = 1 << 20
    private var small: [UInt8] = []
    private var chunks: [UnsafeMutableRawPointer] = []
    private(set) var count = 0

    init() {}

    init(_ bytes: UnsafeRawBufferPointer) { write(bytes, at: 0) }

    deinit { for chunk in chunks { chunk.deallocate() } }

    /// Writes at `offset`; a gap before it reads as zeros.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        let end = offset + bytes.count
        if chunks.isEmpty && end <= Self.smallLimit {
            if offset == small.count {
                small.append(contentsOf: bytes)
            } else {
                if small.count < end { small.append(contentsOf: repeatElement(0, count: end - small.count)) }
                small.withUnsafeMutableBytes { target in
                    UnsafeMutableRawBufferPointer(rebasing: target[offset..<end]).copyMemory(from: bytes)
                }
            }
            count = small.count
            return
        }
        if chunks.isEmpty {
            // Outgrown the array: move what it holds into the first chunk.
            ensureCapacity(end)
            small.withUnsafeBytes { copyIn($0, at: 0) }
            small = []
        }
        ensureCapacity(end)
        if offset > count { fill(from: count, to: offset) }
        copyIn(bytes, at: offset)
        count = max(count, end)
    }

    private func ensureCapacity(_ size: Int) {
        while chunks.count * Self.chunkSize < size {
            let chunk = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize, alignment: 2 << 20)
            _ = madvise(chunk, Self.chunkSize, MADV_HUGEPAGE)
            chunks.append(chunk)
        }
    }

    private func copyIn(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        var done = 0
        while done < bytes.count {
            let (index, within) = (offset + done).quotientAndRemainder(dividingBy: Self.chunkSize)
            let n = min(Self.chunkSize - within, bytes.count - done)
            (chunks[index] + within).copyMemory(from: bytes.baseAddress! + done, byteCount: n)
            done += n
        }
    }

    private func fill(from start: Int, to end: Int) {
        var position = start
        while position < end {
            let (index, within) = position.quotientAndRemainder(dividingBy: Self.chunkSize)
            let n = min(Self.chunkSize - within, end - position)
            (chunks[index] + within).initializeMemory(as: UInt8.self, repeating: 0, count: n)
            position += n
        }
    }

    /// Cuts to `size` bytes (never grows), freeing whole chunks past it.
    func truncate(to size: Int) {
        guard size < count else { return }
        count = max(0, size)
        if chunks.isEmpty {
            small.removeLast(small.count - count)
            return
        }
        let keep = (count + Self.chunkSize - 1) / Self.chunkSize
        for chunk in chunks[keep...] { chunk.deallocate() }
        chunks.removeLast(chunks.count - keep)
    }

    /// Copies up to `buffer.count` bytes from `offset`; fewer only at the end.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let start = min(max(offset, 0), count)
        let total = min(buffer.count, count - start)
        guard total > 0 else { return 0 }
        if chunks.isEmpty {
            small.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + start, byteCount: total)
            }
            return total
        }
        var done = 0
        while done < total {
            let (index, within) = (start + done).quotientAndRemainder(dividingBy: Self.chunkSize)
            let n = min(Self.chunkSize - within, total - done)
            (buffer.baseAddress! + done).copyMemory(from: chunks[index] + within, byteCount: n)
            done += n
        }
        return total
    }
}
