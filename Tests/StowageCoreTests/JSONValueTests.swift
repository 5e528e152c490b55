import Foundation
import StowageTestSupport
import Testing

@testable import StowageCore

struct JSONValueTests {
    /// A random JSON tree of native values, strings full of what needs escaping.
    static func tree(_ random: inout SeededGenerator, depth: Int = 0) -> Any {
        switch Int.random(in: 0..<(depth > 4 ? 5 : 8), using: &random) {
        // Within ±2^53: Foundation's parser, the oracle here, reads larger integers through Double.
        case 0: return Int.random(in: -(1 << 53)...(1 << 53), using: &random) >> Int.random(in: 0..<53, using: &random)
        case 1:
            return Double.random(in: -1e300...1e300, using: &random)
                / Double(Int.random(in: 1...1_000_000, using: &random))
        case 2: return Bool.random(using: &random)
        case 3: return NSNull()
        case 4:
            let alphabet: [String] = [
                "a", "Z", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "€", "𝄞", "😀", " ", "\u{7F}",
            ]
            return (0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
                .joined()
        case 5, 6:
            var object: [String: Any] = [:]
            for n in 0..<Int.random(in: 0...5, using: &random) {
                object["k\(n)\(["", "é", "\"", "A"].randomElement(using: &random)!)"] = tree(&random, depth: depth + 1)
            }
            return object
        default:
            return (0..<Int.random(in: 0...5, using: &random)).map { _ in tree(&random, depth: depth + 1) }
        }
    }

    /// The JSON value of a native tree.
    static func value(_ tree: Any) -> JSONValue {
        switch tree {
        case let text as String: return .string(text)
        case let flag as Bool: return .bool(flag)
        case let number as Int: return .int(number)
        case let number as Double: return .double(number)
        case is NSNull: return .null
        case let object as [String: Any]: return .object(object.mapValues(value))
        case let list as [Any]: return .array(list.map(value))
        default: fatalError("not a JSON tree")
        }
    }

    /// The native tree of a JSON value.
    static func native(_ value: JSONValue) -> Any {
        switch value {
        case .string(let text): text
        case .bool(let flag): flag
        case .int(let number): number
        case .double(let number): number
        case .null: NSNull()
        case .object(let members): members.mapValues(native)
        case .array(let elements): elements.map(native)
        }
    }

    static func serialize(_ tree: Any) -> [UInt8] { value(tree).bytes }

    static func parse(_ bytes: [UInt8]) throws -> Any { native(try JSONValue.parse(bytes)) }

    /// Structural equality of two trees, one of which may come from JSONSerialization (NSNumber).
    static func same(_ a: Any, _ b: Any) -> Bool {
        switch a {
        case let text as String: return (b as? String) == text
        case let flag as Bool: return (b as? Bool) == flag
        // A whole double is written as an integer (as Foundation writes it): numbers compare by value.
        case let number as Int: return (b as? Int) == number || (b as? Double) == Double(number)
        case let number as Double: return (b as? Double) == number || (b as? Int).map(Double.init) == number
        case is NSNull: return b is NSNull
        case let object as [String: Any]:
            guard let other = b as? [String: Any], other.count == object.count else { return false }
            return object.allSatisfy { key, value in other[key].map { same(value, $0) } ?? false }
        case let list as [Any]:
            guard let other = b as? [Any], other.count == list.count else { return false }
            return zip(list, other).allSatisfy { same($0, $1) }
        default: return false
        }
    }

    @Test func writerOutputReadsBackTheSameInBothParsers() throws {
        var random = SeededGenerator(seed: 7)
        for _ in 0..<2_000 {
            let value = Self.tree(&random)
            let bytes = Self.serialize(value)
            #expect(Self.same(value, try Self.parse(bytes)), "\(String(decoding: bytes, as: UTF8.self))")
            let foundation = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
            #expect(Self.same(value, foundation), "\(String(decoding: bytes, as: UTF8.self))")
            // And what Foundation writes, this parser reads.
            if value is [String: Any] || value is [Any] {
                let written = try JSONSerialization.data(withJSONObject: value)
                #expect(Self.same(value, try Self.parse(Array(written))))
            }
        }
    }

