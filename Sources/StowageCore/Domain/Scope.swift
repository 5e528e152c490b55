/// A 12-digit AWS account id.
public struct AccountID: ValidatedString {
    public let rawValue: String

    /// The account used when a request names none: `000000000000`.
    public static let `default` = AccountID("000000000000")!

    public init?(_ text: String) {
        guard text.utf8.count == 12, text.utf8.allSatisfy(ASCII.isDigit) else { return nil }
        rawValue = text
    }
}

/// An AWS region name such as `us-east-1` or `us-gov-west-1`.
public struct Region: ValidatedString {
    public let rawValue: String

    /// The region used when a request names none: `us-east-1`.
    public static let `default` = Region("us-east-1")!

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count <= 32, parts.count >= 3,
            parts.dropLast().allSatisfy({
                !$0.isEmpty && $0.utf8.allSatisfy { ASCII.isLowerAlnum($0) && !ASCII.isDigit($0) }
            }),
            let last = parts.last, !last.isEmpty, last.utf8.allSatisfy(ASCII.isDigit)
        else { return nil }
        rawValue = text
    }
}

/// An account and region: ECR keeps a separate registry for each.
public struct Scope: ValidatedString {
    public let rawValue: String
    /// The account.
    public let account: AccountID
    /// The region.
    public let region: Region

    /// The default account in the default region.
    public static let `default` = Scope(account: .default, region: .default)

    public init(account: AccountID, region: Region) {
        self.account = account
        self.region = region
        rawValue = account.rawValue + "/" + region.rawValue
    }

    /// Parses `<account>/<region>`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let account = AccountID(String(parts[0])), let region = Region(String(parts[1]))
        else { return nil }
        self.init(account: account, region: region)
    }

    public static func == (lhs: Scope, rhs: Scope) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}
