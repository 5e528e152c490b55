/// A content digest: `sha256:` and 64 lowercase hex digits, or `sha512:` and 128.
public struct Digest: ValidatedString {
    public let rawValue: String

    /// The digest algorithms the registry accepts.
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha256
        case sha512

        /// Hex digits of an encoded digest.
        public var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public init?(_ text: String) {
        var text = text
        guard text.withUTF8(Self.isDigest) else { return nil }
        rawValue = text
    }

    /// `sha256:` and 64 lowercase hex digits, or `sha512:` and 128, over the bytes at once
    /// (generic `starts(with:)` and `allSatisfy` on the UTF-8 view were most of reading one).
    private static func isDigest(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 71 || bytes.count == 135, bytes[6] == UInt8(ascii: ":") else { return false }
        let bits: (UInt8, UInt8, UInt8) =
            bytes.count == 71
            ? (UInt8(ascii: "2"), UInt8(ascii: "5"), UInt8(ascii: "6"))
            : (UInt8(ascii: "5"), UInt8(ascii: "1"), UInt8(ascii: "2"))
        guard bytes[0] == UInt8(ascii: "s"), bytes[1] == UInt8(ascii: "h"), bytes[2] == UInt8(ascii: "a"),
            bytes[3] == bits.0, bytes[4] == bits.1, bytes[5] == bits.2
        else { return false }
        // No early exit: the loop has no branch, so the compiler runs it on vectors.
        var invalid: UInt8 = 0
        for index in 7..<bytes.count {
            let byte = bytes[index]
            invalid |= (byte &- UInt8(ascii: "0") < 10 ? 0 : 1) & (byte &- UInt8(ascii: "a") < 6 ? 0 : 1)
        }
        return invalid == 0
    }

    /// Builds a digest from an algorithm and its hex encoding.
    public init?(algorithm: Algorithm, hex: String) {
        self.init(algorithm.rawValue + ":" + hex)
    }

    /// The algorithm part.
    public var algorithm: Algorithm {
        rawValue.hasPrefix("sha256:") ? .sha256 : .sha512
    }

    /// The hex part, after the colon.
    public var hex: Substring {
        rawValue[rawValue.utf8.index(after: rawValue.utf8.firstIndex(of: UInt8(ascii: ":"))!)...]
    }
}
