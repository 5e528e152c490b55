import Foundation

/// JSON as untyped trees — `[String: Any]`, `[Any]`, `String`, `Int`, `Double`, `Bool`, `NSNull` —
/// for the ECR JSON API and manifests, whose documents are open-ended.
///
/// It replaces `JSONSerialization`, which on Linux bridges every value through `NSDictionary`,
/// `NSArray` and `NSNumber` and sorts keys with ICU collation: measured with `perf`, that was about
/// half of the server CPU of an ECR call. This parser is strict (RFC 8259: no trailing commas, no
/// comments, no control characters in strings, valid UTF-8, nesting at most `maximumDepth`) and
/// never traps on input; the writer sorts keys by code point, so its output is deterministic.
public enum JSON {
    /// Deeper nesting is refused, so hostile input cannot exhaust the stack.
    public static let maximumDepth = 256

    public struct SyntaxError: Error, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses one JSON value (any type at the top level), with only whitespace around it.
    public static func parse(_ bytes: some Sequence<UInt8>) throws(SyntaxError) -> Any {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(SyntaxError) -> Any in
            var parser = Parser(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.index == buffer.count else { throw parser.error("unexpected data after the value") }
            return value
        }
    }

    /// The bytes as a JSON object, or nil when they are not valid JSON or not an object.
    public static func object(_ bytes: some Sequence<UInt8>) -> [String: Any]? {
        (try? parse(bytes)) as? [String: Any]
    }

    /// The compact JSON of `value`, object keys sorted by code point, `/` not escaped. Values it does
    /// not know are written as their description, as strings; non-finite numbers as `null`.
    public static func serialize(_ value: Any) -> [UInt8] {
        var writer = Writer()
        writer.output.reserveCapacity(256)
        writer.write(value)
        return writer.output
    }

    public static func string(_ value: Any) -> String { String(decoding: serialize(value), as: UTF8.self) }
}

extension JSON {
    struct Parser: ~Copyable {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func error(_ reason: String) -> SyntaxError { SyntaxError(offset: index, reason: reason) }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> Any {
            guard index < bytes.count else { throw error("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return try string()
            case UInt8(ascii: "t"): return try literal("true", true)
            case UInt8(ascii: "f"): return try literal("false", false)
            case UInt8(ascii: "n"): return try literal("null", NSNull())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString, _ value: Any) throws(SyntaxError) -> Any {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count,
                memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0
            else { throw error("unexpected character") }
            index += count
            return value
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { throw error("expected \(what)") }
            index += 1
        }

        mutating func object(depth: Int) throws(SyntaxError) -> [String: Any] {
            guard depth <= JSON.maximumDepth else { throw error("nested deeper than \(JSON.maximumDepth)") }
            index += 1
            var result: [String: Any] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return result
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
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
                index += 1
                return result
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> [Any] {
            guard depth <= JSON.maximumDepth else { throw error("nested deeper than \(JSON.maximumDepth)") }
            index += 1
            var result: [Any] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return result
            }
            while true {
                skipWhitespace()
                result.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw error("unexpected end of input") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
                index += 1
                return result
            }
        }

        mutating func string() throws(SyntaxError) -> String {
            index += 1
            let start = index
            // The common case: no escapes, so the bytes are the string.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let run = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    guard let text = String(validating: run, as: UTF8.self) else {
                        throw SyntaxError(offset: start, reason: "a string is not valid UTF-8")
                    }
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw error("a control character inside a string") }
                index += 1
            }
            var scalars = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    guard let text = String(validating: scalars, as: UTF8.self) else {
                        throw SyntaxError(offset: start, reason: "a string is not valid UTF-8")
                    }
                    index += 1
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
                        scalars.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
                    default: throw error("an unknown escape")
                    }
                default:
                    guard byte >= 0x20 else { throw error("a control character inside a string") }
                    scalars.append(byte)
                    index += 1
                }
            }
            throw error("an unterminated string")
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
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

        mutating func number() throws(SyntaxError) -> Any {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            let whole = index
            guard digits() > 0 else { throw error("a number without digits") }
            if bytes[whole] == UInt8(ascii: "0"), index - whole > 1 {
                throw SyntaxError(offset: whole, reason: "a number with a leading zero")
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
            if integral, let value = Int(text) { return value }
            guard let value = Double(text), value.isFinite else {
                throw SyntaxError(offset: start, reason: "a number out of range")
            }
            return value
        }
    }

    struct Writer {
        var output: [UInt8] = []

        mutating func write(_ value: Any) {
            switch value {
            case let text as String: write(string: text)
            case let flag as Bool: output.append(contentsOf: flag ? Array("true".utf8) : Array("false".utf8))
            case let number as Int: output.append(contentsOf: String(number).utf8)
            case let number as Int64: output.append(contentsOf: String(number).utf8)
            case let number as Int32: output.append(contentsOf: String(number).utf8)
            case let number as UInt64: output.append(contentsOf: String(number).utf8)
            case let number as UInt32: output.append(contentsOf: String(number).utf8)
            case let number as Double:
                if number.isFinite {
                    output.append(contentsOf: String(number).utf8)
                } else {
                    output.append(contentsOf: "null".utf8)
                }
            case let object as [String: Any]:
                output.append(UInt8(ascii: "{"))
                for (n, key) in object.keys.sorted().enumerated() {
                    if n > 0 { output.append(UInt8(ascii: ",")) }
                    write(string: key)
                    output.append(UInt8(ascii: ":"))
                    write(object[key]!)
                }
                output.append(UInt8(ascii: "}"))
            case let strings as [String]:
                // Before `[Any]`: casting to it would box every element.
                output.append(UInt8(ascii: "["))
                for (n, element) in strings.enumerated() {
                    if n > 0 { output.append(UInt8(ascii: ",")) }
                    write(string: element)
                }
                output.append(UInt8(ascii: "]"))
            case let list as [Any]:
                output.append(UInt8(ascii: "["))
                for (n, element) in list.enumerated() {
                    if n > 0 { output.append(UInt8(ascii: ",")) }
                    write(element)
                }
                output.append(UInt8(ascii: "]"))
            case is NSNull: output.append(contentsOf: "null".utf8)
            default:
                let mirror = Mirror(reflecting: value)
                if mirror.displayStyle == .optional {
                    if let wrapped = mirror.children.first?.value { write(wrapped) } else { write(NSNull()) }
                } else {
                    write(string: String(describing: value))
                }
            }
        }

        mutating func write(string: String) {
            output.append(UInt8(ascii: "\""))
            var string = string
            string.withUTF8 { utf8 in
                var clean = 0  // the start of the run of bytes that need no escape
                for (index, byte) in utf8.enumerated()
                where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean..<index]))
                    clean = index + 1
                    switch byte {
                    case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                    case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                    case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                    case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                    case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                    default:
                        let hex = Array("0123456789abcdef".utf8)
                        output.append(contentsOf: Array(#"\u00"#.utf8))
                        output.append(hex[Int(byte >> 4)])
                        output.append(hex[Int(byte & 0xF)])
                    }
                }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean...]))
            }
            output.append(UInt8(ascii: "\""))
        }
    }
}
