/// An image tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
public struct Tag: ValidatedString {
    public let rawValue: String

    public init?(_ text: String) {
        let bytes = text.utf8
        guard let first = bytes.first, bytes.count <= 128 else { return nil }
        guard ASCII.isAlnum(first) || first == UInt8(ascii: "_") else { return nil }
        for c in bytes.dropFirst()
        where !(ASCII.isAlnum(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")) {
            return nil
        }
        rawValue = text
    }
}
