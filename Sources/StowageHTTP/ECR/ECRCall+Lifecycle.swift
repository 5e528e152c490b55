import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    /// `StartLifecyclePolicyPreview`: the preview is computed at once, so its status is COMPLETE
    /// on the first poll (boto3's waiter returns immediately).
    func startLifecyclePolicyPreview() async throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        let text: String
        if input.object["lifecyclePolicyText"] != nil {
            text = try lifecyclePolicyText()
        } else {
            guard let policy = repository.settings.lifecyclePolicy else {
                throw ECRError(
                    .lifecyclePolicyNotFound,
                    "Lifecycle policy does not exist for the repository with name '\(name)' in the registry with id '\(registryId)'"
                )
            }
            text = policy
        }
        try await submit(.setLifecyclePreview(repository: name, policy: text))
        return [
            "registryId": registryId, "repositoryName": name.rawValue, "lifecyclePolicyText": text,
            "status": "COMPLETE",
        ]
    }

    /// `GetLifecyclePolicyPreview`: what the previewed policy would expire now.
    func getLifecyclePolicyPreview() throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let text = repository.settings.lifecyclePreview, let policy = try? LifecyclePolicy(text) else {
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
                    if case .found(let image, _) = resolve(id, in: repository) { return image.digest }
                    return nil
                })
        }
        let (limit, after) = try input.page(max: 100)
        let matching = expirations.filter { expiration in
            (wanted?.contains(expiration.digest) ?? true)
                && Self.tagStatus(status, admits: repository.images[expiration.digest]!)
        }
        let selected = page(matching.map(\.digest), after: after.flatMap(Digest.init), limit: limit)
        let priorities = Dictionary(expirations.map { ($0.digest, $0.rulePriority) }) { a, _ in a }
        var output: [String: Any] = [
            "registryId": registryId, "repositoryName": name.rawValue, "lifecyclePolicyText": text,
            "status": "COMPLETE",
            "previewResults": selected.items.map { digest -> [String: Any] in
                let image = repository.images[digest]!
                var result: [String: Any] = [
                    "imageDigest": digest.rawValue, "imagePushedAt": epochSeconds(image.pushedAt),
                    "action": ["type": "EXPIRE"], "appliedRulePriority": priorities[digest]!,
                ]
                if !image.tags.isEmpty { result["imageTags"] = image.sortedTags.map(\.rawValue) }
                return result
            },
            "summary": ["expiringImageTotalCount": expirations.count],
        ]
        if selected.hasMore, let last = selected.items.last { output["nextToken"] = nextToken(after: last.rawValue) }
        return output
    }
}
