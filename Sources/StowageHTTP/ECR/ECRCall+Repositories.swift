import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// Repositories, their policies and settings, resource tags, and login tokens.
extension ECRCall {
    static let repositoryOperations: [ECRAction: Operation] = [
        .getAuthorizationToken: { $0.getAuthorizationToken() },
        .createRepository: { try await $0.createRepository() },
        .describeRepositories: { try $0.describeRepositories() },
        .deleteRepository: { try await $0.deleteRepository() },
        .putImageTagMutability: { try await $0.putImageTagMutability() },
        .putImageScanningConfiguration: { try await $0.putImageScanningConfiguration() },
        .setRepositoryPolicy: { try await $0.setRepositoryPolicy() },
        .getRepositoryPolicy: { try $0.getRepositoryPolicy() },
        .deleteRepositoryPolicy: { try await $0.deleteRepositoryPolicy() },
        .putLifecyclePolicy: { try await $0.putLifecyclePolicy() },
        .getLifecyclePolicy: { try $0.getLifecyclePolicy() },
        .deleteLifecyclePolicy: { try await $0.deleteLifecyclePolicy() },
        .tagResource: { try await $0.tagResource() },
        .untagResource: { try await $0.untagResource() },
        .listTagsForResource: { try $0.listTagsForResource() },
    ]

    func repositoryShape(_ repository: Repository) -> ECRShape.Repository {
        let settings = repository.settings
        return ECRShape.Repository(
            repositoryArn: ECRController.arn(repository.name, scope), registryId: registryId,
            repositoryName: repository.name.rawValue,
            repositoryUri: controller.repositoryURI(repository.name, in: scope, seenAs: seenAs),
            createdAt: .init(repository.createdAt), imageTagMutability: settings.tagMutability.rawValue,
            imageTagMutabilityExclusionFilters: settings.mutabilityExclusions.isEmpty
                ? nil : ECRShape.Filter.list(settings.mutabilityExclusions, type: "WILDCARD"),
            imageScanningConfiguration: .init(scanOnPush: settings.scanOnPush),
            encryptionConfiguration: .init(
                encryptionType: settings.encryption.encryptionType, kmsKey: settings.encryption.kmsKey))
    }

    /// `imageTagMutabilityExclusionFilters`: 1 to 5 wildcard filters of `[a-zA-Z0-9._*-]{1,128}`.
    func exclusionFilters(for mutability: TagMutability) throws(ECRError) -> [String] {
        let key = "imageTagMutabilityExclusionFilters"
        let constraint = "each filter is {filterType: WILDCARD, filter: [a-zA-Z0-9._*-]{1,128}}"
        var filters: [String] = []
        for item in try input.structures(key, count: 1...5, constraint: constraint) ?? [] {
            guard item.member("filterType")?.stringValue == "WILDCARD", let filter = item.member("filter")?.stringValue,
                (1...128).contains(filter.count),
                filter.allSatisfy({ $0.isLetter || $0.isNumber || "._*-".contains($0) }), filter.allSatisfy(\.isASCII)
            else { throw ECRInput.invalid(key, constraint) }
            filters.append(filter)
        }
        let needsFilters = mutability == .immutableWithExclusion || mutability == .mutableWithExclusion
        if needsFilters && filters.isEmpty {
            throw ECRError(.invalidParameter, "\(key) are required with \(mutability.rawValue)")
        }
        if !needsFilters && !filters.isEmpty {
            throw ECRError(
                .invalidParameter, "\(key) are only allowed with MUTABLE_WITH_EXCLUSION or IMMUTABLE_WITH_EXCLUSION")
        }
        return filters
    }

    /// Resource tags: at most 50, keys 1–128 and values 0–256 characters.
    func resourceTags(_ key: String = "tags", required: Bool = false) throws(ECRError) -> [ResourceTag] {
        guard let items = try input.list(key, required: required) else { return [] }
        var tags: [ResourceTag] = []
        for item in items {
            guard let tagKey = item["Key"]?.stringValue, let value = item["Value"]?.stringValue else {
                throw ECRError(.invalidTagParameter, "each tag needs a Key and a Value")
            }
            guard (1...128).contains(tagKey.count), value.count <= 256, !tagKey.hasPrefix("aws:") else {
                throw ECRError(
                    .invalidTagParameter,
                    "tag keys are 1 to 128 characters and may not start with aws:; values are at most 256")
            }
            tags.append(ResourceTag(key: tagKey, value: value))
        }
        guard tags.count <= Self.resourceTagLimit else {
            throw ECRError(.tooManyTags, "a repository may have at most \(Self.resourceTagLimit) tags")
        }
        return tags
    }

    static let resourceTagLimit = 50

    // MARK: Operations

    func getAuthorizationToken() -> some Encodable {
        struct AuthorizationData: Encodable {
            var authorizationToken: String
            var expiresAt: ECRShape.Time
            var proxyEndpoint: String
        }
        struct Output: Encodable { var authorizationData: [AuthorizationData] }
        let (token, expiresAt) = controller.tokens.issue(for: scope)
        return Output(authorizationData: [
            AuthorizationData(
                authorizationToken: Data("AWS:\(token)".utf8).base64EncodedString(), expiresAt: .init(expiresAt),
                proxyEndpoint:
                    "http://\(controller.address.registry(for: scope, host: controller.configuration.registryHost, seenBy: seenAs))"
            )
        ])
    }

