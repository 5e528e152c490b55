/// A repository creation template (ECR `CreateRepositoryCreationTemplate`): the settings a
/// repository gets when it is created by a push, a replication or a pull-through cache, if the
/// template's prefix covers its name.
public struct CreationTemplate: RegistryDocument {
    /// What creates repositories with a template.
    public enum Use: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
        case createOnPush = "CREATE_ON_PUSH"
        case pullThroughCache = "PULL_THROUGH_CACHE"
        case replication = "REPLICATION"

        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    /// What a request sets; on an update, only the fields given replace the template's.
    public struct Fields: Hashable, Sendable, Codable {
        public var description: String?
        public var tagMutability: TagMutability?
        /// With ``tagMutability``; an empty list clears the template's filters.
        public var mutabilityExclusions: [String]?
        public var encryption: EncryptionConfiguration?
        public var resourceTags: [ResourceTag]?
        public var repositoryPolicy: String?
        public var lifecyclePolicy: LifecyclePolicy?
        public var appliedFor: [Use]?
        public var customRoleArn: String?

        public init(
            description: String? = nil, tagMutability: TagMutability? = nil, mutabilityExclusions: [String]? = nil,
            encryption: EncryptionConfiguration? = nil, resourceTags: [ResourceTag]? = nil,
            repositoryPolicy: String? = nil, lifecyclePolicy: LifecyclePolicy? = nil, appliedFor: [Use]? = nil,
            customRoleArn: String? = nil
        ) {
            self.description = description
            self.tagMutability = tagMutability
            self.mutabilityExclusions = mutabilityExclusions
            self.encryption = encryption
            self.resourceTags = resourceTags
            self.repositoryPolicy = repositoryPolicy
            self.lifecyclePolicy = lifecyclePolicy
            self.appliedFor = appliedFor
            self.customRoleArn = customRoleArn
        }

        /// These fields with every field `changes` gives replacing this one's.
        public func updated(with changes: Fields) -> Fields {
            var result = self
            if let value = changes.description { result.description = value }
            if let value = changes.tagMutability { result.tagMutability = value }
            if let value = changes.mutabilityExclusions { result.mutabilityExclusions = value }
            if let value = changes.encryption { result.encryption = value }
            if let value = changes.resourceTags { result.resourceTags = value }
            if let value = changes.repositoryPolicy { result.repositoryPolicy = value }
            if let value = changes.lifecyclePolicy { result.lifecyclePolicy = value }
            if let value = changes.appliedFor { result.appliedFor = value }
            if let value = changes.customRoleArn { result.customRoleArn = value }
            return result
        }
    }

    /// `ROOT`, or a namespace such as `prod` (no trailing slash).
    public var prefix: String
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    public var fields: Fields

    public init(prefix: String, createdAt: Timestamp, updatedAt: Timestamp, fields: Fields) {
        self.prefix = prefix
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.fields = fields
    }

    /// Whether the template applies to repositories created by `use`.
    public func applies(to use: Use) -> Bool { fields.appliedFor?.contains(use) ?? false }

    /// The settings a repository created with this template gets.
    public var repositorySettings: RepositorySettings {
        var settings = RepositorySettings()
        if let mutability = fields.tagMutability { settings.tagMutability = mutability }
        settings.mutabilityExclusions = fields.mutabilityExclusions ?? []
        if let encryption = fields.encryption { settings.encryption = encryption }
        settings.resourceTags = fields.resourceTags ?? []
        settings.policy = fields.repositoryPolicy
        settings.lifecyclePolicy = fields.lifecyclePolicy
        return settings
    }

    public init(json: JSONValue) throws(DocumentError) {
        var fields = Fields()
        fields.description = try json.optionalString("description")
        if let text = try json.optionalString("imageTagMutability") {
            guard let mutability = TagMutability(rawValue: text) else { throw DocumentError("unknown mutability") }
            fields.tagMutability = mutability
        }
        fields.mutabilityExclusions = try json.filters("imageTagMutabilityExclusionFilters")
        if let encryption = json["encryptionConfiguration"], !encryption.isNull {
            fields.encryption = EncryptionConfiguration(
                encryptionType: try encryption.string("encryptionType"), kmsKey: try encryption.optionalString("kmsKey")
            )
        }
        if let tags = try json.optionalList("resourceTags") {
            var parsed: [ResourceTag] = []
            for tag in tags { parsed.append(ResourceTag(key: try tag.string("Key"), value: try tag.string("Value"))) }
            fields.resourceTags = parsed
        }
        fields.repositoryPolicy = try json.optionalString("repositoryPolicy")
        fields.lifecyclePolicy = try json.optionalString("lifecyclePolicy").map(LifecyclePolicy.init(stored:))
        if let uses = try json.optionalList("appliedFor") {
            fields.appliedFor = try uses.map { (value) throws(DocumentError) -> Use in
                guard let use = value.stringValue.flatMap(Use.init) else { throw DocumentError("unknown appliedFor") }
                return use
            }
        }
        fields.customRoleArn = try json.optionalString("customRoleArn")
        self.init(
            prefix: try json.string("prefix"), createdAt: try json.time("createdAt"),
            updatedAt: try json.time("updatedAt"), fields: fields)
    }

