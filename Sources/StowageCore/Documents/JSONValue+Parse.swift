extension JSONValue {
    /// Parses one JSON value (any type at the top level), with only whitespace around it.
    public static func parse(_ bytes: some Sequence<UInt8>) throws(SyntaxError) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(SyntaxError) -> JSONValue in
            var parser = JSONParser(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw parser.error("unexpected data after the value") }
            return value
        }
    }

    /// Parses a document held as text.
    public static func parse(_ text: String) throws(SyntaxError) -> JSONValue { try parse(text.utf8) }
}

/// The strict recursive-descent parser behind ``JSONValue/parse(_:)``.
package struct JSONParser: ~Copyable {
    package let bytes: UnsafeBufferPointer<UInt8>
    package var index = 0

    package init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    package func error(_ reason: String) -> JSONValue.SyntaxError {
        JSONValue.SyntaxError(offset: index, reason: reason)
    }

    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    package mutating func value(depth: Int) throws(JSONValue.SyntaxError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString, _ value: JSONValue) throws(JSONValue.SyntaxError) -> JSONValue {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw error("unexpected character") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw error("unexpected character")
        }
        index += count
        return value
    }

    package mutating func expect(_ byte: UInt8, _ what: String) throws(JSONValue.SyntaxError) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { throw error("expected \(what)") }
        index += 1
    }

    mutating func object(depth: Int) throws(JSONValue.SyntaxError) -> JSONValue {
        guard depth <= JSONValue.maximumDepth else { throw error("nested deeper than \(JSONValue.maximumDepth)") }
        index += 1
        var result: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(result)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try string()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            result[key] = try value(depth: depth)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { throw error("a trailing comma") }
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
            index += 1
            return .object(result)
        }
    }

    mutating func array(depth: Int) throws(JSONValue.SyntaxError) -> JSONValue {
        guard depth <= JSONValue.maximumDepth else { throw error("nested deeper than \(JSONValue.maximumDepth)") }
        index += 1
        var result: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(result)
        }
        while true {
            skipWhitespace()
            result.append(try value(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { throw error("a trailing comma") }
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
            index += 1
            return .array(result)
        }
    }

    package mutating func string() throws(JSONValue.SyntaxError) -> String {
        index += 1
        let start = index
        // The common case: no escapes, so the bytes are the string. ASCII needs no validating,
        // and `String(validating:as:)` is generic over the encoding, unspecialised: its
        // metadata lookups were a fifth of reading a snapshot.
        var ascii = true
        while true {
            skipPlainWords()
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let run = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                if ascii { return String(decoding: run, as: UTF8.self) }
                guard let text = String(validating: run, as: UTF8.self) else {
                    throw JSONValue.SyntaxError(offset: start, reason: "a string is not valid UTF-8")
                }
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw error("a control character inside a string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        return try escapedString(from: start, plainUpTo: index, ascii: ascii)
    }

    /// The rest of a string that has an escape: `start` is its first byte, the bytes up to
    /// `plainUpTo` have no escape (`ascii` says whether they are all ASCII), and the reader stands
    /// at the first backslash. Runs between escapes are copied whole.
    private mutating func escapedString(
        from start: Int, plainUpTo plain: Int, ascii: Bool
    ) throws(JSONValue.SyntaxError) -> String {
        var ascii = ascii
        var scalars: [UInt8] = []
        scalars.reserveCapacity(plain - start + 64)
        scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<plain]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                if ascii { return String(decoding: scalars, as: UTF8.self) }
                guard let text = String(validating: scalars, as: UTF8.self) else {
                    throw JSONValue.SyntaxError(offset: start, reason: "a string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { break }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        // A high surrogate must be followed by an escaped low one.
                        guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw error("an unpaired surrogate") }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("an unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw error("an unpaired surrogate")
                    }
                    if code >= 0x80 { ascii = false }
                    scalars.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
                default: throw error("an unknown escape")
                }
            default:
                // A plain run, up to the next quote, backslash, control or non-ASCII byte.
                let run = index
                skipPlainWords()
                while index < bytes.count, Self.plain(bytes[index]) { index += 1 }
                if index > run {
                    scalars.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                } else {
                    guard byte >= 0x20 else { throw error("a control character inside a string") }
                    ascii = false
                    scalars.append(byte)
                    index += 1
                }
            }
        }
        throw error("an unterminated string")
    }

    /// The bytes of the string the reader stands at (its opening quote) when they are plain ASCII
    /// with no escape, the reader then past its closing quote; `nil`, the reader unmoved, when the
    /// string needs ``string()`` to decode and check it (or to say why it is not a string).
    package mutating func plainString() -> UnsafeBufferPointer<UInt8>? {
        let quote = index
        index += 1
        let start = index
        while true {
            skipPlainWords()
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return UnsafeBufferPointer(rebasing: bytes[start..<index - 1])
            }
            guard Self.plain(byte) else { break }
            index += 1
        }
        index = quote
        return nil
    }

    /// Steps over one value without building it, checking only that its brackets close and its
    /// strings end: what it steps over is for a strict reading of those bytes afterwards.
    package mutating func skipValue() throws(JSONValue.SyntaxError) {
        var depth = 0
        repeat {
            guard index < bytes.count else { throw error("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                while true {
                    skipPlainWords()
                    guard index < bytes.count else { throw error("an unterminated string") }
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\"") { break }
                    if byte == UInt8(ascii: "\\") { index += 1 }  // the escaped byte
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { throw error("unexpected character") }
                depth -= 1
                index += 1
            case UInt8(ascii: ","), UInt8(ascii: ":"), 0x20, 0x09, 0x0A, 0x0D:
                guard depth > 0 else { throw error("unexpected character") }
                index += 1
            default:
                // A number or a literal: up to the next delimiter.
                index += 1
                while index < bytes.count, !Self.delimiter(bytes[index]) { index += 1 }
            }
        } while depth > 0
    }

    /// Whether `byte` ends a number or a literal.
    private static func delimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["),
            UInt8(ascii: "]"), UInt8(ascii: "\""), 0x20, 0x09, 0x0A, 0x0D:
            true
        default: false
        }
    }

    /// Whether `byte` may stand in a string's plain run: ASCII, not a control, quote or backslash.
    private static func plain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\")
    }

    /// Steps over eight bytes at a time while none is a quote, a backslash, a control character
    /// or non-ASCII: the bytes a string's plain run is made of.
    private mutating func skipPlainWords() {
        guard let base = bytes.baseAddress else { return }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while bytes.count - index >= 8 {
            let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            // A byte below n sets its high bit in (word - n) & ~word (for n ≤ 0x80, word < 0x80).
            func anyBelow(_ word: UInt64, _ n: UInt64) -> Bool { (word &- ones &* n) & ~word & highs != 0 }
            if word & highs != 0 || anyBelow(word, 0x20) || anyBelow(word ^ (ones &* 0x22), 1)
                || anyBelow(word ^ (ones &* 0x5C), 1)
            {
                return
            }
            index += 8
        }
    }

    mutating func hex4() throws(JSONValue.SyntaxError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("a short \\u escape") }
        var code: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("a bad \\u escape")
            }
            code = code << 4 | UInt32(digit)
            index += 1
        }
        return code
    }

    mutating func digits() -> Int {
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index - start
    }

    package mutating func number() throws(JSONValue.SyntaxError) -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let whole = index
        guard digits() > 0 else { throw error("a number without digits") }
        if bytes[whole] == UInt8(ascii: "0"), index - whole > 1 {
            throw JSONValue.SyntaxError(offset: whole, reason: "a number with a leading zero")
        }
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            integral = false
            guard digits() > 0 else { throw error("no digits after the decimal point") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            integral = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard digits() > 0 else { throw error("no digits in the exponent") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let value = Int(text) { return .int(value) }
        guard let value = Double(text), value.isFinite else {
            throw JSONValue.SyntaxError(offset: start, reason: "a number out of range")
        }
        return .double(value)
    }
}
