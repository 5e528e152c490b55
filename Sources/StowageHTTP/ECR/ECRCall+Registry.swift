import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// Registry-level settings: the registry policy, replication, scanning, account settings,
/// pull-time update exclusions, signing.
extension ECRCall {
    static let registryOperations: [ECRAction: Operation] = [
        .putRegistryPolicy: { try await $0.putRegistryPolicy() },
        .getRegistryPolicy: { try $0.getRegistryPolicy() },
        .deleteRegistryPolicy: { try await $0.deleteRegistryPolicy() },
        .putReplicationConfiguration: { try await $0.putReplicationConfiguration() },
        .describeRegistry: { $0.describeRegistry() },
        .describeImageReplicationStatus: { try $0.describeImageReplicationStatus() },
        .putRegistryScanningConfiguration: { try await $0.putRegistryScanningConfiguration() },
        .getRegistryScanningConfiguration: { $0.getRegistryScanningConfiguration() },
        .batchGetRepositoryScanningConfiguration: { try $0.batchGetRepositoryScanningConfiguration() },
        .putAccountSetting: { try await $0.putAccountSetting() },
        .getAccountSetting: { try $0.getAccountSetting() },
        .registerPullTimeUpdateExclusion: { try await $0.registerPullTimeUpdateExclusion() },
        .deregisterPullTimeUpdateExclusion: { try await $0.deregisterPullTimeUpdateExclusion() },
        .listPullTimeUpdateExclusions: { try $0.listPullTimeUpdateExclusions() },
        .putSigningConfiguration: { try await $0.putSigningConfiguration() },
        .getSigningConfiguration: { try $0.getSigningConfiguration() },
        .deleteSigningConfiguration: { try await $0.deleteSigningConfiguration() },
    ]

    var registry: RegistrySettings { store.state[scope].registry ?? RegistrySettings() }

    @discardableResult
    func changeRegistry(_ change: RegistrySettingChange) async throws -> RegistryStore.Written {
        try await submit(.changeRegistrySettings(change))
    }

    static func validation(_ message: String) -> ECRError { ECRError(.validation, message) }

    // MARK: Registry policy

    struct RegistryPolicyOutput: Encodable {
        var registryId: String
        var policyText: String
    }

    func putRegistryPolicy() async throws -> RegistryPolicyOutput {
        let text = try policyText("policyText", limit: 10_240)
        try await changeRegistry(.policy(text))
        return RegistryPolicyOutput(registryId: registryId, policyText: text)
    }

    func getRegistryPolicy() throws -> RegistryPolicyOutput { try registryPolicy(in: registry) }

    private func registryPolicy(in registry: RegistrySettings?) throws -> RegistryPolicyOutput {
        guard let text = registry?.policy else {
            throw ECRError(
                .registryPolicyNotFound, "Registry policy does not exist in the registry with id '\(registryId)'")
        }
        return RegistryPolicyOutput(registryId: registryId, policyText: text)
    }

    func deleteRegistryPolicy() async throws -> RegistryPolicyOutput {
        _ = try getRegistryPolicy()
        let written = try await changeRegistry(.policy(nil))
        return try registryPolicy(in: written.before[scope].registry)
    }

    // MARK: Replication