    /// The ECR `RepositoryCreationTemplate` shape.
    public var json: JSONValue {
        object([
            ("prefix", .string(prefix)),
            ("createdAt", .double(createdAt.epochSeconds)),
            ("updatedAt", .double(updatedAt.epochSeconds)),
            ("description", fields.description.map(JSONValue.string)),
            ("imageTagMutability", fields.tagMutability.map { .string($0.rawValue) }),
            (
                "imageTagMutabilityExclusionFilters",
                fields.mutabilityExclusions.flatMap { $0.isEmpty ? nil : .filters($0, type: "WILDCARD") }
            ),
            (
                "encryptionConfiguration",
                fields.encryption.map {
                    object([
                        ("encryptionType", .string($0.encryptionType)), ("kmsKey", $0.kmsKey.map(JSONValue.string)),
                    ])
                }
            ),
            (
                "resourceTags",
                fields.resourceTags.map { .array($0.map { ["Key": .string($0.key), "Value": .string($0.value)] }) }
            ),
            ("repositoryPolicy", fields.repositoryPolicy.map(JSONValue.string)),
            ("lifecyclePolicy", fields.lifecyclePolicy.map { .string($0.text) }),
            ("appliedFor", fields.appliedFor.map { .array($0.map { .string($0.rawValue) }) }),
            ("customRoleArn", fields.customRoleArn.map(JSONValue.string)),
        ])
    }
}

/// An ECR pull-through cache rule (`CreatePullThroughCacheRule`): pulls under the prefix that this
/// registry does not hold yet are fetched from the upstream registry.
public struct PullThroughRule: RegistryDocument {
    /// `ROOT`, or a namespace such as `hub` (no trailing slash).
    public var prefix: String
    /// The upstream registry's URL, `http://` or `https://`, with credentials as userinfo if it needs them.
    public var upstreamRegistryURL: String
    /// The account the rule belongs to.
    public var registryId: String
    public var createdAt: Timestamp
    public var updatedAt: Timestamp
    /// The kind of upstream registry (`docker-hub`, `quay`, ...), as given.
    public var upstreamRegistry: String?
    public var credentialArn: String?
    public var customRoleArn: String?
    /// The upstream namespace the prefix stands for, when not the same.
    public var upstreamRepositoryPrefix: String?

    public init(
        prefix: String, upstreamRegistryURL: String, registryId: String, createdAt: Timestamp,
        updatedAt: Timestamp, upstreamRegistry: String? = nil, credentialArn: String? = nil,
        customRoleArn: String? = nil, upstreamRepositoryPrefix: String? = nil
    ) {
        self.prefix = prefix
        self.upstreamRegistryURL = upstreamRegistryURL
        self.registryId = registryId
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.upstreamRegistry = upstreamRegistry
        self.credentialArn = credentialArn
        self.customRoleArn = customRoleArn
        self.upstreamRepositoryPrefix = upstreamRepositoryPrefix
    }

    /// The upstream repository for a local name under this rule.
    public func upstreamName(for name: RepositoryName) -> String {
        let rest = prefix == "ROOT" ? name.rawValue : String(name.rawValue.dropFirst(prefix.count + 1))
        guard let upstream = upstreamRepositoryPrefix, upstream != "ROOT" else { return rest }
        return (upstream.hasSuffix("/") ? String(upstream.dropLast()) : upstream) + "/" + rest
    }

    public init(json: JSONValue) throws(DocumentError) {
        self.init(
            prefix: try json.string("ecrRepositoryPrefix"), upstreamRegistryURL: try json.string("upstreamRegistryUrl"),
            registryId: try json.string("registryId"), createdAt: try json.time("createdAt"),
            updatedAt: try json.time("updatedAt"), upstreamRegistry: try json.optionalString("upstreamRegistry"),
            credentialArn: try json.optionalString("credentialArn"),
            customRoleArn: try json.optionalString("customRoleArn"),
            upstreamRepositoryPrefix: try json.optionalString("upstreamRepositoryPrefix"))
    }

    /// The ECR `PullThroughCacheRule` shape.
    public var json: JSONValue {
        object([
            ("ecrRepositoryPrefix", .string(prefix)),
            ("upstreamRegistryUrl", .string(upstreamRegistryURL)),
            ("registryId", .string(registryId)),
            ("createdAt", .double(createdAt.epochSeconds)),
            ("updatedAt", .double(updatedAt.epochSeconds)),
            ("upstreamRegistry", upstreamRegistry.map(JSONValue.string)),
            ("credentialArn", credentialArn.map(JSONValue.string)),
            ("customRoleArn", customRoleArn.map(JSONValue.string)),
            ("upstreamRepositoryPrefix", upstreamRepositoryPrefix.map(JSONValue.string)),
        ])
    }
}

/// The member of a prefix-keyed table that covers `name`: the longest prefix `p` with `name`
/// under `p/`, else `ROOT`.
func covering<T>(_ name: RepositoryName, in table: [String: T]) -> T? {
    let covering = table.keys.filter { $0 != "ROOT" && name.rawValue.hasPrefix($0 + "/") }.max {
        $0.utf8.count < $1.utf8.count
    }
    return covering.flatMap { table[$0] } ?? table["ROOT"]
}
