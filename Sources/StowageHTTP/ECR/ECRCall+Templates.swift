import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// Repository creation templates, image storage classes, and signing status.
extension ECRCall {
    static let templateOperations: [ECRAction: Operation] = [
        .createRepositoryCreationTemplate: { try await $0.createRepositoryCreationTemplate() },
        .updateRepositoryCreationTemplate: { try await $0.updateRepositoryCreationTemplate() },
        .deleteRepositoryCreationTemplate: { try await $0.deleteRepositoryCreationTemplate() },
        .describeRepositoryCreationTemplates: { try $0.describeRepositoryCreationTemplates() },
        .updateImageStorageClass: { try await $0.updateImageStorageClass() },
        .describeImageSigningStatus: { try $0.describeImageSigningStatus() },
    ]

    func templatePrefix() throws(ECRError) -> String {
        let prefix = try input.text("prefix", length: 1...256)
        let bare = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        guard prefix == "ROOT" || (bare.count >= 1 && RepositoryName(bare + (bare.count == 1 ? "x" : "")) != nil) else {
            throw ECRError(.validation, "prefix must be ROOT or a repository namespace such as prod or prod/")
        }
        return prefix == "ROOT" ? "ROOT" : bare
    }

    /// The fields a create or update request gives.
    func templateFields() throws -> CreationTemplate.Fields {
        var fields = CreationTemplate.Fields()
        fields.description = try input.string("description", length: 0...256)
        if let mutability = try input.enumeration("imageTagMutability", TagMutability.self) {
            fields.tagMutability = mutability
            fields.mutabilityExclusions = try exclusionFilters(for: mutability)
        }
        if let encryption = try input.structure("encryptionConfiguration") {
            let type = try encryption.text("encryptionType")
            guard ["AES256", "KMS", "KMS_DSSE"].contains(type) else {
                throw ECRError(.validation, "encryptionType must be AES256, KMS or KMS_DSSE")
            }
            let key = try encryption.string("kmsKey", required: false, length: 0...2048)
            fields.encryption = EncryptionConfiguration(
                encryptionType: type, kmsKey: key.flatMap { $0.isEmpty ? nil : $0 })
        }
        if input.value["resourceTags"] != nil { fields.resourceTags = try resourceTags("resourceTags") }
        if input.value["repositoryPolicy"] != nil {
            fields.repositoryPolicy = try policyText("repositoryPolicy", limit: 10_240)
        }
        if let text = try input.string("lifecyclePolicy", length: 0...30_720) {
            do { fields.lifecyclePolicy = try LifecyclePolicy(text) } catch {
                throw ECRError(.validation, "lifecyclePolicy: \(error.reason)")
            }
        }
        if let applied = try input.list("appliedFor") {
            guard let values = JSONValue.array(applied).stringArray, !values.isEmpty,
                case let uses = values.compactMap(CreationTemplate.Use.init), uses.count == values.count
            else {
                throw ECRError(.validation, "appliedFor must list REPLICATION, PULL_THROUGH_CACHE or CREATE_ON_PUSH")
            }
            fields.appliedFor = Array(Set(uses)).sorted()
        }
        fields.customRoleArn = try input.string("customRoleArn", length: 0...2048)
        return fields
    }

    struct TemplateOutput: Encodable {
        var registryId: String
        var repositoryCreationTemplate: JSONValue
    }

    func createRepositoryCreationTemplate() async throws -> TemplateOutput {
        let prefix = try templatePrefix()
        let fields = try templateFields()
        guard fields.appliedFor != nil else { throw ECRInput.invalid("appliedFor", "Member must not be null") }
        let written = try await changeRegistry(.createCreationTemplate(prefix: prefix, fields: fields))
        return try template(prefix, in: written.after)
    }

    func updateRepositoryCreationTemplate() async throws -> TemplateOutput {
        let prefix = try templatePrefix()
        let changes = try templateFields()
        let written = try await changeRegistry(.updateCreationTemplate(prefix: prefix, changes: changes))
        return try template(prefix, in: written.after)
    }

