/// A string value that is only ever constructed after passing a grammar check.
///
/// Conforming types store the accepted text in `rawValue` and decode through `init?(_:)`,
/// so a log record or snapshot with an invalid value fails to decode instead of entering
/// the state. They are `CodingKeyRepresentable`, which makes dictionaries keyed by them
/// encode as JSON objects (sorted, and so deterministic, with `.sortedKeys`).
public protocol ValidatedString: Hashable, Comparable, Sendable, Codable, CodingKeyRepresentable,
    CustomStringConvertible
{
    /// The validated text.
    var rawValue: String { get }
    /// Validates `text`; `nil` when it does not match the grammar.
    init?(_ text: String)
    /// Validates the text whose UTF-8 is `bytes` (plain ASCII, as a reader of JSON met it).
    init?(utf8 bytes: UnsafeBufferPointer<UInt8>)
    /// Appends the text as a JSON string (``JSONText/appendString(_:to:)``); a type that holds
    /// something other than a string writes it from what it holds.
    func appendJSON(to output: inout [UInt8])
}

extension ValidatedString {
    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid \(Self.self): \(text)")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var codingKey: any CodingKey { StringKey(rawValue) }

    public init?(utf8 bytes: UnsafeBufferPointer<UInt8>) { self.init(String(decoding: bytes, as: UTF8.self)) }

    public func appendJSON(to output: inout [UInt8]) { JSONText.appendString(rawValue, to: &output) }

    public init?<T: CodingKey>(codingKey: T) {
        self.init(codingKey.stringValue)
    }
}

/// A plain string coding key.
struct StringKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// ASCII character classes used by the grammars, on UTF-8 code units.
enum ASCII {
    static func isLowerAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || isDigit(c) }
    static func isAlnum(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= 0x41 && c <= 0x5A) }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isLowerHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x61 && c <= 0x66) }
}
