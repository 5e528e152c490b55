import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    func repositoryJSON(_ repository: Repository) -> [String: Any] {
        let settings = repository.settings
        var encryption: [String: Any] = ["encryptionType": settings.encryption.encryptionType]
        if let key = settings.encryption.kmsKey { encryption["kmsKey"] = key }
        var json: [String: Any] = [
            "repositoryArn": ECRController.arn(repository.name, scope), "registryId": registryId,
            "repositoryName": repository.name.rawValue, "repositoryUri": controller.repositoryURI(repository.name),
            "createdAt": epochSeconds(repository.createdAt), "imageTagMutability": settings.tagMutability.rawValue,
            "imageScanningConfiguration": ["scanOnPush": settings.scanOnPush], "encryptionConfiguration": encryption,
        ]
        if !settings.mutabilityExclusions.isEmpty {
            json["imageTagMutabilityExclusionFilters"] = exclusionFiltersJSON(settings.mutabilityExclusions)
        }
        return json
    }

    func exclusionFiltersJSON(_ filters: [String]) -> [[String: String]] {
        filters.map { ["filterType": "WILDCARD", "filter": $0] }
    }

    /// `imageTagMutabilityExclusionFilters`: 1 to 5 wildcard filters of `[a-zA-Z0-9._*-]{1,128}`.
    func exclusionFilters(for mutability: TagMutability) throws(ECRError) -> [String] {
        let list = try input.list("imageTagMutabilityExclusionFilters", count: 1...5) ?? []
        var filters: [String] = []
        for item in list {
            guard let object = item as? [String: Any], object["filterType"] as? String == "WILDCARD",
                let filter = object["filter"] as? String, (1...128).contains(filter.count),
                filter.allSatisfy({ $0.isLetter || $0.isNumber || "._*-".contains($0) }), filter.allSatisfy(\.isASCII)
            else {
                throw ECRInput.invalid(
                    "imageTagMutabilityExclusionFilters",
                    "each filter is {filterType: WILDCARD, filter: [a-zA-Z0-9._*-]{1,128}}")
            }
            filters.append(filter)
        }
        let needsFilters = mutability == .immutableWithExclusion || mutability == .mutableWithExclusion
        if needsFilters && filters.isEmpty {
            throw ECRError(
                .invalidParameter, "imageTagMutabilityExclusionFilters are required with \(mutability.rawValue)")
        }
        if !needsFilters && !filters.isEmpty {
            throw ECRError(
                .invalidParameter,
                "imageTagMutabilityExclusionFilters are only allowed with MUTABLE_WITH_EXCLUSION or IMMUTABLE_WITH_EXCLUSION"
            )
        }
        return filters
    }

    /// Resource tags: at most 50, keys 1–128 and values 0–256 characters.
    func resourceTags(_ key: String = "tags", required: Bool = false) throws(ECRError) -> [ResourceTag] {
        guard let list = try input.list(key, required: required) else { return [] }
        var tags: [ResourceTag] = []
        for item in list {
            guard let object = item as? [String: Any], let tagKey = object["Key"] as? String,
                let value = object["Value"] as? String
            else {
                throw ECRError(.invalidTagParameter, "each tag needs a Key and a Value")
            }
            guard (1...128).contains(tagKey.count), value.count <= 256, !tagKey.hasPrefix("aws:") else {
                throw ECRError(
                    .invalidTagParameter,
                    "tag keys are 1 to 128 characters and may not start with aws:; values are at most 256")
            }
            tags.append(ResourceTag(key: tagKey, value: value))
        }
        guard tags.count <= 50 else { throw ECRError(.tooManyTags, "a repository may have at most 50 tags") }
        return tags
    }

    // MARK: Operations

    func getAuthorizationToken() -> [String: Any] {
        let (token, expiresAt) = controller.tokens.issue(for: scope)
        return [
            "authorizationData": [
                [
                    "authorizationToken": Data("AWS:\(token)".utf8).base64EncodedString(),
                    "expiresAt": epochSeconds(expiresAt),
                    "proxyEndpoint": "http://\(controller.address.authority)",
                ]
            ]
        ]
    }

    func createRepository() async throws -> [String: Any] {
        let name = try input.repositoryName()
        let mutability = try input.enumeration("imageTagMutability", TagMutability.self) ?? .mutable
        let filters = try exclusionFilters(for: mutability)
        let scanOnPush = try input.structure("imageScanningConfiguration")?.bool("scanOnPush") ?? false
        var encryption = EncryptionConfiguration()
        if let config = try input.structure("encryptionConfiguration") {
            let type = try config.string("encryptionType", required: true)!
            guard ["AES256", "KMS", "KMS_DSSE"].contains(type) else {
                throw ECRInput.invalid(
                    "encryptionConfiguration.encryptionType",
                    "Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]")
            }
            let key = try config.string("kmsKey", length: 1...2048)
            if type == "AES256" && key != nil {
                throw ECRError(.invalidParameter, "kmsKey can only be given with KMS encryption")
            }
            encryption = EncryptionConfiguration(
                encryptionType: type,
                kmsKey: key ?? (type == "AES256" ? nil : "arn:aws:kms:\(scope.region):\(scope.account):alias/aws/ecr"))
        }
        let tags = try resourceTags()
        try await submit(
            .createRepository(
                name: name,
                settings: RepositorySettings(
                    tagMutability: mutability, mutabilityExclusions: filters, scanOnPush: scanOnPush,
                    encryption: encryption, resourceTags: tags)))
        return ["repository": repositoryJSON(try repository(name))]
    }

    func describeRepositories() throws -> [String: Any] {
        let names = try input.list("repositoryNames", count: 1...100)
        if let names {
            if input.object["maxResults"] != nil || input.object["nextToken"] != nil {
                throw ECRError(.invalidParameter, "maxResults and nextToken cannot be used with repositoryNames")
            }
            var repositories: [[String: Any]] = []
            for raw in names {
                guard let text = raw as? String, let name = RepositoryName(text) else {
                    throw ECRInput.invalid("repositoryNames", "each name must be a valid repository name")
                }
                repositories.append(repositoryJSON(try repository(name)))
            }
            return ["repositories": repositories]
        }
        let (limit, after) = try input.page(max: 1000)
        let page = store.state[scope].repositoryNames(after: after.flatMap(RepositoryName.init), limit: limit)
        var output: [String: Any] = ["repositories": try page.items.map { repositoryJSON(try repository($0)) }]
        if page.hasMore, let last = page.items.last { output["nextToken"] = nextToken(after: last.rawValue) }
        return output
    }

    func deleteRepository() async throws -> [String: Any] {
        let name = try input.repositoryName()
        let before = try repository(name)
        try await submit(.deleteRepository(name: name, force: try input.bool("force") ?? false))
        return ["repository": repositoryJSON(before)]
    }

    func putImageTagMutability() async throws -> [String: Any] {
        let name = try input.repositoryName()
        guard let mutability = try input.enumeration("imageTagMutability", TagMutability.self) else {
            throw ECRInput.invalid("imageTagMutability", "Member must not be null")
        }
        let filters = try exclusionFilters(for: mutability)
        try await submit(.setTagMutability(repository: name, mutability: mutability, exclusions: filters))
        var output: [String: Any] = [
            "registryId": registryId, "repositoryName": name.rawValue, "imageTagMutability": mutability.rawValue,
        ]
        if !filters.isEmpty { output["imageTagMutabilityExclusionFilters"] = exclusionFiltersJSON(filters) }
        return output
    }

    func putImageScanningConfiguration() async throws -> [String: Any] {
        let name = try input.repositoryName()
        guard let scanOnPush = try input.structure("imageScanningConfiguration", required: true)!.bool("scanOnPush")
        else {
            throw ECRInput.invalid("imageScanningConfiguration.scanOnPush", "Member must not be null")
        }
        try await submit(.setScanOnPush(repository: name, scanOnPush: scanOnPush))
        return [
            "registryId": registryId, "repositoryName": name.rawValue,
            "imageScanningConfiguration": ["scanOnPush": scanOnPush],
        ]
    }

    // MARK: Policies

    /// A JSON policy document of at most `limit` characters.
    func policyText(_ key: String, limit: Int) throws(ECRError) -> String {
        let text = try input.string(key, required: true, length: 1...limit)!
        guard (try? JSON.parse(text.utf8)) is [String: Any] else {
            throw ECRError(
                .invalidParameter,
                "Invalid parameter at '\(key)' failed to satisfy constraint: 'Invalid repository policy provided'")
        }
        return text
    }

    func setRepositoryPolicy() async throws -> [String: Any] {
        let name = try input.repositoryName()
        let text = try policyText("policyText", limit: 10_240)
        try await submit(.setRepositoryPolicy(repository: name, policy: text))
        return ["registryId": registryId, "repositoryName": name.rawValue, "policyText": text]
    }

    func getRepositoryPolicy() throws -> [String: Any] {
        let name = try input.repositoryName()
        guard let text = try repository(name).settings.policy else {
            throw ECRError(
                .repositoryPolicyNotFound,
                "Repository policy does not exist for the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
        return ["registryId": registryId, "repositoryName": name.rawValue, "policyText": text]
    }

    func deleteRepositoryPolicy() async throws -> [String: Any] {
        let output = try getRepositoryPolicy()
        try await submit(.setRepositoryPolicy(repository: try input.repositoryName(), policy: nil))
        return output
    }

    /// A lifecycle policy: `{"rules": [...]}` with the full rule grammar checked.
    func lifecyclePolicyText() throws(ECRError) -> String {
        let text = try input.string("lifecyclePolicyText", required: true, length: 100...30_720)!
        do { _ = try LifecyclePolicy(text) } catch {
            throw ECRError(
                .invalidParameter,
                "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '\(error.reason)'")
        }
        return text
    }

    func putLifecyclePolicy() async throws -> [String: Any] {
        let name = try input.repositoryName()
        let text = try lifecyclePolicyText()
        try await submit(.setLifecyclePolicy(repository: name, policy: text))
        return ["registryId": registryId, "repositoryName": name.rawValue, "lifecyclePolicyText": text]
    }

    func getLifecyclePolicy() throws -> [String: Any] {
        let name = try input.repositoryName()
        guard let text = try repository(name).settings.lifecyclePolicy else {
            throw ECRError(
                .lifecyclePolicyNotFound,
                "Lifecycle policy does not exist for the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
        return [
            "registryId": registryId, "repositoryName": name.rawValue, "lifecyclePolicyText": text,
            "lastEvaluatedAt": epochSeconds(store.state.time),
        ]
    }

    func deleteLifecyclePolicy() async throws -> [String: Any] {
        let output = try getLifecyclePolicy()
        try await submit(.setLifecyclePolicy(repository: try input.repositoryName(), policy: nil))
        return output
    }

    // MARK: Resource tags

    /// The repository an ARN names, in the caller's account and region.
    func repositoryFromARN() throws -> RepositoryName {
        let arn = try input.string("resourceArn", required: true)!
        let prefix = "arn:aws:ecr:\(scope.region):\(scope.account):repository/"
        guard arn.hasPrefix(prefix), let name = RepositoryName(String(arn.dropFirst(prefix.count))) else {
            throw ECRError(
                .invalidParameter,
                "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN: expected \(prefix)<repository name>'"
            )
        }
        _ = try repository(name)
        return name
    }

    func tagResource() async throws -> [String: Any] {
        let name = try repositoryFromARN()
        let tags = try resourceTags(required: true)
        let existing = try repository(name).settings.resourceTags
        let keys = Set(existing.map(\.key)).union(tags.map(\.key))
        guard keys.count <= 50 else { throw ECRError(.tooManyTags, "a repository may have at most 50 tags") }
        try await submit(.tagRepository(repository: name, tags: tags))
        return [:]
    }

    func untagResource() async throws -> [String: Any] {
        let name = try repositoryFromARN()
        guard let keys = try input.list("tagKeys", count: 0...50, required: true) as? [String] else {
            throw ECRError(.invalidTagParameter, "tagKeys must be a list of strings")
        }
        try await submit(.untagRepository(repository: name, keys: keys))
        return [:]
    }

    func listTagsForResource() throws -> [String: Any] {
        let name = try repositoryFromARN()
        return ["tags": try repository(name).settings.resourceTags.map { ["Key": $0.key, "Value": $0.value] }]
    }
}
