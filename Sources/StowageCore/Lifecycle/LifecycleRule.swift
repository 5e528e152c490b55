import HashTreeCollections

/// One rule of an ECR lifecycle policy (parsed from its JSON at the edge).
public struct LifecycleRule: Hashable, Sendable, Codable {
    public enum TagStatus: String, Hashable, Sendable, Codable { case tagged, untagged, any }
    public enum CountType: String, Hashable, Sendable, Codable { case imageCountMoreThan, sinceImagePushed }

    public var priority: Int
    public var tagStatus: TagStatus
    /// With `tagged`: the image must have, for every prefix, a tag that starts with it.
    public var tagPrefixes: [String]
    /// With `tagged`: the image must have, for every pattern, a tag that matches it (`*` wildcards).
    public var tagPatterns: [String]
    public var countType: CountType
    /// Images kept (imageCountMoreThan), or days since push (sinceImagePushed).
    public var countNumber: Int

    public init(
        priority: Int, tagStatus: TagStatus, tagPrefixes: [String] = [], tagPatterns: [String] = [],
        countType: CountType, countNumber: Int
    ) {
        self.priority = priority
        self.tagStatus = tagStatus
        self.tagPrefixes = tagPrefixes
        self.tagPatterns = tagPatterns
        self.countType = countType
        self.countNumber = countNumber
    }

    /// Whether the rule's tag selection covers the image.
    func selects(_ image: Image) -> Bool {
        switch tagStatus {
        case .any: return true
        case .untagged: return image.tags.isEmpty
        case .tagged:
            guard !image.tags.isEmpty else { return false }
            let tags = image.tags.map(\.rawValue)
            return tagPrefixes.allSatisfy { prefix in tags.contains { $0.hasPrefix(prefix) } }
                && tagPatterns.allSatisfy { pattern in tags.contains { wildcard(pattern, matches: $0) } }
        }
    }
}

/// An image a lifecycle policy expires, and the rule that expires it.
public struct LifecycleExpiration: Hashable, Sendable {
    public var digest: Digest
    public var rulePriority: Int

    public init(digest: Digest, rulePriority: Int) {
        self.digest = digest
        self.rulePriority = rulePriority
    }
}

extension Repository {
    /// The images `rules` expire at `now`, as ECR evaluates them: rules in priority order; an
    /// image whose tags a rule selects is decided by that rule and no later one; `imageCountMoreThan`
    /// keeps the newest N selected images, `sinceImagePushed` expires those pushed more than N days ago.
    public func lifecycleExpirations(_ rules: [LifecycleRule], now: Timestamp) -> [LifecycleExpiration] {
        var decided = Set<Digest>()
        var expirations: [LifecycleExpiration] = []
        let all = images.values.sorted {
            $0.pushedAt == $1.pushedAt ? $0.digest > $1.digest : $0.pushedAt > $1.pushedAt
        }
        for rule in rules.sorted(by: { $0.priority < $1.priority }) {
            let selected = all.filter { !decided.contains($0.digest) && rule.selects($0) }
            let expired: [Image]
            switch rule.countType {
            case .imageCountMoreThan:
                expired = Array(selected.dropFirst(rule.countNumber))
            case .sinceImagePushed:
                let limit = now.millisecondsSinceEpoch - Int64(rule.countNumber) * 86_400_000
                expired = selected.filter { $0.pushedAt.millisecondsSinceEpoch < limit }
            }
            for image in selected { decided.insert(image.digest) }
            expirations += expired.map { LifecycleExpiration(digest: $0.digest, rulePriority: rule.priority) }
        }
        return expirations.sorted { $0.digest < $1.digest }
    }
}
