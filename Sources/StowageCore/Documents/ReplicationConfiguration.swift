/// A registry's replication configuration (ECR `PutReplicationConfiguration`): pushes to the
/// repositories a rule covers are copied to the rule's destination account-regions.
public struct ReplicationConfiguration: RegistryDocument {
    public struct Rule: Hashable, Sendable {
        public var destinations: [Scope]
        /// Repository name prefixes (`PREFIX_MATCH`); `nil`: every repository.
        public var repositoryFilters: [String]?

        public init(destinations: [Scope], repositoryFilters: [String]? = nil) {
            self.destinations = destinations
            self.repositoryFilters = repositoryFilters
        }

        /// Whether the rule covers the repository `name`.
        public func covers(_ name: RepositoryName) -> Bool {
            guard let filters = repositoryFilters, !filters.isEmpty else { return true }
            return filters.contains { name.rawValue.hasPrefix($0) }
        }
    }

    public var rules: [Rule]

    public init(rules: [Rule]) { self.rules = rules }

    /// The account-regions other than `scope` that a push to `name` in `scope` is copied to, each once, in rule order.
    public func destinations(for name: RepositoryName, from scope: Scope) -> [Scope] {
        var result: [Scope] = []
        for rule in rules where rule.covers(name) {
            for destination in rule.destinations where destination != scope && !result.contains(destination) {
                result.append(destination)
            }
        }
        return result
    }

    public init(json: JSONValue) throws(DocumentError) {
        var rules: [Rule] = []
        for rule in try json.list("rules") {
            var destinations: [Scope] = []
            for destination in try rule.list("destinations") {
                guard let region = Region(try destination.string("region")),
                    let account = AccountID(try destination.string("registryId"))
                else { throw DocumentError("a replication destination is not a valid account and region") }
                destinations.append(Scope(account: account, region: region))
            }
            rules.append(Rule(destinations: destinations, repositoryFilters: try rule.filters("repositoryFilters")))
        }
        self.rules = rules
    }

    public var json: JSONValue {
        [
            "rules": .array(
                rules.map { rule in
                    object([
                        (
                            "destinations",
                            .array(
                                rule.destinations.map {
                                    ["region": .string($0.region.rawValue), "registryId": .string($0.account.rawValue)]
                                })
                        ),
                        ("repositoryFilters", rule.repositoryFilters.map { .filters($0, type: "PREFIX_MATCH") }),
                    ])
                })
        ]
    }
}
