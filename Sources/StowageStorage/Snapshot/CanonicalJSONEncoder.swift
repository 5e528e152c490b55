import StowageCore

/// Encodes `Encodable` values as compact JSON with object keys sorted by their UTF-8 bytes and `/`
/// unescaped: byte for byte what Foundation's `JSONEncoder` writes with
/// `[.sortedKeys, .withoutEscapingSlashes]` (a test holds the two to that on generated commands,
/// states and every string escape), at a fraction of the cost.
///
/// Every log record and snapshot goes through here. `perf` on the engine put `JSONEncoder` at two
/// thirds of the CPU of a write: it boxes every value in an intermediate tree, checks each one
/// for `Date`, `Data`, `URL` and `Decimal` by dynamic casts, and sorts keys through unspecialised
/// generic string comparison. This encoder builds a small tree of its own and sorts raw bytes.
/// It has no special cases: none of those types are part of the state. Coding paths are not
/// tracked (each nested value would copy an array): the only error, a non-finite number, names
/// the top level.
struct CanonicalJSONEncoder {
    func encode(_ value: some Encodable) throws -> [UInt8] {
        let root = Box()
        try value.encode(to: TreeEncoder(box: root, codingPath: []))
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        root.node.write(into: &output)
        return output
    }
}

/// A JSON value while it is being built. Objects keep their members in insertion order (a key
/// encoded twice keeps its last value, as Foundation does) and are sorted when written. Scalars
/// are stored inline; only containers live in a `Box`, which nested encoders share.
private indirect enum Node {
    case null
    case literal(StaticString)  // true, false
    case integer(Int64)
    case unsigned(UInt64)
    case number(String)  // a float, already in its JSON form
    case string(String)
    case array([Node])
    case object([(key: String, value: Node)])
    case box(Box)

    func write(into output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: "null".utf8)
        case .literal(let text):
            text.withUTF8Buffer { output.append(contentsOf: $0) }
        case .integer(let value): output.append(contentsOf: String(value).utf8)
        case .unsigned(let value): output.append(contentsOf: String(value).utf8)
        case .number(let text): output.append(contentsOf: text.utf8)
        case .string(let text): JSONText.appendString(text, to: &output)
        case .box(let box): box.node.write(into: &output)
        case .array(let elements):
            JSONText.appendArray(elements, to: &output) { element, output in element.write(into: &output) }
        case .object(let members):
            // Byte order of the keys; a stable sort keeps repeats in the order they were encoded,
            // and the last of a run of equal keys is the value that stands.
            var order = Array(members.indices)
            order.sort { JSONText.precedes(members[$0].key, members[$1].key) }
            output.append(UInt8(ascii: "{"))
            var first = true
            for (n, index) in order.enumerated() {
                if n + 1 < order.count, members[order[n + 1]].key == members[index].key { continue }
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                JSONText.appendString(members[index].key, to: &output)
                output.append(UInt8(ascii: ":"))
                members[index].value.write(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }
}

/// A slot a value is encoded into.
private final class Box {
    var node: Node = .null
}

private struct TreeEncoder: Encoder {
    let box: Box
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = box.node {} else { box.node = .object([]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = box.node {} else { box.node = .array([]) }
        return UnkeyedContainer(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(box: box, codingPath: codingPath)
    }
}

/// The JSON form of the scalars every container accepts.
private enum Scalar {
    static func integer(_ value: some BinaryInteger) -> Node {
        if let signed = Int64(exactly: value) { return .integer(signed) }
        return .unsigned(UInt64(value))
    }

    static func float<F: BinaryFloatingPoint & CustomStringConvertible>(_ value: F, _ path: [any CodingKey]) throws
        -> Node
    {
        guard value.isFinite else {
            throw EncodingError.invalidValue(
                value, EncodingError.Context(codingPath: path, debugDescription: "\(value) is not valid JSON"))
        }
        if let double = value as? Double { return .number(JSONText.number(double)) }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        return .number(text)
    }

    static func bool(_ value: Bool) -> Node { .literal(value ? "true" : "false") }

    static func encode(_ value: some Encodable, path: [any CodingKey]) throws -> Node {
        switch value {
        case let text as String: return .string(text)
        case let flag as Bool: return bool(flag)
        case let number as Int: return .integer(Int64(number))
        case let number as Int64: return .integer(number)
        case let number as UInt64: return integer(number)
        case let number as Double: return try float(number, path)
        default:
            let box = Box()
            try value.encode(to: TreeEncoder(box: box, codingPath: path))
            // A value that encoded a scalar needs no box.
            switch box.node {
            case .array, .object: return .box(box)
            default: return box.node
            }
        }
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: Box
    let codingPath: [any CodingKey]

    private func add(_ key: Key, _ value: Node) {
        guard case .object(var members) = box.node else { return }
        box.node = .null  // so `members` is uniquely referenced while it grows
        members.append((key.stringValue, value))
        box.node = .object(members)
    }

    mutating func encodeNil(forKey key: Key) throws { add(key, .null) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { add(key, Scalar.bool(value)) }
    mutating func encode(_ value: String, forKey key: Key) throws { add(key, .string(value)) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        add(key, try Scalar.float(value, codingPath))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        add(key, try Scalar.float(value, codingPath))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { add(key, Scalar.integer(value)) }
    mutating func encode(_ value: some Encodable, forKey key: Key) throws {
        add(key, try Scalar.encode(value, path: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let nested = Box()
        nested.node = .object([])
        add(key, .box(nested))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = Box()
        nested.node = .array([])
        add(key, .box(nested))
        return UnkeyedContainer(box: nested, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder {
        let nested = Box()
        add(Key(stringValue: "super")!, .box(nested))
        return TreeEncoder(box: nested, codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let nested = Box()
        add(key, .box(nested))
        return TreeEncoder(box: nested, codingPath: codingPath)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let box: Box
    let codingPath: [any CodingKey]

    var count: Int {
        if case .array(let elements) = box.node { return elements.count }
        return 0
    }

    private func add(_ value: Node) {
        guard case .array(var elements) = box.node else { return }
        box.node = .null  // so `elements` is uniquely referenced while it grows
        elements.append(value)
        box.node = .array(elements)
    }

    mutating func encodeNil() throws { add(.null) }
    mutating func encode(_ value: Bool) throws { add(Scalar.bool(value)) }
    mutating func encode(_ value: String) throws { add(.string(value)) }
    mutating func encode(_ value: Double) throws { add(try Scalar.float(value, codingPath)) }
    mutating func encode(_ value: Float) throws { add(try Scalar.float(value, codingPath)) }
    mutating func encode(_ value: Int) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int8) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int16) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int32) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: Int64) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt8) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt16) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt32) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: UInt64) throws { add(Scalar.integer(value)) }
    mutating func encode(_ value: some Encodable) throws {
        add(try Scalar.encode(value, path: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        let nested = Box()
        nested.node = .object([])
        add(.box(nested))
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: nested, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = Box()
        nested.node = .array([])
        add(.box(nested))
        return UnkeyedContainer(box: nested, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder {
        let nested = Box()
        add(.box(nested))
        return TreeEncoder(box: nested, codingPath: codingPath)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let box: Box
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { box.node = .null }
    mutating func encode(_ value: Bool) throws { box.node = Scalar.bool(value) }
    mutating func encode(_ value: String) throws { box.node = .string(value) }
    mutating func encode(_ value: Double) throws { box.node = try Scalar.float(value, codingPath) }
    mutating func encode(_ value: Float) throws { box.node = try Scalar.float(value, codingPath) }
    mutating func encode(_ value: Int) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: Int8) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: Int16) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: Int32) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: Int64) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: UInt) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: UInt8) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: UInt16) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: UInt32) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: UInt64) throws { box.node = Scalar.integer(value) }
    mutating func encode(_ value: some Encodable) throws {
        box.node = try Scalar.encode(value, path: codingPath)
    }
}