    @Test func keysAreSortedAndOutputIsCompact() {
        let bytes = Self.serialize(
            ["b": [1, 2.5, true, NSNull()], "a": "x/y\u{1}\u{8}", "C": [String: Any]()] as [String: Any])
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"C":{},"a":"x/y\u0001\b","b":[1,2.5,true,null]}"#)
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        let text = try Self.parse(Array(#""\"\\\/\b\f\n\r\t\u00e9\u20ac\ud834\udd1e""#.utf8)) as? String
        #expect(text == "\"\\/\u{08}\u{0C}\n\r\t\u{E9}€𝄞")
        #expect(try Self.parse(Array(" [ 1 , -0.5e2 , 0 , 123456789012345678901234567890 ] ".utf8)) as? [Double] == nil)
        let numbers = try Self.parse(Array("[1,-0.5e2,0,123456789012345678901234567890]".utf8)) as! [Any]
        #expect(numbers[0] as? Int == 1 && numbers[1] as? Double == -50 && numbers[2] as? Int == 0)
        #expect(numbers[3] as? Double == 1.2345678901234568e29)
        #expect(try Self.parse(Self.serialize([Int.min, Int.max])) as? [Int] == [Int.min, Int.max])
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", #"{"a":1,}"#, "01", "-01", "1.", ".5", "-", "1e", "1e+", "+1", "tru", "nul", "True",
        "[1] 2", "{} {}", #""\x""#, "\"a\u{01}b\"", #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\u12""#, "'a'",
        "{'a':1}", #"{"a" 1}"#, #"{1:2}"#, "[1 2]", "1e400", "-1e400", "NaN", "Infinity", "// c\n1", "\"abc",
        String(repeating: "[", count: 300) + String(repeating: "]", count: 300),
        String(repeating: "{\"a\":", count: 300) + "1" + String(repeating: "}", count: 300),
        String(repeating: "[", count: 100_000),
    ])
    func malformedInputIsRefused(text: String) {
        #expect(throws: JSONValue.SyntaxError.self) { try Self.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRefused() throws {
        for bytes: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22],
            [0x22, 0x61, 0x62, 0xC3, 0x22], [0x22, 0x61, 0xED, 0xA0, 0x80, 0x62, 0x22],
        ] {
            #expect(throws: JSONValue.SyntaxError.self) { try Self.parse(bytes) }
        }
        // Unescaped non-ASCII text is read as it is, in plain runs and after an escape.
        #expect(try Self.parse(Array("\"aé€𝄞\"".utf8)) as? String == "aé€𝄞")
        #expect(try Self.parse(Array("\"\\né€\"".utf8)) as? String == "\né€")
    }

    /// Plain runs are stepped over eight bytes at a time: a byte that ends or changes the run is
    /// found wherever it lies in a word.
    @Test func everyPositionInAPlainRunIsLookedAt() throws {
        for length in 1..<26 {
            for position in 0..<length {
                func text(_ middle: String) -> [UInt8] {
                    Array(
                        ("\"" + String(repeating: "a", count: position) + middle
                            + String(repeating: "b", count: length - position - 1) + "\"").utf8)
                }
                let plain = String(repeating: "a", count: position)
                let rest = String(repeating: "b", count: length - position - 1)
                #expect(try Self.parse(text("é")) as? String == plain + "é" + rest)
                #expect(try Self.parse(text(#"\""#)) as? String == plain + "\"" + rest)
                #expect(try Self.parse(text(#"\u00e9"#)) as? String == plain + "é" + rest)
                #expect(throws: JSONValue.SyntaxError.self) { try Self.parse(text("\u{01}")) }
                #expect(throws: JSONValue.SyntaxError.self) { try Self.parse(text("\u{1F}")) }
                var invalid = text("c")
                invalid[position + 1] = 0xFF
                #expect(throws: JSONValue.SyntaxError.self) { try Self.parse(invalid) }
                // A quote inside the run ends the string early: what follows is not JSON.
                #expect(throws: JSONValue.SyntaxError.self) { try Self.parse(text("\"x")) }
            }
            // A run that reaches the end of the input without its quote.
            #expect(throws: JSONValue.SyntaxError.self) {
                try Self.parse(Array(("\"" + String(repeating: "a", count: length)).utf8))
            }
        }
    }

    /// The structural skip a large state's reading uses stops exactly where the value ends, and
    /// input whose brackets or strings do not close is refused, never read past its end.
    @Test func skippingAValueStopsWhereItEnds() throws {
        for value in [
            #"{"a":[1,2,{"b":"}\"]"}],"c":null}"#, "[]", "{}", #""x\\""#, "-12.5e3", "true", "null",
            #"[[["\u005d"]]]"#, "{ \"a\" : [ 1 , 2 ] }",
        ] {
            let bytes = Array((value + ",7").utf8)
            let end = bytes.withUnsafeBufferPointer { buffer in
                var parser = JSONParser(bytes: buffer)
                try? parser.skipValue()
                return parser.index
            }
            #expect(end == value.utf8.count, "\(value)")
        }
        for damaged in ["{", #"{"a":"b"#, "[1,2", "]", "}", #""\"#, "", ",", #"{"a":"b\"}"#] {
            let bytes = Array(damaged.utf8)
            bytes.withUnsafeBufferPointer { buffer in
                var parser = JSONParser(bytes: buffer)
                #expect(throws: JSONValue.SyntaxError.self, "\(damaged)") { try parser.skipValue() }
            }
        }
    }

    @Test func nestingUpToTheLimitIsRead() throws {
        let depth = JSONValue.maximumDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        _ = try Self.parse(Array(text.utf8))
    }

    /// Random damage to valid documents never traps; what is accepted reads back the same.
    @Test func damagedDocumentsNeverTrap() throws {
        var random = SeededGenerator(seed: 11)
        for _ in 0..<3_000 {
            var bytes = Self.serialize(Self.tree(&random))
            for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.remove(at: at)
                default: bytes.insert(Array("{}[],:\"\\0-e.".utf8).randomElement(using: &random)!, at: at)
                }
            }
            if let value = try? Self.parse(bytes) {
                #expect(Self.same(value, try Self.parse(Self.serialize(value))))
            }
        }
    }
}
