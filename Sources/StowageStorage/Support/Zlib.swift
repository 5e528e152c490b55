import CZlib

/// zlib compression and CRC-32 from the system libz.
public enum Zlib {
    /// Why inflating failed.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The data is not a complete, valid zlib stream.
        case corrupt(String)
        /// The data inflates to more than the allowed size (a zlib bomb, or a wrong size in a header).
        case tooLarge(limit: Int)

        public var description: String {
            switch self {
            case .corrupt(let why): "not a valid zlib stream (\(why))"
            case .tooLarge(let limit): "inflates past the limit of \(limit) bytes"
            }
        }
    }

    /// Compresses `bytes` into a zlib stream at `level` (1 fastest, 9 smallest).
    public static func compress(_ bytes: [UInt8], level: Int32 = 1, piece: Int = piece) -> [UInt8] {
        let deflater = Deflater(level: level, piece: piece)
        deflater.append(bytes)
        return deflater.finish()
    }

    /// A zlib stream written in pieces: the text it compresses need never be whole in memory.
    final class Deflater {
        private var stream = z_stream()
        private var buffer = [UInt8](repeating: 0, count: 1 << 18)
        /// The compressed stream so far.
        private(set) var output: [UInt8] = []
        /// How many bytes went in.
        private(set) var consumed = 0
        private let piece: Int

        init(level: Int32, piece: Int = Zlib.piece) {
            self.piece = piece
            precondition(deflateInit_(&stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        }

        deinit { deflateEnd(&stream) }

        /// Compresses `bytes` onto the stream, in pieces zlib's 32-bit counts hold.
        func append(_ bytes: borrowing [UInt8]) {
            consumed += bytes.count
            bytes.withUnsafeBufferPointer { all in
                var offset = 0
                repeat {
                    let count = min(all.count - offset, piece)
                    run(UnsafeBufferPointer(rebasing: all[offset..<offset + count]), flush: Z_NO_FLUSH)
                    offset += count
                } while offset < all.count
            }
        }

        /// Ends the stream and returns it whole.
        func finish() -> [UInt8] {
            run(UnsafeBufferPointer(start: nil, count: 0), flush: Z_FINISH)
            return output
        }

        private func run(_ input: UnsafeBufferPointer<UInt8>, flush: Int32) {
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                let (status, produced) = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let status = deflate(&stream, flush)
                    return (status, out.count - Int(stream.avail_out))
                }
                output.append(contentsOf: buffer[0..<produced])
                precondition(
                    status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, "deflate failed: \(status)")
                if flush == Z_FINISH ? status == Z_STREAM_END : (stream.avail_in == 0 && stream.avail_out > 0) {
                    return
                }
            }
        }
    }

    /// Inflates a zlib stream that must hold exactly `length` bytes (a snapshot's header says how
    /// many), straight into one buffer of that size. The buffer is not zero-filled first (inflate
    /// writes every byte it reports: one pass over 768 MiB less at a million images), and zlib is
    /// fed in pieces its 32-bit counts can hold, so a text above 4 GiB inflates too.
    public static func decompress(_ bytes: [UInt8], exactly length: Int, piece: Int = piece) throws(Failure) -> [UInt8]
    {
        var failure: Failure?
        let output = [UInt8](unsafeUninitializedCapacity: length) { out, initialized in
            bytes.withUnsafeBufferPointer { input in
                do throws(Failure) { try inflate(input, exactlyInto: out, piece: piece) } catch { failure = error }
            }
            initialized = failure == nil ? length : 0
        }
        if let failure { throw failure }
        return output
    }

    /// Inflates the zlib stream `input`, which must hold exactly `output.count` bytes, into
    /// `output`: every byte of it written, nothing past it, and nothing of `input` left over.
    /// (Segments of a snapshot inflate this way on every core, each into its place in one text.)
    ///
    /// With `checksum: false` the stream's trailer, the Adler-32 of what it inflates to, is not
    /// computed: for a caller that has checked the stream's own bytes already (a snapshot segment
    /// carries their CRC-32), it checks the same bytes a second time, and costs a pass over all
    /// the text (3% of a restart's CPU at a million images). The header is still checked, and the
    /// trailer's four bytes must be there and end the input.
    public static func inflate(
        _ input: UnsafeBufferPointer<UInt8>, exactlyInto output: UnsafeMutableBufferPointer<UInt8>,
        checksum: Bool = true, piece: Int = piece
    ) throws(Failure) {
        var stream = z_stream()
        // Without the checksum the deflate data between header and trailer is inflated raw.
        let body = checksum ? 0..<input.count : try rawBody(of: input)
        let initialized =
            checksum
            ? inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            : inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initialized == Z_OK else { throw .corrupt("inflateInit failed") }
        defer { inflateEnd(&stream) }
        let input = UnsafeBufferPointer(rebasing: input[body])
        var (consumed, produced) = (0, 0)
        func step(into out: UnsafeMutablePointer<UInt8>?, room: Int) -> Int32 {
            let offered = (input: min(input.count - consumed, piece), output: min(room, piece))
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0 + consumed })
            stream.avail_in = uInt(offered.input)
            stream.next_out = out
            stream.avail_out = uInt(offered.output)
            let status = CZlib.inflate(&stream, Z_NO_FLUSH)
            consumed += offered.input - Int(stream.avail_in)
            return status
        }
        var status: Int32
        repeat {
            let room = output.count - produced
            status = step(into: output.baseAddress.map { $0 + produced }, room: room)
            produced += min(room, piece) - Int(stream.avail_out)
        } while status == Z_OK && produced < output.count
        // The buffer is full and the stream has not ended: it must end without another byte.
        // (zlib answers Z_OK only when it made progress, so this ends.)
        if status == Z_OK || (status == Z_BUF_ERROR && produced == output.count) {
            var spare: UInt8 = 0
            repeat {
                status = step(into: &spare, room: 1)
                if stream.avail_out == 0 { throw .tooLarge(limit: output.count) }
            } while status == Z_OK
        }
        guard status == Z_STREAM_END else {
            throw .corrupt(
                status == Z_BUF_ERROR ? "truncated" : stream.msg.map { String(cString: $0) } ?? "status \(status)")
        }
        guard consumed == input.count else {
            throw .corrupt(checksum ? "trailing data after the stream" : "not four bytes of trailer after the data")
        }
        guard produced == output.count else { throw .corrupt("inflates to \(produced) bytes, not \(output.count)") }
    }

    /// Where the deflate data of the zlib stream `input` lies: after its two-byte header (deflate,
    /// a window of at most 32 KiB, no preset dictionary, its check bits right) and before its
    /// four-byte trailer.
    private static func rawBody(of input: UnsafeBufferPointer<UInt8>) throws(Failure) -> Range<Int> {
        guard input.count >= 6 else { throw .corrupt("truncated") }
        let (method, flags) = (input[0], input[1])
        guard method & 0x0F == 8, method >> 4 <= 7, (UInt16(method) << 8 | UInt16(flags)) % 31 == 0,
            flags & 0x20 == 0
        else { throw .corrupt("incorrect header check") }
        return 2..<(input.count - 4)
    }

    /// The most bytes handed to zlib at once: its counts are 32-bit. (Tests pass smaller pieces.)
    public static let piece = Int(UInt32.max)

    /// Inflates a zlib stream (or a gzip file, with `gzip`), refusing to produce more than `limit` bytes.
    ///
    /// The output grows in steps, so a stream that claims little but inflates to much (a bomb)
    /// is stopped at `limit` with little memory spent.
    public static func decompress(_ bytes: [UInt8], limit: Int, gzip: Bool = false, piece: Int = piece) throws(Failure)
        -> [UInt8]
    {
        var stream = z_stream()
        let windowBits: Int32 = gzip ? 15 + 16 : 15
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        return try bytes.withUnsafeBufferPointer { (input) throws(Failure) -> [UInt8] in
            var consumed = 0
            while true {
                let offered = min(input.count - consumed, piece)
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0 + consumed })
                stream.avail_in = uInt(offered)
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.avail_out))
                }
                consumed += offered - Int(stream.avail_in)
                if output.count + produced > limit { throw .tooLarge(limit: limit) }
                output.append(contentsOf: chunk[0..<produced])
                switch status {
                case Z_STREAM_END:
                    guard consumed == input.count else { throw .corrupt("trailing data after the stream") }
                    return output
                case Z_OK:
                    continue
                case Z_BUF_ERROR where consumed == input.count:
                    throw .corrupt("truncated")
                default:
                    throw .corrupt(stream.msg.map { String(cString: $0) } ?? "status \(status)")
                }
            }
        }
    }

    /// The zlib CRC-32 of `bytes`, continuing from `crc`.
    public static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0, piece: Int = piece) -> UInt32
    {
        guard let base = bytes.baseAddress else { return crc }
        var (crc, offset) = (uLong(crc), 0)
        while offset < bytes.count {
            let count = min(bytes.count - offset, piece)
            crc = CZlib.crc32(crc, (base + offset).assumingMemoryBound(to: Bytef.self), uInt(count))
            offset += count
        }
        return UInt32(crc)
    }

    /// The zlib CRC-32 of `bytes`.
    public static func crc32<C: Collection<UInt8>>(_ bytes: C) -> UInt32 {
        if let crc = bytes.withContiguousStorageIfAvailable({ crc32(UnsafeRawBufferPointer($0)) }) { return crc }
        return Array(bytes).withUnsafeBytes { crc32($0) }
    }
}
