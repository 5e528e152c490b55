/// Whether the tags of a repository can be moved to another image.
public enum TagMutability: String, Hashable, Sendable, Codable, CaseIterable {
    case mutable = "MUTABLE"
    case immutable = "IMMUTABLE"
    case immutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
    case mutableWithExclusion = "MUTABLE_WITH_EXCLUSION"
}

/// A key and value attached to a repository (ECR resource tags, not image tags).
public struct ResourceTag: Hashable, Sendable, Codable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// How a repository's images are encrypted at rest (recorded, as ECR reports it).
public struct EncryptionConfiguration: Hashable, Sendable, Codable {
    public var encryptionType: String
    public var kmsKey: String?

    public init(encryptionType: String = "AES256", kmsKey: String? = nil) {
        self.encryptionType = encryptionType
        self.kmsKey = kmsKey
    }
}

/// The settings of a repository that the ECR API reads and writes.
public struct RepositorySettings: Hashable, Sendable, Codable {
    public var tagMutability: TagMutability
    /// Wildcard filters (`*` matches any run of characters) for the `*_WITH_EXCLUSION` modes.
    public var mutabilityExclusions: [String]
    public var scanOnPush: Bool
    public var encryption: EncryptionConfiguration
    public var policy: String?
    public var lifecyclePolicy: LifecyclePolicy?
    /// The policy of the last lifecycle preview started (ECR's StartLifecyclePolicyPreview).
    public var lifecyclePreview: LifecyclePolicy?
    public var resourceTags: [ResourceTag]

    public init(
        tagMutability: TagMutability = .mutable, mutabilityExclusions: [String] = [], scanOnPush: Bool = false,
        encryption: EncryptionConfiguration = .init(), policy: String? = nil, lifecyclePolicy: LifecyclePolicy? = nil,
        resourceTags: [ResourceTag] = []
    ) {
        self.tagMutability = tagMutability
        self.mutabilityExclusions = mutabilityExclusions
        self.scanOnPush = scanOnPush
        self.encryption = encryption
        self.policy = policy
        self.lifecyclePolicy = lifecyclePolicy
        self.resourceTags = resourceTags
    }

    /// Whether `tag`, once set, may not be moved to another image.
    public func isImmutable(_ tag: Tag) -> Bool {
        switch tagMutability {
        case .mutable: false
        case .immutable: true
        case .immutableWithExclusion: !mutabilityExclusions.contains { wildcard($0, matches: tag.rawValue) }
        case .mutableWithExclusion: mutabilityExclusions.contains { wildcard($0, matches: tag.rawValue) }
        }
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters (ECR's wildcard filters).
public func wildcard(_ pattern: String, matches text: String) -> Bool {
    let p = Array(pattern.utf8)
    let t = Array(text.utf8)
    var (pi, ti) = (0, 0)
    var star: Int? = nil
    var resume = 0
    while ti < t.count {
        if pi < p.count && p[pi] == UInt8(ascii: "*") {
            star = pi
            resume = ti
            pi += 1
        } else if pi < p.count && p[pi] == t[ti] {
            pi += 1
            ti += 1
        } else if let s = star {
            pi = s + 1
            resume += 1
            ti = resume
        } else {
            return false
        }
    }
    while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
}