    struct RepositoryOutput: Encodable { var repository: ECRShape.Repository }

    func createRepository() async throws -> RepositoryOutput {
        let name = try input.repositoryName()
        let mutability = try input.enumeration("imageTagMutability", TagMutability.self) ?? .mutable
        let filters = try exclusionFilters(for: mutability)
        let scanOnPush = try input.structure("imageScanningConfiguration")?.bool("scanOnPush") ?? false
        var encryption = EncryptionConfiguration()
        if let config = try input.structure("encryptionConfiguration") {
            let type = try config.text("encryptionType")
            guard ["AES256", "KMS", "KMS_DSSE"].contains(type) else {
                throw ECRInput.invalid(
                    "encryptionConfiguration.encryptionType",
                    "Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]")
            }
            let key = try config.string("kmsKey", required: false, length: 1...2048)
            if type == "AES256" && key != nil {
                throw ECRError(.invalidParameter, "kmsKey can only be given with KMS encryption")
            }
            encryption = EncryptionConfiguration(
                encryptionType: type,
                kmsKey: key ?? (type == "AES256" ? nil : "arn:aws:kms:\(scope.region):\(scope.account):alias/aws/ecr"))
        }
        let tags = try resourceTags()
        let written = try await submit(
            .createRepository(
                name: name,
                settings: RepositorySettings(
                    tagMutability: mutability, mutabilityExclusions: filters, scanOnPush: scanOnPush,
                    encryption: encryption, resourceTags: tags)))
        return RepositoryOutput(repository: repositoryShape(written.after[scope].repositories[name]!))
    }

    func describeRepositories() throws -> some Encodable {
        struct Output: Encodable {
            var repositories: [ECRShape.Repository]
            var nextToken: String?
        }
        if let names = try input.list("repositoryNames", count: 1...100) {
            if input.value["maxResults"] != nil || input.value["nextToken"] != nil {
                throw ECRError(.invalidParameter, "maxResults and nextToken cannot be used with repositoryNames")
            }
            var repositories: [ECRShape.Repository] = []
            for raw in names {
                guard let name = raw.stringValue.flatMap(RepositoryName.init) else {
                    throw ECRInput.invalid("repositoryNames", "each name must be a valid repository name")
                }
                repositories.append(repositoryShape(try repository(name)))
            }
            return Output(repositories: repositories)
        }
        let (limit, after) = try input.page(max: 1000)
        let here = store.state[scope]
        let page = here.repositoryNames(after: after.flatMap(RepositoryName.init), limit: limit)
        return Output(
            repositories: page.items.map { repositoryShape(here.repositories[$0]!) },
            nextToken: page.hasMore ? page.items.last.map { nextToken(after: $0.rawValue) } : nil)
    }

    func deleteRepository() async throws -> RepositoryOutput {
        let name = try input.repositoryName()
        let written = try await submit(.deleteRepository(name: name, force: try input.bool("force") ?? false))
        return RepositoryOutput(repository: repositoryShape(written.before[scope].repositories[name]!))
    }

