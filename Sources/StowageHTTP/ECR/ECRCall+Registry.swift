import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    var registry: RegistrySettings { store.state[scope].registry ?? RegistrySettings() }

    func changeRegistry(_ change: RegistrySettingChange) async throws {
        try await store.submit(.changeRegistrySettings(change), scope: scope)
    }

    /// Canonical JSON of a validated document, as stored.
    func canonical(_ object: Any) -> String { JSON.string(object) }

    func parsed(_ text: String?) -> Any? {
        text.flatMap { try? JSON.parse($0.utf8) }
    }

    static func validation(_ message: String) -> ECRError { ECRError(.validation, message) }

    // MARK: Registry policy

    func putRegistryPolicy() async throws -> [String: Any] {
        let text = try policyText("policyText", limit: 10_240)
        try await changeRegistry(.policy(text))
        return ["registryId": registryId, "policyText": text]
    }

    func getRegistryPolicy() throws -> [String: Any] {
        guard let text = registry.policy else {
            throw ECRError(
                .registryPolicyNotFound, "Registry policy does not exist in the registry with id '\(registryId)'")
        }
        return ["registryId": registryId, "policyText": text]
    }

    func deleteRegistryPolicy() async throws -> [String: Any] {
        let output = try getRegistryPolicy()
        try await changeRegistry(.policy(nil))
        return output
    }

    // MARK: Replication

    /// `PutReplicationConfiguration`: at most 10 rules of at most 25 destinations; prefix filters.
    func putReplicationConfiguration() async throws -> [String: Any] {
        guard let configuration = try input.structure("replicationConfiguration", required: true),
            let rules = try configuration.list("rules", count: 0...10, required: true)
        else { throw ECRInput.invalid("replicationConfiguration.rules", "Member must not be null") }
        var checked: [[String: Any]] = []
        for case let rule as [String: Any] in rules {
            let item = ECRInput(object: rule)
            guard let destinations = try item.list("destinations", count: 1...25, required: true) as? [[String: Any]]
            else {
                throw Self.validation("each replication rule needs 1 to 25 destinations")
            }
            var checkedDestinations: [[String: String]] = []
            for destination in destinations {
                guard let region = destination["region"] as? String, Region(region) != nil,
                    let registry = destination["registryId"] as? String, AccountID(registry) != nil
                else { throw Self.validation("each destination needs a valid region and a 12-digit registryId") }
                if region == scope.region.rawValue && registry == registryId {
                    throw ECRError(
                        .invalidParameter, "a registry cannot replicate to itself (\(registry) in \(region))")
                }
                checkedDestinations.append(["region": region, "registryId": registry])
            }
            var entry: [String: Any] = ["destinations": checkedDestinations]
            if let filters = try item.list("repositoryFilters", count: 1...100) {
                entry["repositoryFilters"] = try filters.map { filter -> [String: String] in
                    guard let object = filter as? [String: Any], object["filterType"] as? String == "PREFIX_MATCH",
                        let text = object["filter"] as? String, (2...256).contains(text.count)
                    else {
                        throw Self.validation(
                            "repository filters are {filter: 2 to 256 characters, filterType: PREFIX_MATCH}")
                    }
                    return ["filter": text, "filterType": "PREFIX_MATCH"]
                }
            }
            checked.append(entry)
        }
        let document: [String: Any] = ["rules": checked]
        try await changeRegistry(.replication(canonical(document)))
        return ["replicationConfiguration": document]
    }

    /// `DescribeImageReplicationStatus`: for each destination covering the repository, COMPLETE
    /// when the image is there, else FAILED.
    func describeImageReplicationStatus() throws -> [String: Any] {
        let (name, image, imageId) = try scannedImage()
        let statuses = controller.replicator.destinations(for: name, in: scope).map { destination -> [String: Any] in
            let there = store.state[destination].repositories[name]?.images[image.digest] != nil
            var status: [String: Any] = [
                "region": destination.region.rawValue, "registryId": destination.account.rawValue,
                "status": there ? "COMPLETE" : "FAILED",
            ]
            if !there {
                status["failureCode"] =
                    "the image was pushed before the replication rule covered it, or was deleted at the destination"
            }
            return status
        }
        var id = imageId
        id["imageDigest"] = image.digest.rawValue
        return ["repositoryName": name.rawValue, "imageId": id, "replicationStatuses": statuses]
    }

    func describeRegistry() -> [String: Any] {
        ["registryId": registryId, "replicationConfiguration": parsed(registry.replication) ?? ["rules": [Any]()]]
    }

    // MARK: Scanning

    static let scanFrequencies: Set<String> = ["SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL"]

    func putRegistryScanningConfiguration() async throws -> [String: Any] {
        let scanType = try input.string("scanType") ?? "BASIC"
        guard scanType == "BASIC" || scanType == "ENHANCED" else {
            throw ECRInput.invalid("scanType", "Member must satisfy enum value set: [BASIC, ENHANCED]")
        }
        var rules: [[String: Any]] = []
        for case let rule as [String: Any] in try input.list("rules", count: 0...2) ?? [] {
            guard let frequency = rule["scanFrequency"] as? String, Self.scanFrequencies.contains(frequency) else {
                throw Self.validation("scanFrequency must be SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL")
            }
            if scanType == "BASIC" && frequency == "CONTINUOUS_SCAN" {
                throw Self.validation("CONTINUOUS_SCAN needs the ENHANCED scan type")
            }
            guard let filters = rule["repositoryFilters"] as? [[String: Any]], (1...100).contains(filters.count) else {
                throw Self.validation("each scanning rule needs 1 to 100 repository filters")
            }
            let checked = try filters.map { filter -> [String: String] in
                guard filter["filterType"] as? String == "WILDCARD", let text = filter["filter"] as? String,
                    (1...255).contains(text.count)
                else {
                    throw Self.validation("scanning filters are {filter: 1 to 255 characters, filterType: WILDCARD}")
                }
                return ["filter": text, "filterType": "WILDCARD"]
            }
            rules.append(["scanFrequency": frequency, "repositoryFilters": checked])
        }
        let document: [String: Any] = ["scanType": scanType, "rules": rules]
        try await changeRegistry(.scanning(canonical(document)))
        return ["registryScanningConfiguration": document]
    }

    func getRegistryScanningConfiguration() -> [String: Any] {
        [
            "registryId": registryId,
            "scanningConfiguration": parsed(registry.scanning) ?? ["scanType": "BASIC", "rules": [Any]()],
        ]
    }

    /// Each repository's effective scanning: the first registry rule whose filter matches its
    /// name, else its own scan-on-push setting, else manual.
    func batchGetRepositoryScanningConfiguration() throws -> [String: Any] {
        guard let names = try input.list("repositoryNames", count: 1...25, required: true) as? [String] else {
            throw ECRInput.invalid("repositoryNames", "Member must be a list of repository names")
        }
        var configurations: [[String: Any]] = []
        var failures: [[String: Any]] = []
        for text in names {
            guard let name = RepositoryName(text), let repository = store.state[scope].repositories[name] else {
                failures.append([
                    "repositoryName": text, "failureCode": "REPOSITORY_NOT_FOUND",
                    "failureReason": "REPOSITORY_NOT_FOUND",
                ])
                continue
            }
            let (frequency, applied) = controller.scanner.frequency(of: repository, in: scope)
            configurations.append([
                "repositoryArn": ECRController.arn(name, scope), "repositoryName": text,
                "scanOnPush": frequency == "SCAN_ON_PUSH" || repository.settings.scanOnPush, "scanFrequency": frequency,
                "appliedScanFilters": applied,
            ])
        }
        return ["scanningConfigurations": configurations, "failures": failures]
    }

    // MARK: Account settings

    /// The account settings ECR documents, with their allowed values and defaults.
    static let accountSettings: [String: (values: Set<String>, default: String)] = [
        "BASIC_SCAN_TYPE_VERSION": (["AWS_NATIVE", "CLAIR"], "AWS_NATIVE"),
        "REGISTRY_POLICY_SCOPE": (["V1", "V2"], "V2"),
        "BLOB_MOUNTING": (["ENABLED", "DISABLED"], "DISABLED"),
    ]

    func accountSettingName() throws(ECRError) -> String {
        let name = try input.string("name", required: true, length: 1...64)!
        guard Self.accountSettings[name] != nil else {
            throw Self.validation(
                "unknown account setting '\(name)'; known: \(Self.accountSettings.keys.sorted().joined(separator: ", "))"
            )
        }
        return name
    }

    func putAccountSetting() async throws -> [String: Any] {
        let name = try accountSettingName()
        let value = try input.string("value", required: true)!
        guard Self.accountSettings[name]!.values.contains(value) else {
            throw Self.validation(
                "\(name) must be one of \(Self.accountSettings[name]!.values.sorted().joined(separator: ", "))")
        }
        try await changeRegistry(.accountSetting(name: name, value: value))
        return ["name": name, "value": value]
    }

    func getAccountSetting() throws -> [String: Any] {
        let name = try accountSettingName()
        return ["name": name, "value": registry.accountSettings[name] ?? Self.accountSettings[name]!.default]
    }

    // MARK: Pull-time update exclusions

    func principalArn() throws(ECRError) -> String {
        let arn = try input.string("principalArn", required: true, length: 1...200)!
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "iam", AccountID(String(parts[4])) != nil,
            parts[5].hasPrefix("role/") || parts[5].hasPrefix("user/")
        else {
            throw Self.validation("principalArn must be an IAM role or user ARN: arn:aws:iam::<account>:role/<name>")
        }
        return arn
    }

    func registerPullTimeUpdateExclusion() async throws -> [String: Any] {
        let arn = try principalArn()
        guard registry.pullTimeUpdateExclusions.count < 20 else {
            throw ECRError(.limitExceeded, "a registry has at most 20 pull-time update exclusions")
        }
        try await changeRegistry(.registerPullTimeUpdateExclusion(principal: arn))
        return ["principalArn": arn, "createdAt": epochSeconds(registry.pullTimeUpdateExclusions[arn]!)]
    }

    func deregisterPullTimeUpdateExclusion() async throws -> [String: Any] {
        let arn = try principalArn()
        try await changeRegistry(.deregisterPullTimeUpdateExclusion(principal: arn))
        return ["principalArn": arn]
    }

    func listPullTimeUpdateExclusions() throws -> [String: Any] {
        let (limit, after) = try input.page(max: 1000)
        let arns = registry.pullTimeUpdateExclusions.keys.sorted()
        let selected = page(arns, after: after, limit: limit)
        var output: [String: Any] = ["pullTimeUpdateExclusions": selected.items]
        if selected.hasMore, let last = selected.items.last { output["nextToken"] = nextToken(after: last) }
        return output
    }

    // MARK: Signing

    func putSigningConfiguration() async throws -> [String: Any] {
        guard
            let rules = try input.structure("signingConfiguration", required: true)?.list(
                "rules", count: 0...10, required: true)
        else {
            throw ECRInput.invalid("signingConfiguration.rules", "Member must not be null")
        }
        var checked: [[String: Any]] = []
        for case let rule as [String: Any] in rules {
            guard let profile = rule["signingProfileArn"] as? String, profile.hasPrefix("arn:aws:signer:"),
                profile.count <= 200
            else {
                throw Self.validation("signingProfileArn must be an AWS Signer profile ARN (arn:aws:signer:...)")
            }
            var entry: [String: Any] = ["signingProfileArn": profile]
            if let filters = rule["repositoryFilters"] as? [[String: Any]] {
                entry["repositoryFilters"] = try filters.map { filter -> [String: String] in
                    guard filter["filterType"] as? String == "WILDCARD_MATCH", let text = filter["filter"] as? String,
                        (1...256).contains(text.count)
                    else {
                        throw Self.validation(
                            "signing filters are {filter: 1 to 256 characters, filterType: WILDCARD_MATCH}")
                    }
                    return ["filter": text, "filterType": "WILDCARD_MATCH"]
                }
            }
            checked.append(entry)
        }
        let document: [String: Any] = ["rules": checked]
        try await changeRegistry(.signing(canonical(document)))
        return ["signingConfiguration": document]
    }

    func getSigningConfiguration() throws -> [String: Any] {
        guard let document = parsed(registry.signing) else {
            throw ECRError(
                .signingConfigurationNotFound, "No signing configuration exists in the registry with id '\(registryId)'"
            )
        }
        return ["registryId": registryId, "signingConfiguration": document]
    }

    func deleteSigningConfiguration() async throws -> [String: Any] {
        let output = try getSigningConfiguration()
        try await changeRegistry(.signing(nil))
        return output
    }
}