    /// `PutReplicationConfiguration`: at most 10 rules of at most 25 destinations; prefix filters.
    func putReplicationConfiguration() async throws -> some Encodable {
        struct Output: Encodable { var replicationConfiguration: JSONValue }
        let rules = try input.structure("replicationConfiguration", required: true)!.structures(
            "rules", count: 0...10, required: true, constraint: "each rule is a structure")!
        var checked: [ReplicationConfiguration.Rule] = []
        for rule in rules {
            guard let destinations = try rule.list("destinations", count: 1...25, required: true),
                destinations.allSatisfy({ $0.objectValue != nil })
            else { throw Self.validation("each replication rule needs 1 to 25 destinations") }
            var scopes: [Scope] = []
            for destination in destinations {
                guard let region = destination["region"]?.stringValue.flatMap(Region.init),
                    let account = destination["registryId"]?.stringValue.flatMap(AccountID.init)
                else { throw Self.validation("each destination needs a valid region and a 12-digit registryId") }
                if region == scope.region && account == scope.account {
                    throw ECRError(.invalidParameter, "a registry cannot replicate to itself (\(account) in \(region))")
                }
                scopes.append(Scope(account: account, region: region))
            }
            var filters: [String]?
            if let list = try rule.list("repositoryFilters", count: 1...100) {
                filters = try list.map { (filter) throws(ECRError) -> String in
                    guard filter["filterType"]?.stringValue == "PREFIX_MATCH", let text = filter["filter"]?.stringValue,
                        (2...256).contains(text.count)
                    else {
                        throw Self.validation(
                            "repository filters are {filter: 2 to 256 characters, filterType: PREFIX_MATCH}")
                    }
                    return text
                }
            }
            checked.append(ReplicationConfiguration.Rule(destinations: scopes, repositoryFilters: filters))
        }
        let configuration = ReplicationConfiguration(rules: checked)
        try await changeRegistry(.replication(configuration))
        return Output(replicationConfiguration: configuration.json)
    }

    /// `DescribeImageReplicationStatus`: for each destination covering the repository, COMPLETE
    /// when the image is there, else FAILED.
    func describeImageReplicationStatus() throws -> some Encodable {
        struct Status: Encodable {
            var region: String
            var registryId: String
            var status: String
            var failureCode: String?
        }
        struct Output: Encodable {
            var repositoryName: String
            var imageId: ECRShape.ImageIdentifier
            var replicationStatuses: [Status]
        }
        let (name, image, imageId) = try identifiedImage()
        let state = store.state
        let statuses = state.replicationDestinations(for: name, in: scope).map { destination in
            let there = state[destination].repositories[name]?.images[image.digest] != nil
            return Status(
                region: destination.region.rawValue, registryId: destination.account.rawValue,
                status: there ? "COMPLETE" : "FAILED",
                failureCode: there
                    ? nil
                    : "the image was pushed before the replication rule covered it, or was deleted at the destination")
        }
        return Output(repositoryName: name.rawValue, imageId: imageId, replicationStatuses: statuses)
    }

