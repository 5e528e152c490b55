import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    func templatePrefix() throws(ECRError) -> String {
        let prefix = try input.string("prefix", required: true, length: 1...256)!
        let bare = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        guard prefix == "ROOT" || (bare.count >= 1 && RepositoryName(bare + (bare.count == 1 ? "x" : "")) != nil) else {
            throw ECRError(.validation, "prefix must be ROOT or a repository namespace such as prod or prod/")
        }
        return prefix == "ROOT" ? "ROOT" : bare
    }

    func templates() -> [String: [String: Any]] {
        (registry.creationTemplates ?? [:]).compactMapValues { parsed($0) as? [String: Any] }
    }

    /// The template document from the request, merged over `base` (for updates).
    func templateDocument(prefix: String, base: [String: Any]?) throws -> [String: Any] {
        var document = base ?? ["prefix": prefix, "createdAt": epochSeconds(store.clock.now())]
        document["updatedAt"] = epochSeconds(store.clock.now())
        if let description = try input.string("description", length: 0...256) { document["description"] = description }
        if let mutability = try input.enumeration("imageTagMutability", TagMutability.self) {
            document["imageTagMutability"] = mutability.rawValue
            let filters = try exclusionFilters(for: mutability)
            document["imageTagMutabilityExclusionFilters"] = filters.isEmpty ? nil : exclusionFiltersJSON(filters)
        }
        if let encryption = try input.structure("encryptionConfiguration") {
            let type = try encryption.string("encryptionType", required: true)!
            guard ["AES256", "KMS", "KMS_DSSE"].contains(type) else {
                throw ECRError(.validation, "encryptionType must be AES256, KMS or KMS_DSSE")
            }
            var entry: [String: Any] = ["encryptionType": type]
            if let key = try encryption.string("kmsKey", length: 0...2048), !key.isEmpty { entry["kmsKey"] = key }
            document["encryptionConfiguration"] = entry
        }
        if input.object["resourceTags"] != nil {
            document["resourceTags"] = try resourceTags("resourceTags").map { ["Key": $0.key, "Value": $0.value] }
        }
        if input.object["repositoryPolicy"] != nil {
            document["repositoryPolicy"] = try policyText("repositoryPolicy", limit: 10_240)
        }
        if let text = try input.string("lifecyclePolicy", length: 0...30_720) {
            do { _ = try LifecyclePolicy(text) } catch {
                throw ECRError(.validation, "lifecyclePolicy: \(error.reason)")
            }
            document["lifecyclePolicy"] = text
        }
        if let applied = try input.list("appliedFor") {
            let allowed: Set<String> = ["REPLICATION", "PULL_THROUGH_CACHE", "CREATE_ON_PUSH"]
            guard let values = applied as? [String], !values.isEmpty, values.allSatisfy(allowed.contains) else {
                throw ECRError(.validation, "appliedFor must list REPLICATION, PULL_THROUGH_CACHE or CREATE_ON_PUSH")
            }
            document["appliedFor"] = Array(Set(values)).sorted()
        }
        if let role = try input.string("customRoleArn", length: 0...2048) { document["customRoleArn"] = role }
        guard document["appliedFor"] != nil else { throw ECRInput.invalid("appliedFor", "Member must not be null") }
        return document
    }

    func createRepositoryCreationTemplate() async throws -> [String: Any] {
        let prefix = try templatePrefix()
        guard templates()[prefix] == nil else {
            throw ECRError(
                .templateAlreadyExists,
                "A repository creation template with prefix '\(prefix)' already exists in the registry with id '\(registryId)'"
            )
        }
        let document = try templateDocument(prefix: prefix, base: nil)
        try await changeRegistry(.creationTemplate(prefix: prefix, template: canonical(document)))
        return ["registryId": registryId, "repositoryCreationTemplate": document]
    }

    func updateRepositoryCreationTemplate() async throws -> [String: Any] {
        let prefix = try templatePrefix()
        guard let existing = templates()[prefix] else {
            throw ECRError(
                .templateNotFound,
                "No repository creation template with prefix '\(prefix)' exists in the registry with id '\(registryId)'"
            )
        }
        let document = try templateDocument(prefix: prefix, base: existing)
        try await changeRegistry(.creationTemplate(prefix: prefix, template: canonical(document)))
        return ["registryId": registryId, "repositoryCreationTemplate": document]
    }

    func deleteRepositoryCreationTemplate() async throws -> [String: Any] {
        let prefix = try templatePrefix()
        guard let existing = templates()[prefix] else {
            throw ECRError(
                .templateNotFound,
                "No repository creation template with prefix '\(prefix)' exists in the registry with id '\(registryId)'"
            )
        }
        try await changeRegistry(.creationTemplate(prefix: prefix, template: nil))
        return ["registryId": registryId, "repositoryCreationTemplate": existing]
    }

    func describeRepositoryCreationTemplates() throws -> [String: Any] {
        let all = templates()
        var prefixes = all.keys.sorted()
        if let wanted = try input.list("prefixes", count: 1...100) as? [String] {
            prefixes = wanted.map { $0 == "ROOT" || !$0.hasSuffix("/") ? $0 : String($0.dropLast()) }.filter {
                all[$0] != nil
            }
        }
        let (limit, after) = try input.page(max: 1000)
        let selected = page(prefixes, after: after, limit: limit)
        var output: [String: Any] = [
            "registryId": registryId, "repositoryCreationTemplates": selected.items.map { all[$0]! },
        ]
        if selected.hasMore, let last = selected.items.last { output["nextToken"] = nextToken(after: last) }
        return output
    }

    // MARK: Storage class and signing

    func updateImageStorageClass() async throws -> [String: Any] {
        let (name, image, imageId) = try scannedImage()
        guard let target = try input.string("targetStorageClass", required: true),
            target == "STANDARD" || target == "ARCHIVE"
        else {
            throw ECRInput.invalid("targetStorageClass", "Member must satisfy enum value set: [STANDARD, ARCHIVE]")
        }
        guard ImageScanner.isScannable(image) else {
            throw ECRError(
                .imageStorageClassUpdateNotSupported,
                "Only image manifests can change storage class, not a \(image.manifest.mediaType)")
        }
        try await submit(.setImageArchived(repository: name, digest: image.digest, archived: target == "ARCHIVE"))
        var id = imageId
        id["imageDigest"] = image.digest.rawValue
        return [
            "registryId": registryId, "repositoryName": name.rawValue, "imageId": id,
            "imageStatus": target == "ARCHIVE" ? "ARCHIVED" : "ACTIVE",
        ]
    }

    /// `DescribeImageSigningStatus`: for each signing rule that covers the repository, COMPLETE when
    /// the image has a Notation signature attached (a referrer of that artifact type), else FAILED.
    func describeImageSigningStatus() throws -> [String: Any] {
        let (name, image, imageId) = try scannedImage()
        let repository = try repository(name)
        let rules = (parsed(registry.signing) as? [String: Any])?["rules"] as? [[String: Any]] ?? []
        let signed = repository.referrers(of: image.digest).contains {
            $0.artifactType == "application/vnd.cncf.notary.signature"
        }
        var statuses: [[String: Any]] = []
        for rule in rules {
            let filters = rule["repositoryFilters"] as? [[String: String]] ?? []
            guard filters.isEmpty || filters.contains(where: { wildcard($0["filter"] ?? "", matches: name.rawValue) })
            else { continue }
            var status: [String: Any] = [
                "signingProfileArn": rule["signingProfileArn"] ?? "", "status": signed ? "COMPLETE" : "FAILED",
            ]
            if !signed {
                status["failureCode"] = "SignatureNotFound"
                status["failureReason"] =
                    "the image has no Notation signature (a referrer of artifact type application/vnd.cncf.notary.signature)"
            }
            statuses.append(status)
        }
        var id = imageId
        id["imageDigest"] = image.digest.rawValue
        return ["registryId": registryId, "repositoryName": name.rawValue, "imageId": id, "signingStatuses": statuses]
    }
}

