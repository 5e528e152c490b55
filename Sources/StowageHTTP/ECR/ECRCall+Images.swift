import Foundation
import HashTreeCollections
import StowageCore
import StowageStorage

extension ECRCall {
    /// An `ImageIdentifier` as resolved against a repository.
    enum ResolvedImage {
        case found(Image, tag: Tag?)
        case failure(code: String, reason: String)
    }

    func resolve(_ identifier: Any, in repository: Repository) -> ResolvedImage {
        guard let object = identifier as? [String: Any] else {
            return .failure(
                code: "MissingDigestAndTag", reason: "Invalid request parameters: both tag and digest cannot be null")
        }
        let digestText = object["imageDigest"] as? String
        let tagText = object["imageTag"] as? String
        if digestText == nil && tagText == nil {
            return .failure(
                code: "MissingDigestAndTag", reason: "Invalid request parameters: both tag and digest cannot be null")
        }
        var digest: Digest?
        if let digestText {
            guard let parsed = Digest(digestText) else {
                return .failure(
                    code: "InvalidImageDigest",
                    reason:
                        "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
                )
            }
            digest = parsed
        }
        var tag: Tag?
        if let tagText {
            guard let parsed = Tag(tagText) else {
                return .failure(code: "InvalidImageTag", reason: "Invalid request parameters: image tag is not valid")
            }
            tag = parsed
        }
        if let tag {
            guard let tagged = repository.tags[tag] else {
                return .failure(code: "ImageNotFound", reason: "Requested image not found")
            }
            if let digest, digest != tagged {
                return .failure(
                    code: "ImageTagDoesNotMatchDigest",
                    reason: "Invalid request parameters: given tag does not map to the given digest")
            }
            return .found(repository.images[tagged]!, tag: tag)
        }
        guard let image = repository.images[digest!] else {
            return .failure(code: "ImageNotFound", reason: "Requested image not found")
        }
        return .found(image, tag: nil)
    }

    func identifierJSON(_ identifier: Any) -> [String: Any] {
        (identifier as? [String: Any])?.filter { $0.key == "imageDigest" || $0.key == "imageTag" } ?? [:]
    }

    func imageIds() throws(ECRError) -> [Any] {
        try input.list("imageIds", count: 1...100, required: true)!
    }

    /// `PutImage`: the manifest's digest is sha256 of its exact bytes; its blobs must be in the repository.
    func putImage() async throws -> [String: Any] {
        let name = try input.repositoryName()
        let text = try input.string("imageManifest", required: true, length: 1...4_194_304)!
        let bytes = Array(text.utf8)
        guard bytes.count <= ManifestParser.maximumSize else {
            throw ECRError(.invalidParameter, "the manifest is larger than 4 MiB")
        }
        let declaredType = try input.string("imageManifestMediaType")
        let parsed: (mediaType: String, references: ManifestReferences)
        do { parsed = try ManifestParser.parse(bytes, contentType: declaredType) } catch {
            throw ECRError(
                .invalidParameter,
                "Invalid parameter at 'imageManifest' failed to satisfy constraint: '\(error.errors.first?.message ?? "invalid manifest")'"
            )
        }
        var algorithm = Digest.Algorithm.sha256
        var claimed: Digest?
        if let text = try input.string("imageDigest") {
            guard let digest = Digest(text) else {
                throw ECRInput.invalid("imageDigest", "Member must be a valid digest")
            }
            claimed = digest
            algorithm = digest.algorithm
        }
        let digest = ContentDigester.digest(bytes, algorithm)
        if let claimed, claimed != digest {
            throw ECRError(
                .imageDigestDoesNotMatch, "The digest of the manifest is \(digest), not the \(claimed) that was given")
        }
        var tag: Tag?
        if let text = try input.string("imageTag", length: 1...300) {
            guard let parsed = Tag(text) else { throw ECRInput.invalid("imageTag", "Member must be a valid image tag") }
            tag = parsed
        }
        let repository = try repository(name)
        if repository.images[digest] != nil && (tag == nil || repository.tags[tag!] == digest) {
            throw ECRError(
                .imageAlreadyExists,
                "Image with digest '\(digest)'\(tag.map { " and tag '\($0)'" } ?? "") already exists in the repository with name '\(name)' in registry with id '\(registryId)'"
            )
        }
        let manifest = Manifest(
            digest: digest, mediaType: parsed.mediaType, content: text, references: parsed.references)
        try await submit(.putManifest(repository: name, manifest: manifest, tag: tag))
        var imageId: [String: Any] = ["imageDigest": digest.rawValue]
        if let tag { imageId["imageTag"] = tag.rawValue }
        return [
            "image": [
                "registryId": registryId, "repositoryName": name.rawValue, "imageId": imageId,
                "imageManifest": text, "imageManifestMediaType": parsed.mediaType,
            ]
        ]
    }

