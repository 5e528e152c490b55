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
        var invalid: UInt8 = 0
        // No early exit: the loop has no branch, so the compiler runs it on vectors.
        func word(_ start: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in start..<(start + 16) {
                let byte = bytes[index]
                let digit = byte &- UInt8(ascii: "0")
                let letter = byte &- UInt8(ascii: "a")
                invalid |= (digit < 10 ? 0 : 1) & (letter < 6 ? 0 : 1)
                value = value << 4 | UInt64((digit < 10 ? digit : letter &+ 10) & 0xF)
            }
            return value
        }
        let head = (word(7), word(23), word(39), word(55))
        let tail = bytes.count == 135 ? Tail((word(71), word(87), word(103), word(119))) : nil
        guard invalid == 0 else { return nil }
        self.head = head
        self.tail = tail
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
        func put(_ word: UInt64, at start: Int) {
            for index in 0..<16 {
                let nibble = UInt8(truncatingIfNeeded: word >> (60 - 4 * UInt64(index))) & 0xF
                buffer[start + index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble
            }
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
