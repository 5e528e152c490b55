import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    func pullThroughPrefix(_ key: String = "ecrRepositoryPrefix") throws(ECRError) -> String {
        let prefix = try input.string(key, required: true, length: 2...30)!
        let bare = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        guard prefix == "ROOT" || RepositoryName(bare.count >= 2 ? bare : bare + "x") != nil else {
            throw ECRError(.validation, "\(key) must be ROOT or a repository namespace of 2 to 30 characters")
        }
        return prefix == "ROOT" ? "ROOT" : bare
    }

    func pullThroughRules() -> [String: [String: Any]] {
        (registry.pullThroughRules ?? [:]).compactMapValues { parsed($0) as? [String: Any] }
    }

    func pullThroughRule(_ prefix: String) throws -> [String: Any] {
        guard let rule = pullThroughRules()[prefix] else {
            throw ECRError(
                .pullThroughCacheRuleNotFound,
                "The pull through cache rule with prefix '\(prefix)' does not exist in the registry with id '\(registryId)'"
            )
        }
        return rule
    }

    func createPullThroughCacheRule() async throws -> [String: Any] {
        let prefix = try pullThroughPrefix()
        guard pullThroughRules()[prefix] == nil else {
            throw ECRError(
                .pullThroughCacheRuleAlreadyExists,
                "A pull through cache rule with prefix '\(prefix)' already exists in the registry with id '\(registryId)'"
            )
        }
        let text = try input.string("upstreamRegistryUrl", required: true)!
        guard let url = URL(string: text), let scheme = url.scheme, scheme == "http" || scheme == "https",
            url.host != nil
        else {
            throw ECRError(
                .unsupportedUpstreamRegistry,
                "upstreamRegistryUrl must be an http:// or https:// registry URL, not '\(text)'")
        }
        let now = epochSeconds(store.clock.now())
        var rule: [String: Any] = [
            "ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": text, "registryId": registryId, "createdAt": now,
            "updatedAt": now,
        ]
        if let upstream = try input.string("upstreamRegistry") {
            let known: Set<String> = [
                "ecr", "ecr-public", "quay", "k8s", "docker-hub", "github-container-registry",
                "azure-container-registry", "gitlab-container-registry", "chainguard",
            ]
            guard known.contains(upstream) else {
                throw ECRInput.invalid("upstreamRegistry", "Member must satisfy enum value set")
            }
            rule["upstreamRegistry"] = upstream
        }
        for key in ["credentialArn", "customRoleArn"] {
            if let value = try input.string(key, length: 0...2048) { rule[key] = value }
        }
        if input.object["upstreamRepositoryPrefix"] != nil {
            rule["upstreamRepositoryPrefix"] = try pullThroughPrefix("upstreamRepositoryPrefix")
        }
        try await changeRegistry(.pullThroughRule(prefix: prefix, rule: canonical(rule)))
        return rule
    }

    func describePullThroughCacheRules() throws -> [String: Any] {
        let rules = pullThroughRules()
        var prefixes = rules.keys.sorted()
        if let wanted = try input.list("ecrRepositoryPrefixes", count: 1...100) as? [String] {
            prefixes = try wanted.map { text -> String in
                let prefix = text == "ROOT" || !text.hasSuffix("/") ? text : String(text.dropLast())
                _ = try pullThroughRule(prefix)
                return prefix
            }
        }
        let (limit, after) = try input.page(max: 1000)
        let selected = page(prefixes, after: after, limit: limit)
        var output: [String: Any] = ["pullThroughCacheRules": selected.items.map { rules[$0]! }]
        if selected.hasMore, let last = selected.items.last { output["nextToken"] = nextToken(after: last) }
        return output
    }

    func updatePullThroughCacheRule() async throws -> [String: Any] {
        let prefix = try pullThroughPrefix()
        var rule = try pullThroughRule(prefix)
        for key in ["credentialArn", "customRoleArn"] {
            if let value = try input.string(key, length: 0...2048) { rule[key] = value }
        }
        rule["updatedAt"] = epochSeconds(store.clock.now())
        try await changeRegistry(.pullThroughRule(prefix: prefix, rule: canonical(rule)))
        return rule.filter {
            [
                "ecrRepositoryPrefix", "registryId", "updatedAt", "credentialArn", "customRoleArn",
                "upstreamRepositoryPrefix",
            ].contains($0.key)
        }
    }

    func deletePullThroughCacheRule() async throws -> [String: Any] {
        let prefix = try pullThroughPrefix()
        let rule = try pullThroughRule(prefix)
        try await changeRegistry(.pullThroughRule(prefix: prefix, rule: nil))
        return rule
    }

    func validatePullThroughCacheRule() async throws -> [String: Any] {
        let prefix = try pullThroughPrefix()
        let rule = try pullThroughRule(prefix)
        let url = (rule["upstreamRegistryUrl"] as? String).flatMap(URL.init(string:))
        var failure: String? = "the rule has no valid upstream URL"
        if let url {
            failure = await controller.pullThrough.validate(
                PullThroughCache.Rule(prefix: prefix, upstreamURL: url, upstreamPrefix: nil))
        }
        var output = rule.filter {
            [
                "ecrRepositoryPrefix", "registryId", "upstreamRegistryUrl", "credentialArn", "customRoleArn",
                "upstreamRepositoryPrefix",
            ].contains($0.key)
        }
        output["isValid"] = failure == nil
        if let failure { output["failure"] = failure }
        return output
    }
}