    func deleteRepositoryCreationTemplate() async throws -> TemplateOutput {
        let prefix = try templatePrefix()
        let written = try await changeRegistry(.deleteCreationTemplate(prefix: prefix))
        return try template(prefix, in: written.before)
    }

    private func template(_ prefix: String, in state: RegistryState) throws -> TemplateOutput {
        guard let template = state[scope].registry?.creationTemplates?[prefix] else {
            throw ECRError(RegistryError.templateNotFound(prefix: prefix), scope: scope)
        }
        return TemplateOutput(registryId: registryId, repositoryCreationTemplate: template.json)
    }

    func describeRepositoryCreationTemplates() throws -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var repositoryCreationTemplates: [JSONValue]
            var nextToken: String?
        }
        let all = registry.creationTemplates ?? [:]
        var prefixes = all.keys.sorted()
        if let wanted = try input.strings("prefixes", count: 1...100) {
            prefixes = wanted.map { $0 == "ROOT" || !$0.hasSuffix("/") ? $0 : String($0.dropLast()) }.filter {
                all[$0] != nil
            }
        }
        let (limit, after) = try input.page(max: 1000)
        let selected = page(prefixes, after: after, limit: limit)
        return Output(
            registryId: registryId, repositoryCreationTemplates: selected.items.map { all[$0]!.json },
            nextToken: selected.hasMore ? selected.items.last.map { nextToken(after: $0) } : nil)
    }

    // MARK: Storage class and signing

    func updateImageStorageClass() async throws -> some Encodable {
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var imageId: ECRShape.ImageIdentifier
            var imageStatus: String
        }
        let (name, image, imageId) = try identifiedImage()
        guard let target = try input.string("targetStorageClass", required: true),
            target == "STANDARD" || target == "ARCHIVE"
        else {
            throw ECRInput.invalid("targetStorageClass", "Member must satisfy enum value set: [STANDARD, ARCHIVE]")
        }
        guard image.manifest.isImageManifest else {
            throw ECRError(
                .imageStorageClassUpdateNotSupported,
                "Only image manifests can change storage class, not a \(image.manifest.mediaType)")
        }
        try await submit(.setImageArchived(repository: name, digest: image.digest, archived: target == "ARCHIVE"))
        return Output(
            registryId: registryId, repositoryName: name.rawValue, imageId: imageId,
            imageStatus: target == "ARCHIVE" ? "ARCHIVED" : "ACTIVE")
    }

    /// `DescribeImageSigningStatus`: for each signing rule that covers the repository, COMPLETE when
    /// the image has a Notation signature attached (a referrer of that artifact type), else FAILED.
    func describeImageSigningStatus() throws -> some Encodable {
        struct Status: Encodable {
            var signingProfileArn: String
            var status: String
            var failureCode: String?
            var failureReason: String?
        }
        struct Output: Encodable {
            var registryId: String
            var repositoryName: String
            var imageId: ECRShape.ImageIdentifier
            var signingStatuses: [Status]
        }
        let (name, image, imageId) = try identifiedImage()
        let repository = try repository(name)
        let signed = repository.referrers(of: image.digest).contains {
            $0.artifactType == "application/vnd.cncf.notary.signature"
        }
        let statuses = (registry.signing?.rules ?? []).filter { $0.covers(name) }.map { rule in
            Status(
                signingProfileArn: rule.signingProfileArn, status: signed ? "COMPLETE" : "FAILED",
                failureCode: signed ? nil : "SignatureNotFound",
                failureReason: signed
                    ? nil
                    : "the image has no Notation signature (a referrer of artifact type application/vnd.cncf.notary.signature)"
            )
        }
        return Output(
            registryId: registryId, repositoryName: name.rawValue, imageId: imageId, signingStatuses: statuses)
    }
}
