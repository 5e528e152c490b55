import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// Pull-through cache rules (the pulls themselves are `PullThroughCache`'s).
extension ECRCall {
    static let pullThroughOperations: [ECRAction: Operation] = [
        .createPullThroughCacheRule: { try await $0.createPullThroughCacheRule() },
        .describePullThroughCacheRules: { try $0.describePullThroughCacheRules() },
        .updatePullThroughCacheRule: { try await $0.updatePullThroughCacheRule() },
        .deletePullThroughCacheRule: { try await $0.deletePullThroughCacheRule() },
        .validatePullThroughCacheRule: { try await $0.validatePullThroughCacheRule() },
    ]

    static let upstreamRegistries: Set<String> = [
        "ecr", "ecr-public", "quay", "k8s", "docker-hub", "github-container-registry", "azure-container-registry",
        "gitlab-container-registry", "chainguard",
    ]

    func pullThroughPrefix(_ key: String = "ecrRepositoryPrefix") throws(ECRError) -> String {
        let prefix = try input.text(key, length: 2...30)
        let bare = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        guard prefix == "ROOT" || RepositoryName(bare.count >= 2 ? bare : bare + "x") != nil else {
            throw ECRError(.validation, "\(key) must be ROOT or a repository namespace of 2 to 30 characters")
        }
        return prefix == "ROOT" ? "ROOT" : bare
    }

    func pullThroughRule(_ prefix: String, in state: RegistryState? = nil) throws -> PullThroughRule {
        guard let rule = (state ?? store.state)[scope].registry?.pullThroughRules?[prefix] else {
            throw ECRError(RegistryError.pullThroughRuleNotFound(prefix: prefix), scope: scope)
        }
        return rule
    }

    func createPullThroughCacheRule() async throws -> JSONValue {
        let prefix = try pullThroughPrefix()
        let text = try input.text("upstreamRegistryUrl")
        guard let url = URL(string: text), let scheme = url.scheme, scheme == "http" || scheme == "https",
            url.host != nil
        else {
            throw ECRError(
                .unsupportedUpstreamRegistry,
                "upstreamRegistryUrl must be an http:// or https:// registry URL, not '\(text)'")
        }
        let upstream = try input.string("upstreamRegistry")
        if let upstream, !Self.upstreamRegistries.contains(upstream) {
            throw ECRInput.invalid("upstreamRegistry", "Member must satisfy enum value set")
        }
        let rule = PullThroughRule(
            prefix: prefix, upstreamRegistryURL: text, registryId: registryId, createdAt: .epoch, updatedAt: .epoch,
            upstreamRegistry: upstream, credentialArn: try input.string("credentialArn", length: 0...2048),
            customRoleArn: try input.string("customRoleArn", length: 0...2048),
            upstreamRepositoryPrefix: input.value["upstreamRepositoryPrefix"] != nil
                ? try pullThroughPrefix("upstreamRepositoryPrefix") : nil)
        // The writer stamps the rule's times with the record's.
        let written = try await changeRegistry(.createPullThroughRule(rule))
        return try pullThroughRule(prefix, in: written.after).json
    }

    func describePullThroughCacheRules() throws -> some Encodable {
        struct Output: Encodable {
            var pullThroughCacheRules: [JSONValue]
            var nextToken: String?
        }
        let rules = registry.pullThroughRules ?? [:]
        var prefixes = rules.keys.sorted()
        if let wanted = try input.strings("ecrRepositoryPrefixes", count: 1...100) {
            prefixes = try wanted.map { text -> String in
                let prefix = text == "ROOT" || !text.hasSuffix("/") ? text : String(text.dropLast())
                _ = try pullThroughRule(prefix)
                return prefix
            }
        }
        let (limit, after) = try input.page(max: 1000)
        let selected = page(prefixes, after: after, limit: limit)
        return Output(
            pullThroughCacheRules: selected.items.map { rules[$0]!.json },
            nextToken: selected.hasMore ? selected.items.last.map { nextToken(after: $0) } : nil)
    }

    /// The rule's JSON, with only the members an operation's output has.
    func ruleJSON(_ rule: PullThroughRule, keeping keys: Set<String>) -> JSONValue {
        .object((rule.json.objectValue ?? [:]).filter { keys.contains($0.key) })
    }

    func updatePullThroughCacheRule() async throws -> JSONValue {
        let prefix = try pullThroughPrefix()
        let written = try await changeRegistry(
            .updatePullThroughRule(
                prefix: prefix, credentialArn: try input.string("credentialArn", length: 0...2048),
                customRoleArn: try input.string("customRoleArn", length: 0...2048)))
        return ruleJSON(
            try pullThroughRule(prefix, in: written.after),
            keeping: [
                "ecrRepositoryPrefix", "registryId", "updatedAt", "credentialArn", "customRoleArn",
                "upstreamRepositoryPrefix",
            ])
    }

    func deletePullThroughCacheRule() async throws -> JSONValue {
        let prefix = try pullThroughPrefix()
        let written = try await changeRegistry(.deletePullThroughRule(prefix: prefix))
        return try pullThroughRule(prefix, in: written.before).json
    }

    func validatePullThroughCacheRule() async throws -> JSONValue {
        let prefix = try pullThroughPrefix()
        let rule = try pullThroughRule(prefix)
        let failure = await controller.pullThrough.validate(rule)
        let keys: Set<String> = [
            "ecrRepositoryPrefix", "registryId", "upstreamRegistryUrl", "credentialArn", "customRoleArn",
            "upstreamRepositoryPrefix",
        ]
        var output = ruleJSON(rule, keeping: keys).objectValue ?? [:]
        output["isValid"] = .bool(failure == nil)
        if let failure { output["failure"] = .string(failure) }
        return .object(output)
    }
}
