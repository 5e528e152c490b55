/// A content digest: `sha256:` and 64 lowercase hex digits, or `sha512:` and 128.
///
/// Held as the hash's bytes, not as its text: a sha256 is four words inside the value (40 bytes in
/// all, no allocation), a sha512's second half is behind one shared reference. A state with a
/// million images names a few million digests; as 71-character strings each was an allocation of
/// its own (or a shared one found by a lookup), hashed and compared through a pointer. The text is
/// made when it is asked for (``rawValue``) or written straight from the bytes (``appendJSON(to:)``).
public struct Digest: ValidatedString {
    /// The first 32 bytes of the hash, as big-endian words: the whole of a sha256.
    private let head: Words
    /// The last 32 bytes of a sha512; `nil` for a sha256.
    private let tail: Tail?

    private typealias Words = (UInt64, UInt64, UInt64, UInt64)

    private final class Tail: Sendable {
        let words: Words
        init(_ words: Words) { self.words = words }
    }

    /// The digest algorithms the registry accepts.
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256
        case sha512

        /// Hex digits of an encoded digest.
        public var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public init?(_ text: String) {
        var text = text
        guard let digest = text.withUTF8({ Digest(utf8: $0) }) else { return nil }
        self = digest
    }

    /// The digest whose text is `bytes`: `sha256:` and 64 lowercase hex digits, or `sha512:` and
    /// 128; `nil` for anything else.
    public init?(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 71 || bytes.count == 135, bytes[6] == UInt8(ascii: ":") else { return nil }
        let bits: (UInt8, UInt8, UInt8) =
            bytes.count == 71
            ? (UInt8(ascii: "2"), UInt8(ascii: "5"), UInt8(ascii: "6"))
            : (UInt8(ascii: "5"), UInt8(ascii: "1"), UInt8(ascii: "2"))
        guard bytes[0] == UInt8(ascii: "s"), bytes[1] == UInt8(ascii: "h"), bytes[2] == UInt8(ascii: "a"),
            bytes[3] == bits.0, bytes[4] == bits.1, bytes[5] == bits.2
        else { return nil }
        let hex = UnsafeRawPointer(bytes.baseAddress!) + 7
        guard let a = Self.word(hex), let b = Self.word(hex + 16), let c = Self.word(hex + 32),
            let d = Self.word(hex + 48)
        else { return nil }
        if bytes.count == 135 {
            guard let e = Self.word(hex + 64), let f = Self.word(hex + 80), let g = Self.word(hex + 96),
                let h = Self.word(hex + 112)
            else { return nil }
            tail = Tail((e, f, g, h))
        } else {
            tail = nil
        }
        head = (a, b, c, d)
    }

    /// The value of the 16 lowercase hex digits at `text`; `nil` when one is not one.
    @inline(__always)
    private static func word(_ text: UnsafeRawPointer) -> UInt64? {
        guard let high = half(text.loadUnaligned(as: UInt64.self).littleEndian),
            let low = half(text.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian)
        else { return nil }
        return UInt64(high) << 32 | UInt64(low)
    }