    func batchGetImage() throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        let accepted = try input.list("acceptedMediaTypes", count: 1...100) as? [String]
        var images: [[String: Any]] = []
        var failures: [[String: Any]] = []
        for identifier in try imageIds() {
            switch resolve(identifier, in: repository) {
            case .failure(let code, let reason):
                failures.append(["imageId": identifierJSON(identifier), "failureCode": code, "failureReason": reason])
            case .found(let image, let tag):
                if let accepted, !accepted.contains(image.manifest.mediaType) {
                    failures.append([
                        "imageId": identifierJSON(identifier), "failureCode": "ImageNotFound",
                        "failureReason":
                            "the image is a \(image.manifest.mediaType), which acceptedMediaTypes does not list",
                    ])
                    continue
                }
                var imageId: [String: Any] = ["imageDigest": image.digest.rawValue]
                if let tag { imageId["imageTag"] = tag.rawValue }
                images.append([
                    "registryId": registryId, "repositoryName": name.rawValue, "imageId": imageId,
                    "imageManifest": image.manifest.content, "imageManifestMediaType": image.manifest.mediaType,
                ])
            }
        }
        return ["images": images, "failures": failures]
    }

    /// `BatchDeleteImage`: by tag, the tag (and the image with its last tag, as ECR does); by digest, the image and its tags.
    func batchDeleteImage() async throws -> [String: Any] {
        let name = try input.repositoryName()
        var deleted: [[String: Any]] = []
        var failures: [[String: Any]] = []
        for identifier in try imageIds() {
            let repository = try repository(name)
            switch resolve(identifier, in: repository) {
            case .failure(let code, let reason):
                failures.append(["imageId": identifierJSON(identifier), "failureCode": code, "failureReason": reason])
            case .found(let image, let tag?):
                try await submit(.untagImage(repository: name, tag: tag, pruneUntaggedImage: true))
                deleted.append(["imageDigest": image.digest.rawValue, "imageTag": tag.rawValue])
            case .found(let image, nil):
                let parents = repository.images.values.filter {
                    $0.manifest.references.manifests.contains { $0.digest == image.digest }
                }
                if !parents.isEmpty {
                    failures.append([
                        "imageId": identifierJSON(identifier), "failureCode": "ImageReferencedByManifestList",
                        "failureReason":
                            "Requested image referenced by manifest list: [\(parents.map(\.digest.rawValue).joined(separator: ", "))]",
                    ])
                    continue
                }
                try await submit(.deleteManifest(repository: name, digest: image.digest))
                deleted.append(
                    contentsOf: image.tags.isEmpty
                        ? [["imageDigest": image.digest.rawValue]]
                        : image.sortedTags.map { ["imageDigest": image.digest.rawValue, "imageTag": $0.rawValue] })
            }
        }
        return ["imageIds": deleted, "failures": failures]
    }

    func imageDetail(_ image: Image, in name: RepositoryName) -> [String: Any] {
        let references = image.manifest.references
        var detail: [String: Any] = [
            "registryId": registryId, "repositoryName": name.rawValue, "imageDigest": image.digest.rawValue,
            "imageSizeInBytes": references.layers.reduce(Int64(0)) { $0 + $1.size } + (references.config?.size ?? 0),
            "imagePushedAt": epochSeconds(image.pushedAt), "imageManifestMediaType": image.manifest.mediaType,
            "imageStatus": image.archived == true ? "ARCHIVED" : "ACTIVE",
        ]
        if !image.tags.isEmpty { detail["imageTags"] = image.sortedTags.map(\.rawValue) }
        if let config = references.config { detail["artifactMediaType"] = config.mediaType }
        if let subject = references.subject { detail["subjectManifestDigest"] = subject.rawValue }
        if let pulled = controller.pullTimes.last(scope, name, image.digest) {
            detail["lastRecordedPullTime"] = epochSeconds(pulled)
        }
        if let scan = image.scan {
            detail["imageScanStatus"] = ["status": "COMPLETE", "description": "The scan was completed successfully."]
            detail["imageScanFindingsSummary"] = [
                "imageScanCompletedAt": epochSeconds(scan.completedAt),
                "vulnerabilitySourceUpdatedAt": epochSeconds(scan.completedAt),
                "findingSeverityCounts": Self.severityCounts(scan),
            ]
        }
        return detail
    }

    func tagStatusFilter() throws(ECRError) -> String {
        let status = try input.structure("filter")?.string("tagStatus") ?? "ANY"
        guard ["TAGGED", "UNTAGGED", "ANY"].contains(status) else {
            throw ECRInput.invalid("filter.tagStatus", "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]")
        }
        return status
    }

    /// Whether a `tagStatus` filter (`TAGGED`, `UNTAGGED` or `ANY`) lets `image` through.
    static func tagStatus(_ status: String, admits image: Image) -> Bool {
        status == "ANY" || (status == "TAGGED") == !image.tags.isEmpty
    }

    func describeImages() throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        if let ids = try input.list("imageIds", count: 1...100) {
            var details: [[String: Any]] = []
            for identifier in ids {
                switch resolve(identifier, in: repository) {
                case .found(let image, _): details.append(imageDetail(image, in: name))
                case .failure(let code, let reason):
                    if code == "ImageNotFound" {
                        throw ECRError(
                            .imageNotFound,
                            "The image with imageId \(identifierJSON(identifier)) does not exist within the repository with name '\(name)' in the registry with id '\(registryId)'"
                        )
                    }
                    throw ECRError(.invalidParameter, reason)
                }
            }
            return ["imageDetails": details]
        }
        let status = try tagStatusFilter()
        let (limit, after) = try input.page(max: 1000)
        // The digests in order from the token on, filtered lazily: one more than a page tells
        // whether another follows.
        let digests = controller.imageListings.sorted(repository.images, of: name, in: scope)
        let start = after.flatMap(Digest.init).map { last in digests.partitioningIndex { $0 > last } } ?? 0
        let images = Array(
            digests[start...].lazy.map { repository.images[$0]! }.filter { Self.tagStatus(status, admits: $0) }
                .prefix(limit + 1))
        var output: [String: Any] = ["imageDetails": images.prefix(limit).map { imageDetail($0, in: name) }]
        if images.count > limit { output["nextToken"] = nextToken(after: images[limit - 1].digest.rawValue) }
        return output
    }

    /// `ListImages`: one entry per tag, and one per untagged image.
    func listImages() throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        let status = try tagStatusFilter()
        let (limit, after) = try input.page(max: 1000)
        var entries: [(key: String, id: [String: Any])] = []
        for image in repository.images.values {
            if image.tags.isEmpty {
                if status != "TAGGED" {
                    entries.append((image.digest.rawValue, ["imageDigest": image.digest.rawValue]))
                }
            } else if status != "UNTAGGED" {
                for tag in image.sortedTags {
                    entries.append(
                        (
                            image.digest.rawValue + "|" + tag.rawValue,
                            ["imageDigest": image.digest.rawValue, "imageTag": tag.rawValue]
                        ))
                }
            }
        }
        entries.sort { $0.key < $1.key }
        let start = after.map { a in entries.firstIndex { $0.key > a } ?? entries.count } ?? 0
        let end = min(entries.count, start + limit)
        var output: [String: Any] = ["imageIds": entries[start..<end].map(\.id)]
        if end < entries.count { output["nextToken"] = nextToken(after: entries[end - 1].key) }
        return output
    }

    func listImageReferrers() throws -> [String: Any] {
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let text = try input.structure("subjectId", required: true)!.string("imageDigest", required: true),
            let subject = Digest(text)
        else {
            throw ECRInput.invalid("subjectId.imageDigest", "Member must be a valid digest")
        }
        let filter = try input.structure("filter")
        let types = try filter?.list("artifactTypes", count: 1...5) as? [String]
        let (limit, after) = try input.page(max: 50)
        let referrers = repository.referrers(of: subject).filter { image in
            types.map { $0.contains(image.artifactType ?? "") } ?? true
        }
        let selected = page(referrers.map(\.digest), after: after.flatMap(Digest.init), limit: limit)
        var output: [String: Any] = [
            "referrers": selected.items.map { digest -> [String: Any] in
                let image = repository.images[digest]!
                var entry: [String: Any] = [
                    "digest": digest.rawValue, "mediaType": image.manifest.mediaType, "size": image.manifest.size,
                    "artifactStatus": "ACTIVE",
                ]
                if let type = image.artifactType { entry["artifactType"] = type }
                if !image.manifest.references.annotations.isEmpty {
                    entry["annotations"] = image.manifest.references.annotations
                }
                return entry
            }
        ]
        if selected.hasMore, let last = selected.items.last { output["nextToken"] = nextToken(after: last.rawValue) }
        return output
    }
}
