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
        let utf8 = text.utf8
        let algorithm: Algorithm
        if utf8.starts(with: "sha256:".utf8) {
            algorithm = .sha256
        } else if utf8.starts(with: "sha512:".utf8) {
            algorithm = .sha512
        } else {
            return nil
        }
        guard utf8.count == 7 + algorithm.hexLength, utf8.dropFirst(7).allSatisfy(ASCII.isLowerHex) else { return nil }
        rawValue = text
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
