/// The id of a blob upload session, made at the edge: 1 to 128 of `[A-Za-z0-9_-]`.
public struct UploadID: ValidatedString {
    public let rawValue: String

    public init?(_ text: String) {
        let bytes = text.utf8
        guard (1...128).contains(bytes.count),
            bytes.allSatisfy({ ASCII.isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { return nil }
        rawValue = text
    }
}