    func describeRegistry() -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var replicationConfiguration: JSONValue
        }
        return Output(
            registryId: registryId,
            replicationConfiguration: (registry.replication ?? ReplicationConfiguration(rules: [])).json)
    }

    // MARK: Scanning

    struct ScanningConfigurationOutput: Encodable { var registryScanningConfiguration: JSONValue }

    func putRegistryScanningConfiguration() async throws -> ScanningConfigurationOutput {
        guard let scanType = ScanningConfiguration.ScanType(rawValue: try input.string("scanType") ?? "BASIC") else {
            throw ECRInput.invalid("scanType", "Member must satisfy enum value set: [BASIC, ENHANCED]")
        }
        var rules: [ScanningConfiguration.Rule] = []
        for rule in try input.structures("rules", count: 0...2, constraint: "each rule is a structure") ?? [] {
            guard let frequency = rule.member("scanFrequency")?.stringValue.flatMap(ScanFrequency.init) else {
                throw Self.validation("scanFrequency must be SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL")
            }
            if scanType == .basic && frequency == .continuousScan {
                throw Self.validation("CONTINUOUS_SCAN needs the ENHANCED scan type")
            }
            guard let filters = rule.member("repositoryFilters")?.arrayValue, (1...100).contains(filters.count) else {
                throw Self.validation("each scanning rule needs 1 to 100 repository filters")
            }
            let checked = try filters.map { (filter) throws(ECRError) -> String in
                guard filter["filterType"]?.stringValue == "WILDCARD", let text = filter["filter"]?.stringValue,
                    (1...255).contains(text.count)
                else {
                    throw Self.validation("scanning filters are {filter: 1 to 255 characters, filterType: WILDCARD}")
                }
                return text
            }
            rules.append(ScanningConfiguration.Rule(scanFrequency: frequency, repositoryFilters: checked))
        }
        let configuration = ScanningConfiguration(scanType: scanType, rules: rules)
        try await changeRegistry(.scanning(configuration))
        return ScanningConfigurationOutput(registryScanningConfiguration: configuration.json)
    }

    func getRegistryScanningConfiguration() -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var scanningConfiguration: JSONValue
        }
        return Output(
            registryId: registryId, scanningConfiguration: (registry.scanning ?? ScanningConfiguration()).json)
    }

    /// Each repository's effective scanning: the first registry rule whose filter matches its
    /// name, else its own scan-on-push setting, else manual.
    func batchGetRepositoryScanningConfiguration() throws -> some Encodable {
        struct Configuration: Encodable {
            var repositoryArn: String
            var repositoryName: String
            var scanOnPush: Bool
            var scanFrequency: String
            var appliedScanFilters: [ECRShape.Filter]
        }
        struct Failure: Encodable {
            var repositoryName: String
            var failureCode = "REPOSITORY_NOT_FOUND"
            var failureReason = "REPOSITORY_NOT_FOUND"
        }
        struct Output: Encodable {
            var scanningConfigurations: [Configuration]
            var failures: [Failure]
        }
        let names = try input.strings(
            "repositoryNames", count: 1...25, required: true, constraint: "Member must be a list of repository names")!
        let state = store.state
        var output = Output(scanningConfigurations: [], failures: [])
        for text in names {
            guard let name = RepositoryName(text), let repository = state[scope].repositories[name] else {
                output.failures.append(Failure(repositoryName: text))
                continue
            }
            let (frequency, filters) = state.scanFrequency(of: repository, in: scope)
            output.scanningConfigurations.append(
                Configuration(
                    repositoryArn: ECRController.arn(name, scope), repositoryName: text,
                    scanOnPush: frequency == .scanOnPush || repository.settings.scanOnPush,
                    scanFrequency: frequency.rawValue,
                    appliedScanFilters: ECRShape.Filter.list(filters, type: "WILDCARD")))
        }
        return output
    }

    // MARK: Account settings

    /// The account settings ECR documents, with their allowed values and defaults.
    static let accountSettings: [String: (values: Set<String>, default: String)] = [
        "BASIC_SCAN_TYPE_VERSION": (["AWS_NATIVE", "CLAIR"], "AWS_NATIVE"),
        "REGISTRY_POLICY_SCOPE": (["V1", "V2"], "V2"),
        "BLOB_MOUNTING": (["ENABLED", "DISABLED"], "DISABLED"),
    ]

    func accountSettingName() throws(ECRError) -> String {
        let name = try input.text("name", length: 1...64)
        guard Self.accountSettings[name] != nil else {
            throw Self.validation(
                "unknown account setting '\(name)'; known: \(Self.accountSettings.keys.sorted().joined(separator: ", "))"
            )
        }
        return name
    }

    struct AccountSettingOutput: Encodable {
        var name: String
        var value: String
    }

    func putAccountSetting() async throws -> AccountSettingOutput {
        let name = try accountSettingName()
        let value = try input.text("value")
        guard Self.accountSettings[name]!.values.contains(value) else {
            throw Self.validation(
                "\(name) must be one of \(Self.accountSettings[name]!.values.sorted().joined(separator: ", "))")
        }
        try await changeRegistry(.accountSetting(name: name, value: value))
        return AccountSettingOutput(name: name, value: value)
    }

    func getAccountSetting() throws -> AccountSettingOutput {
        let name = try accountSettingName()
        return AccountSettingOutput(
            name: name, value: registry.accountSettings[name] ?? Self.accountSettings[name]!.default)
    }

    // MARK: Pull-time update exclusions

    static let pullTimeExclusionLimit = 20

    func principalArn() throws(ECRError) -> String {
        let arn = try input.text("principalArn", length: 1...200)
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam", AccountID(String(parts[4])) != nil,
            parts[5].hasPrefix("role/") || parts[5].hasPrefix("user/")
        else {
            throw Self.validation("principalArn must be an IAM role or user ARN: arn:aws:iam::<account>:role/<name>")
        }
        return arn
    }

    func registerPullTimeUpdateExclusion() async throws -> some Encodable {
        struct Output: Encodable {
            var principalArn: String
            var createdAt: ECRShape.Time
        }
        let arn = try principalArn()
        let written = try await changeRegistry(
            .registerPullTimeUpdateExclusion(principal: arn, limit: Self.pullTimeExclusionLimit))
        return Output(principalArn: arn, createdAt: .init(written.envelopes[0].time))
    }

    func deregisterPullTimeUpdateExclusion() async throws -> some Encodable {
        struct Output: Encodable { var principalArn: String }
        let arn = try principalArn()
        try await changeRegistry(.deregisterPullTimeUpdateExclusion(principal: arn))
        return Output(principalArn: arn)
    }

    func listPullTimeUpdateExclusions() throws -> some Encodable {
        struct Output: Encodable {
            var pullTimeUpdateExclusions: [String]
            var nextToken: String?
        }
        let (limit, after) = try input.page(max: 1000)
        let selected = page(registry.pullTimeUpdateExclusions.keys.sorted(), after: after, limit: limit)
        return Output(
            pullTimeUpdateExclusions: selected.items,
            nextToken: selected.hasMore ? selected.items.last.map { nextToken(after: $0) } : nil)
    }

    // MARK: Signing

    func putSigningConfiguration() async throws -> some Encodable {
        struct Output: Encodable { var signingConfiguration: JSONValue }
        let rules = try input.structure("signingConfiguration", required: true)!.structures(
            "rules", count: 0...10, required: true, constraint: "each rule is a structure")!
        var checked: [SigningConfiguration.Rule] = []
        for rule in rules {
            guard let profile = rule.member("signingProfileArn")?.stringValue, profile.hasPrefix("arn:aws:signer:"),
                profile.count <= 200
            else {
                throw Self.validation("signingProfileArn must be an AWS Signer profile ARN (arn:aws:signer:...)")
            }
            var filters: [String]?
            if let list = rule.member("repositoryFilters")?.arrayValue {
                filters = try list.map { (filter) throws(ECRError) -> String in
                    guard filter["filterType"]?.stringValue == "WILDCARD_MATCH",
                        let text = filter["filter"]?.stringValue, (1...256).contains(text.count)
                    else {
                        throw Self.validation(
                            "signing filters are {filter: 1 to 256 characters, filterType: WILDCARD_MATCH}")
                    }
                    return text
                }
            }
            checked.append(SigningConfiguration.Rule(signingProfileArn: profile, repositoryFilters: filters))
        }
        let configuration = SigningConfiguration(rules: checked)
        try await changeRegistry(.signing(configuration))
        return Output(signingConfiguration: configuration.json)
    }

    struct SigningConfigurationOutput: Encodable {
        var registryId: String
        var signingConfiguration: JSONValue
    }

    func getSigningConfiguration() throws -> SigningConfigurationOutput { try signingConfiguration(in: registry) }

    private func signingConfiguration(in registry: RegistrySettings?) throws -> SigningConfigurationOutput {
        guard let configuration = registry?.signing else {
            throw ECRError(
                .signingConfigurationNotFound, "No signing configuration exists in the registry with id '\(registryId)'"
            )
        }
        return SigningConfigurationOutput(registryId: registryId, signingConfiguration: configuration.json)
    }

    func deleteSigningConfiguration() async throws -> SigningConfigurationOutput {
        _ = try getSigningConfiguration()
        let written = try await changeRegistry(.signing(nil))
        return try signingConfiguration(in: written.before[scope].registry)
    }
}
