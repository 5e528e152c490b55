extension JSONValue {
    /// The compact JSON of the value: object keys sorted by their UTF-8 bytes, `/` not escaped,
    /// a double that is a whole number written without `.0` (as Foundation's `JSONEncoder` does).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// ``text`` as UTF-8.
    public var bytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(128)
        write(into: &output)
        return output
    }

    /// Appends the compact JSON of the value.
    public func write(into output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): output.append(contentsOf: String(number).utf8)
        case .double(let number): JSONText.appendNumber(number, to: &output)
        case .string(let text): JSONText.appendString(text, to: &output)
        case .array(let elements):
            JSONText.appendArray(elements, to: &output) { element, output in element.write(into: &output) }
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (n, key) in members.keys.sorted(by: JSONText.precedes).enumerated() {
                if n > 0 { output.append(UInt8(ascii: ",")) }
                JSONText.appendString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                members[key]!.write(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }
}

/// The pieces of JSON text every writer in the registry shares, so that they agree byte for byte:
/// string escapes, number forms and key order are those of Foundation's `JSONEncoder` with
/// `[.sortedKeys, .withoutEscapingSlashes]`.
public enum JSONText {
    /// Appends `text` as a JSON string: `"` and `\` escaped, `\b \f \n \r \t` by name, the other
    /// control characters as `\u00XX`, everything else (`/` and non-ASCII too) as it is.
    public static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { utf8 in
            var clean = 0  // the start of the run of bytes that need no escape
            for (index, byte) in utf8.enumerated()
            where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean..<index]))
                clean = index + 1
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
                case 0x08: output.append(UInt8(ascii: "b"))
                case 0x0C: output.append(UInt8(ascii: "f"))
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                case 0x09: output.append(UInt8(ascii: "t"))
                default:
                    output.append(contentsOf: [
                        UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hexDigit(byte >> 4),
                        hexDigit(byte & 0xF),
                    ])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[clean...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Appends `[a,b,...]`, each element written by `write` (inlinable: the snapshot encoder writes
    /// millions of elements through it).
    @inlinable
    public static func appendArray<Elements: Sequence>(
        _ elements: Elements, to output: inout [UInt8], _ write: (Elements.Element, inout [UInt8]) -> Void
    ) {
        output.append(UInt8(ascii: "["))
        var first = true
        for element in elements {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            write(element, &output)
        }
        output.append(UInt8(ascii: "]"))
    }

    /// The JSON form of a finite double: its shortest description, without a trailing `.0`.
    public static func number(_ value: Double) -> String {
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }

    /// Appends ``number(_:)``; a non-finite value (which JSON cannot hold) as `null`.
    public static func appendNumber(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else {
            output.append(contentsOf: "null".utf8)
            return
        }
        output.append(contentsOf: number(value).utf8)
    }

    /// Byte order of two keys, the order sorted JSON objects are written in.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let n = min(x.count, y.count)
                var i = 0
                while i < n {
                    if x[i] != y[i] { return x[i] < y[i] }
                    i += 1
                }
                return x.count < y.count
            }
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