/// The repository settings a CREATE_ON_PUSH creation template gives a new repository.
func creationTemplateSettings(for name: RepositoryName, in registry: RegistrySettings?) -> RepositorySettings? {
    templateSettings(for: name, in: registry, appliedFor: "CREATE_ON_PUSH")
}

/// The settings of the creation template for `appliedFor` that covers `name`: the one with the
/// longest prefix, else the ROOT template.
func templateSettings(for name: RepositoryName, in registry: RegistrySettings?, appliedFor: String)
    -> RepositorySettings?
{
    let templates = registry?.creationTemplates ?? [:]
    let covering = templates.keys.filter { $0 != "ROOT" && name.rawValue.hasPrefix($0 + "/") }.sorted {
        $0.count > $1.count
    }
    guard let prefix = covering.first ?? (templates["ROOT"] != nil ? "ROOT" : nil),
        let document = templates[prefix].flatMap({ try? JSON.parse($0.utf8) })
            as? [String: Any],
        (document["appliedFor"] as? [String])?.contains(appliedFor) == true
    else { return nil }
    var settings = RepositorySettings()
    if let mutability = (document["imageTagMutability"] as? String).flatMap(TagMutability.init) {
        settings.tagMutability = mutability
    }
    settings.mutabilityExclusions = (document["imageTagMutabilityExclusionFilters"] as? [[String: String]] ?? [])
        .compactMap { $0["filter"] }
    if let encryption = document["encryptionConfiguration"] as? [String: Any],
        let type = encryption["encryptionType"] as? String
    {
        settings.encryption = EncryptionConfiguration(encryptionType: type, kmsKey: encryption["kmsKey"] as? String)
    }
    settings.resourceTags = (document["resourceTags"] as? [[String: String]] ?? []).compactMap { tag in
        tag["Key"].map { ResourceTag(key: $0, value: tag["Value"] ?? "") }
    }
    settings.policy = document["repositoryPolicy"] as? String
    settings.lifecyclePolicy = document["lifecyclePolicy"] as? String
    return settings
}