    /// The value of 8 lowercase hex digits loaded in one word, the first in its lowest byte; `nil`
    /// when one is not one. Eight bytes at once (a byte at a time was a fifteenth of a restart):
    /// a byte below 0x80 plus 0x80 - lo has its high bit set when it is at least lo.
    @inline(__always)
    private static func half(_ x: UInt64) -> UInt32? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high = ones &* 0x80
        let digit = (x &+ ones &* 0x50) & ~(x &+ ones &* 0x46)  // "0"..."9"
        let letter = (x &+ ones &* 0x1F) & ~(x &+ ones &* 0x19)  // "a"..."f"
        guard x & high == 0, (digit | letter) & high == high else { return nil }
        // Each byte its digit's value ("a" is 0x61: its 0x40 bit adds 9), then the nibbles packed.
        let nibbles = (x & (ones &* 0x0F)) &+ ((x >> 6) & ones) &* 9
        var packed = ((nibbles << 4) | (nibbles >> 8)) & 0x00FF_00FF_00FF_00FF
        packed = (packed | packed >> 8) & 0x0000_FFFF_0000_FFFF
        packed = (packed | packed >> 16) & 0xFFFF_FFFF
        return UInt32(truncatingIfNeeded: packed).byteSwapped
    }

    /// The digest of a hash's bytes: 32 of them for sha256, 64 for sha512.
    public init?(algorithm: Algorithm, hash: UnsafeRawBufferPointer) {
        guard hash.count == algorithm.hexLength / 2 else { return nil }
        func word(_ start: Int) -> UInt64 {
            (start..<(start + 8)).reduce(0) { $0 << 8 | UInt64(hash[$1]) }
        }
        head = (word(0), word(8), word(16), word(24))
        tail = algorithm == .sha512 ? Tail((word(32), word(40), word(48), word(56))) : nil
    }

    /// Builds a digest from an algorithm and its hex encoding.
    public init?(algorithm: Algorithm, hex: String) {
        self.init(algorithm.rawValue + ":" + hex)
    }

    /// The algorithm part.
    public var algorithm: Algorithm { tail == nil ? .sha256 : .sha512 }

    /// How many bytes the text has: 71 or 135.
    public var textLength: Int { tail == nil ? 71 : 135 }

    /// The text, `sha256:...`.
    public var rawValue: String {
        String(unsafeUninitializedCapacity: textLength) { write(into: $0) }
    }

    /// The hex part, after the colon.
    public var hex: String {
        String(unsafeUninitializedCapacity: textLength - 7) { buffer in
            withText { text in
                _ = buffer.initialize(from: text[7...])
            }
            return textLength - 7
        }
    }

    /// Calls `body` with the text's bytes, made on the stack.
    public func withText<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 135) { buffer in
            let count = write(into: buffer)
            return try body(UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// Appends the text as a JSON string (it holds nothing JSON escapes).
    public func appendJSON(to output: inout [UInt8]) {
        withText { text in
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: text)
            output.append(UInt8(ascii: "\""))
        }
    }

    /// Writes the text at the start of `buffer` (which has room for it); returns its length.
    private func write(into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let name: StaticString = tail == nil ? "sha256:" : "sha512:"
        name.withUTF8Buffer { for index in 0..<7 { buffer[index] = $0[index] } }
        let text = UnsafeMutableRawPointer(buffer.baseAddress!)
        func put(_ word: UInt64, at start: Int) {
            text.storeBytes(
                of: Self.digits(UInt32(truncatingIfNeeded: word >> 32)), toByteOffset: start, as: UInt64.self)
            text.storeBytes(of: Self.digits(UInt32(truncatingIfNeeded: word)), toByteOffset: start + 8, as: UInt64.self)
        }
        put(head.0, at: 7)
        put(head.1, at: 23)
        put(head.2, at: 39)
        put(head.3, at: 55)
        if let tail {
            put(tail.words.0, at: 71)
            put(tail.words.1, at: 87)
            put(tail.words.2, at: 103)
            put(tail.words.3, at: 119)
        }
        return textLength
    }

    /// The 8 hex digits of `value` as one word to store, the first in its lowest byte.
    @inline(__always)
    private static func digits(_ value: UInt32) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        var spread = UInt64(value.byteSwapped)  // its bytes in the order they are written
        spread = (spread | spread << 16) & 0x0000_FFFF_0000_FFFF
        spread = (spread | spread << 8) & 0x00FF_00FF_00FF_00FF
        // A byte's high nibble first, then its low one: one nibble a byte.
        let nibbles = (spread >> 4) & 0x000F_000F_000F_000F | (spread & 0x000F_000F_000F_000F) << 8
        let letters = ((nibbles &+ ones &* 6) & (ones &* 0x10)) >> 4  // 1 in each byte from 10 on
        return (nibbles &+ ones &* 0x30 &+ letters &* 0x27).littleEndian
    }

    private static func same(_ a: Words, _ b: Words) -> Bool {
        a.0 == b.0 && a.1 == b.1 && a.2 == b.2 && a.3 == b.3
    }

    /// Whether `a` comes before `b`, word by word (big-endian words: the order of their hex).
    private static func before(_ a: Words, _ b: Words) -> Bool {
        if a.0 != b.0 { return a.0 < b.0 }
        if a.1 != b.1 { return a.1 < b.1 }
        if a.2 != b.2 { return a.2 < b.2 }
        return a.3 < b.3
    }

    public static func == (lhs: Digest, rhs: Digest) -> Bool {
        guard same(lhs.head, rhs.head) else { return false }
        switch (lhs.tail, rhs.tail) {
        case (nil, nil): return true
        case (let a?, let b?): return a === b || same(a.words, b.words)
        default: return false
        }
    }

    /// The order of the texts: every sha256 before every sha512, then by the hex digits.
    public static func < (lhs: Digest, rhs: Digest) -> Bool {
        switch (lhs.tail, rhs.tail) {
        case (nil, nil): return before(lhs.head, rhs.head)
        case (nil, _?): return true
        case (_?, nil): return false
        case (let a?, let b?):
            return same(lhs.head, rhs.head) ? before(a.words, b.words) : before(lhs.head, rhs.head)
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(head.0)
        hasher.combine(head.1)
        hasher.combine(head.2)
        hasher.combine(head.3)
        if let tail {
            hasher.combine(tail.words.0)
            hasher.combine(tail.words.1)
            hasher.combine(tail.words.2)
            hasher.combine(tail.words.3)
        }
    }
}