    func putImageTagMutability() async throws -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var imageTagMutability: String
            var imageTagMutabilityExclusionFilters: [ECRShape.Filter]?
        }
        let name = try input.repositoryName()
        guard let mutability = try input.enumeration("imageTagMutability", TagMutability.self) else {
            throw ECRInput.invalid("imageTagMutability", "Member must not be null")
        }
        let filters = try exclusionFilters(for: mutability)
        try await submit(.setTagMutability(repository: name, mutability: mutability, exclusions: filters))
        return Output(
            registryId: registryId, repositoryName: name.rawValue, imageTagMutability: mutability.rawValue,
            imageTagMutabilityExclusionFilters: filters.isEmpty ? nil : ECRShape.Filter.list(filters, type: "WILDCARD"))
    }

    func putImageScanningConfiguration() async throws -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var imageScanningConfiguration: ECRShape.ImageScanningConfiguration
        }
        let name = try input.repositoryName()
        guard let scanOnPush = try input.structure("imageScanningConfiguration", required: true)!.bool("scanOnPush")
        else {
            throw ECRInput.invalid("imageScanningConfiguration.scanOnPush", "Member must not be null")
        }
        try await submit(.setScanOnPush(repository: name, scanOnPush: scanOnPush))
        return Output(
            registryId: registryId, repositoryName: name.rawValue,
            imageScanningConfiguration: .init(scanOnPush: scanOnPush))
    }

    // MARK: Policies

    /// A JSON policy document of at most `limit` characters.
    func policyText(_ key: String, limit: Int) throws(ECRError) -> String {
        let text = try input.text(key, length: 1...limit)
        guard (try? JSONValue.parse(text))?.objectValue != nil else {
            throw ECRError(
                .invalidParameter,
                "Invalid parameter at '\(key)' failed to satisfy constraint: 'Invalid repository policy provided'")
        }
        return text
    }

    struct RepositoryPolicyOutput: Encodable {
        var registryId: String
        var repositoryName: String
        var policyText: String
    }

    func setRepositoryPolicy() async throws -> RepositoryPolicyOutput {
        let name = try input.repositoryName()
        let text = try policyText("policyText", limit: 10_240)
        try await submit(.setRepositoryPolicy(repository: name, policy: text))
        return RepositoryPolicyOutput(registryId: registryId, repositoryName: name.rawValue, policyText: text)
    }

    func getRepositoryPolicy() throws -> RepositoryPolicyOutput {
        let name = try input.repositoryName()
        return try repositoryPolicy(name, in: try repository(name))
    }

    private func repositoryPolicy(_ name: RepositoryName, in repository: Repository?) throws -> RepositoryPolicyOutput {
        guard let repository else { throw ECRError(RegistryError.repositoryNotFound(name), scope: scope) }
        guard let text = repository.settings.policy else {
            throw ECRError(
                .repositoryPolicyNotFound,
                "Repository policy does not exist for the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
        return RepositoryPolicyOutput(registryId: registryId, repositoryName: name.rawValue, policyText: text)
    }

    func deleteRepositoryPolicy() async throws -> RepositoryPolicyOutput {
        let name = try input.repositoryName()
        _ = try getRepositoryPolicy()
        let written = try await submit(.setRepositoryPolicy(repository: name, policy: nil))
        return try repositoryPolicy(name, in: written.before[scope].repositories[name])
    }

    /// A lifecycle policy: `{"rules": [...]}` with the full rule grammar checked.
    func lifecyclePolicy() throws(ECRError) -> LifecyclePolicy {
        let text = try input.text("lifecyclePolicyText", length: 100...30_720)
        do { return try LifecyclePolicy(text) } catch {
            throw ECRError(
                .invalidParameter,
                "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '\(error.reason)'")
        }
    }

    struct LifecyclePolicyOutput: Encodable {
        var registryId: String
        var repositoryName: String
        var lifecyclePolicyText: String
        var lastEvaluatedAt: ECRShape.Time?
    }

    func putLifecyclePolicy() async throws -> LifecyclePolicyOutput {
        let name = try input.repositoryName()
        let policy = try lifecyclePolicy()
        // What the policy expires now follows at once, as a reaction of the writer.
        try await submit(.setLifecyclePolicy(repository: name, policy: policy))
        return LifecyclePolicyOutput(
            registryId: registryId, repositoryName: name.rawValue, lifecyclePolicyText: policy.text)
    }

    func getLifecyclePolicy() throws -> LifecyclePolicyOutput {
        let name = try input.repositoryName()
        return try lifecyclePolicy(name, in: try repository(name), evaluatedAt: store.state.time)
    }

    private func lifecyclePolicy(_ name: RepositoryName, in repository: Repository?, evaluatedAt: Timestamp) throws
        -> LifecyclePolicyOutput
    {
        guard let repository else { throw ECRError(RegistryError.repositoryNotFound(name), scope: scope) }
        guard let policy = repository.settings.lifecyclePolicy else {
            throw ECRError(
                .lifecyclePolicyNotFound,
                "Lifecycle policy does not exist for the repository with name '\(name)' in the registry with id '\(registryId)'"
            )
        }
        return LifecyclePolicyOutput(
            registryId: registryId, repositoryName: name.rawValue, lifecyclePolicyText: policy.text,
            lastEvaluatedAt: .init(evaluatedAt))
    }

    func deleteLifecyclePolicy() async throws -> LifecyclePolicyOutput {
        let name = try input.repositoryName()
        _ = try getLifecyclePolicy()
        let written = try await submit(.setLifecyclePolicy(repository: name, policy: nil))
        return try lifecyclePolicy(name, in: written.before[scope].repositories[name], evaluatedAt: written.before.time)
    }

    // MARK: Resource tags

    /// The repository an ARN names, in the caller's account and region.
    func repositoryFromARN() throws -> RepositoryName {
        let arn = try input.text("resourceArn")
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

    func tagResource() async throws -> ECRShape.Empty {
        let name = try repositoryFromARN()
        let tags = try resourceTags(required: true)
        try await submit(.tagRepository(repository: name, tags: tags, limit: Self.resourceTagLimit))
        return ECRShape.Empty()
    }

    func untagResource() async throws -> ECRShape.Empty {
        let name = try repositoryFromARN()
        guard let keys = JSONValue.array(try input.list("tagKeys", count: 0...50, required: true)!).stringArray else {
            throw ECRError(.invalidTagParameter, "tagKeys must be a list of strings")
        }
        try await submit(.untagRepository(repository: name, keys: keys))
        return ECRShape.Empty()
    }

    func listTagsForResource() throws -> some Encodable {
        struct Output: Encodable { var tags: [ECRShape.Tag] }
        let name = try repositoryFromARN()
        return Output(
            tags: try repository(name).settings.resourceTags.map { ECRShape.Tag(Key: $0.key, Value: $0.value) })
    }
}
