/// A repository name: the OCI distribution-spec grammar, within ECR's length limits.
///
/// Path components match `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` and are joined by `/`;
/// the whole name is 2 to 256 characters, as ECR requires.
public struct RepositoryName: ValidatedString {
    public let rawValue: String

    /// The shortest and longest names ECR accepts.
    public static let lengthLimits = 2...256

    public init?(_ text: String) {
        guard Self.lengthLimits.contains(text.utf8.count), Self.matchesGrammar(text.utf8) else { return nil }
        rawValue = text
    }

    static func matchesGrammar(_ bytes: String.UTF8View) -> Bool {
        bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy(isComponent)
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    private static func isComponent(_ component: ArraySlice<UInt8>) -> Bool {
        var separator: [UInt8] = []
        var previousWasAlnum = false
        for c in component {
            if ASCII.isLowerAlnum(c) {
                if !separator.isEmpty {
                    guard isSeparator(separator) else { return false }
                    separator.removeAll(keepingCapacity: true)
                }
                previousWasAlnum = true
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") {
                guard previousWasAlnum || !separator.isEmpty else { return false }
                separator.append(c)
                previousWasAlnum = false
            } else {
                return false
            }
        }
        return previousWasAlnum
    }

    /// `.`, `_`, `__`, or one or more `-`.
    private static func isSeparator(_ s: [UInt8]) -> Bool {
        if s == [UInt8(ascii: ".")] || s == [UInt8(ascii: "_")] || s == [UInt8(ascii: "_"), UInt8(ascii: "_")] {
            return true
        }
        return s.allSatisfy { $0 == UInt8(ascii: "-") }
    }
}
