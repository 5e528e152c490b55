import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// Lifecycle policy previews (the policies themselves are repository settings).
extension ECRCall {
    static let lifecycleOperations: [ECRAction: Operation] = [
        .startLifecyclePolicyPreview: { try await $0.startLifecyclePolicyPreview() },
        .getLifecyclePolicyPreview: { try $0.getLifecyclePolicyPreview() },
    ]

    /// `StartLifecyclePolicyPreview`: the preview is computed at once, so its status is COMPLETE
    /// on the first poll (boto3's waiter returns immediately).
    func startLifecyclePolicyPreview() async throws -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var lifecyclePolicyText: String
            var status = "COMPLETE"
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        let policy: LifecyclePolicy
        if input.value["lifecyclePolicyText"] != nil {
            policy = try lifecyclePolicy()
        } else {
            guard let current = repository.settings.lifecyclePolicy else {
                throw ECRError(
                    .lifecyclePolicyNotFound,
                    "Lifecycle policy does not exist for the repository with name '\(name)' in the registry with id '\(registryId)'"
                )
            }
            policy = current
        }
        try await submit(.setLifecyclePreview(repository: name, policy: policy))
        return Output(registryId: registryId, repositoryName: name.rawValue, lifecyclePolicyText: policy.text)
    }

    /// `GetLifecyclePolicyPreview`: what the previewed policy would expire now.
    func getLifecyclePolicyPreview() throws -> some Encodable {
        struct Result: Encodable {
            struct Action: Encodable { var type = "EXPIRE" }
            var imageTags: [String]?
            var imageDigest: String
            var imagePushedAt: ECRShape.Time
            var action = Action()
            var appliedRulePriority: Int
        }
        struct Summary: Encodable { var expiringImageTotalCount: Int }
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var lifecyclePolicyText: String
            var status = "COMPLETE"
            var previewResults: [Result]
            var summary: Summary
            var nextToken: String?
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let policy = repository.settings.lifecyclePreview, !policy.rules.isEmpty else {
            throw ECRError(
                .lifecyclePolicyPreviewNotFound,
                "There is no lifecycle policy preview for the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
        let expirations = repository.lifecycleExpirations(policy.rules, now: store.clock.now())
        let status = try tagStatusFilter()
        var wanted: Set<Digest>? = nil
        if let ids = try input.list("imageIds", count: 1...100) {
            wanted = Set(
                ids.compactMap { id -> Digest? in
                    if case .found(let image, _) = resolve(ImageReference(id), in: repository) { return image.digest }
                    return nil
                })
        }
        let (limit, after) = try input.page(max: 100)
        let matching = expirations.filter { expiration in
            (wanted?.contains(expiration.digest) ?? true) && status.admits(repository.images[expiration.digest]!)
        }
        let selected = page(matching.map(\.digest), after: after.flatMap(Digest.init), limit: limit)
        let priorities = Dictionary(expirations.map { ($0.digest, $0.rulePriority) }) { a, _ in a }
        return Output(
            registryId: registryId, repositoryName: name.rawValue, lifecyclePolicyText: policy.text,
            previewResults: selected.items.map { digest in
                let image = repository.images[digest]!
                return Result(
                    imageTags: image.tags.isEmpty ? nil : image.sortedTags.map(\.rawValue),
                    imageDigest: digest.rawValue,
                    imagePushedAt: .init(image.pushedAt), appliedRulePriority: priorities[digest]!)
            },
            summary: Summary(expiringImageTotalCount: expirations.count),
            nextToken: selected.hasMore ? selected.items.last.map { nextToken(after: $0.rawValue) } : nil)
    }
}
