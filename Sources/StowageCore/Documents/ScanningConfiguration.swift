/// How often an image is scanned (ECR's `scanFrequency`).
public enum ScanFrequency: String, Hashable, Sendable, CaseIterable {
    case scanOnPush = "SCAN_ON_PUSH"
    case continuousScan = "CONTINUOUS_SCAN"
    case manual = "MANUAL"
}

/// A registry's scanning configuration (ECR `PutRegistryScanningConfiguration`): rules whose
/// wildcard filters pick repositories and give them a scan frequency.
public struct ScanningConfiguration: RegistryDocument {
    public enum ScanType: String, Hashable, Sendable, CaseIterable {
        case basic = "BASIC"
        case enhanced = "ENHANCED"
    }

    public struct Rule: Hashable, Sendable {
        public var scanFrequency: ScanFrequency
        /// Wildcard filters (`*` matches any run of characters) on repository names.
        public var repositoryFilters: [String]

        public init(scanFrequency: ScanFrequency, repositoryFilters: [String]) {
            self.scanFrequency = scanFrequency
            self.repositoryFilters = repositoryFilters
        }
    }

    public var scanType: ScanType
    public var rules: [Rule]

    public init(scanType: ScanType = .basic, rules: [Rule] = []) {
        self.scanType = scanType
        self.rules = rules
    }

    /// The first rule with a filter matching `name`: its frequency, and the filters that matched.
    public func frequency(for name: RepositoryName) -> (frequency: ScanFrequency, filters: [String])? {
        for rule in rules {
            let matching = rule.repositoryFilters.filter { wildcard($0, matches: name.rawValue) }
            if !matching.isEmpty { return (rule.scanFrequency, matching) }
        }
        return nil
    }

    public init(json: JSONValue) throws(DocumentError) {
        guard let type = ScanType(rawValue: try json.optionalString("scanType") ?? "BASIC") else {
            throw DocumentError("unknown scanType")
        }
        var rules: [Rule] = []
        for rule in try json.optionalList("rules") ?? [] {
            guard let frequency = ScanFrequency(rawValue: try rule.string("scanFrequency")) else {
                throw DocumentError("unknown scanFrequency")
            }
            rules.append(Rule(scanFrequency: frequency, repositoryFilters: try rule.filters("repositoryFilters") ?? []))
        }
        self.init(scanType: type, rules: rules)
    }

    public var json: JSONValue {
        [
            "scanType": .string(scanType.rawValue),
            "rules": .array(
                rules.map {
                    [
                        "scanFrequency": .string($0.scanFrequency.rawValue),
                        "repositoryFilters": .filters($0.repositoryFilters, type: "WILDCARD"),
                    ]
                }),
        ]
    }
}

/// A registry's signing configuration (ECR `PutSigningConfiguration`): which signing profile
/// signs the images of which repositories.
public struct SigningConfiguration: RegistryDocument {
    public struct Rule: Hashable, Sendable {
        public var signingProfileArn: String
        /// Wildcard filters (`WILDCARD_MATCH`); `nil`: every repository.
        public var repositoryFilters: [String]?

        public init(signingProfileArn: String, repositoryFilters: [String]? = nil) {
            self.signingProfileArn = signingProfileArn
            self.repositoryFilters = repositoryFilters
        }

        /// Whether the rule covers the repository `name`.
        public func covers(_ name: RepositoryName) -> Bool {
            guard let filters = repositoryFilters, !filters.isEmpty else { return true }
            return filters.contains { wildcard($0, matches: name.rawValue) }
        }
    }

    public var rules: [Rule]

    public init(rules: [Rule]) { self.rules = rules }

    public init(json: JSONValue) throws(DocumentError) {
        var rules: [Rule] = []
        for rule in try json.list("rules") {
            rules.append(
                Rule(
                    signingProfileArn: try rule.string("signingProfileArn"),
                    repositoryFilters: try rule.filters("repositoryFilters")))
        }
        self.rules = rules
    }

    public var json: JSONValue {
        [
            "rules": .array(
                rules.map {
                    object([
                        ("signingProfileArn", .string($0.signingProfileArn)),
                        ("repositoryFilters", $0.repositoryFilters.map { .filters($0, type: "WILDCARD_MATCH") }),
                    ])
                })
        ]
    }
}
