import FoundationEssentials
import HashTreeCollections
import StowageCore
import StowageStorage

/// Images: putting, getting, deleting and listing them.
extension ECRCall {
    static let imageOperations: [ECRAction: Operation] = [
        .putImage: { try await $0.putImage() },
        .batchGetImage: { try $0.batchGetImage() },
        .batchDeleteImage: { try await $0.batchDeleteImage() },
        .describeImages: { try $0.describeImages() },
        .listImages: { try $0.listImages() },
        .listImageReferrers: { try $0.listImageReferrers() },
    ]

    /// An `ImageIdentifier` from a request, with what it names.
    struct ImageReference {
        /// The identifier as given (its `imageDigest` and `imageTag` strings), echoed in answers.
        var echo: ECRShape.ImageIdentifier
        var digest: Digest?
        var tag: Tag?
        /// Why it names nothing valid: an ECR failure code and reason.
        var invalid: (code: String, reason: String)?

        init(_ value: JSONValue) {
            echo = ECRShape.ImageIdentifier(
                imageDigest: value["imageDigest"]?.stringValue, imageTag: value["imageTag"]?.stringValue)
            guard echo.imageDigest != nil || echo.imageTag != nil else {
                invalid = ("MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null")
                return
            }
            if let text = echo.imageDigest {
                guard let parsed = Digest(text) else {
                    invalid = (
                        "InvalidImageDigest",
                        "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
                    )
                    return
                }
                digest = parsed
            }
            if let text = echo.imageTag {
                guard let parsed = Tag(text) else {
                    invalid = ("InvalidImageTag", "Invalid request parameters: image tag is not valid")
                    return
                }
                tag = parsed
            }
        }

        /// The identifier, with the digest of the image it resolved to.
        func resolved(_ image: Image) -> ECRShape.ImageIdentifier {
            ECRShape.ImageIdentifier(imageDigest: image.digest.rawValue, imageTag: echo.imageTag)
        }

        var text: String { String(decoding: (try? StateCodec.encode(echo)) ?? [], as: UTF8.self) }
    }

    /// What an `ImageIdentifier` resolves to in a repository.
    enum ResolvedImage {
        case found(Image, tag: Tag?)
        case failure(code: String, reason: String)
    }

    func resolve(_ reference: ImageReference, in repository: Repository) -> ResolvedImage {
        if let invalid = reference.invalid { return .failure(code: invalid.code, reason: invalid.reason) }
        if let tag = reference.tag {
            guard let tagged = repository.tags[tag]?.digest else {
                return .failure(code: "ImageNotFound", reason: "Requested image not found")
            }
            if let digest = reference.digest, digest != tagged {
                return .failure(
                    code: "ImageTagDoesNotMatchDigest",
                    reason: "Invalid request parameters: given tag does not map to the given digest")
            }
            return .found(repository.images[tagged]!, tag: tag)
        }
        guard let image = repository.images[reference.digest!] else {
            return .failure(code: "ImageNotFound", reason: "Requested image not found")
        }
        return .found(image, tag: nil)
    }

    func imageReferences() throws(ECRError) -> [ImageReference] {
        try input.list("imageIds", count: 1...100, required: true)!.map(ImageReference.init)
    }

    /// One image of `name`, named by the request's `imageId`: `ImageNotFoundException` when missing.
    func identifiedImage() throws -> (name: RepositoryName, image: Image, id: ECRShape.ImageIdentifier) {
        let name = try input.repositoryName()
        let repository = try repository(name)
        let reference = ImageReference(try input.required("imageId"))
        switch resolve(reference, in: repository) {
        case .found(let image, _): return (name, image, reference.resolved(image))
        case .failure(let code, let reason):
            guard code == "ImageNotFound" else { throw ECRError(.invalidParameter, reason) }
            throw imageNotFound(reference, in: name)
        }
    }

    func imageNotFound(_ reference: ImageReference, in name: RepositoryName) -> ECRError {
        ECRError(
            .imageNotFound,
            "The image with imageId \(reference.text) does not exist within the repository with name '\(name)' in the registry with id '\(registryId)'"
        )
    }

    // MARK: Operations

    /// `PutImage`: the manifest's digest is sha256 of its exact bytes; its blobs must be in the
    /// repository; an image already there with that tag (or without one) is `ImageAlreadyExistsException`.
    func putImage() async throws -> some Encodable {
        struct Output: Encodable { var image: ECRShape.Image }
        let name = try input.repositoryName()
        let text = try input.text("imageManifest", length: 1...4_194_304)
        let bytes = Array(text.utf8)
        guard bytes.count <= ManifestParser.maximumSize else {
            throw ECRError(.invalidParameter, "the manifest is larger than 4 MiB")
        }
        let declaredType = try input.string("imageManifestMediaType")
        let parsed: (mediaType: String, references: ManifestReferences)
        do { parsed = try ManifestParser.parse(bytes, contentType: declaredType) } catch {
            throw ECRError(
                .invalidParameter,
                "Invalid parameter at 'imageManifest' failed to satisfy constraint: '\(error.reason)'")
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
        let manifest = Manifest(
            digest: digest, mediaType: parsed.mediaType, content: text, references: parsed.references)
        // Scan on push, replication and lifecycle follow as reactions of the writer.
        try await submit(
            .putManifest(
                repository: name, manifest: manifest, tag: tag, options: PutManifestOptions(refuseIfPresent: true)))
        return Output(
            image: ECRShape.Image(
                registryId: registryId, repositoryName: name.rawValue,
                imageId: .init(imageDigest: digest.rawValue, imageTag: tag?.rawValue), imageManifest: text,
                imageManifestMediaType: parsed.mediaType))
    }

    func batchGetImage() throws -> some Encodable {
        struct Output: Encodable {
            var images: [ECRShape.Image]
            var failures: [ECRShape.ImageFailure]
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        let accepted = try input.strings("acceptedMediaTypes", count: 1...100)
        var output = Output(images: [], failures: [])
        for reference in try imageReferences() {
            switch resolve(reference, in: repository) {
            case .failure(let code, let reason):
                output.failures.append(.init(imageId: reference.echo, failureCode: code, failureReason: reason))
            case .found(let image, let tag):
                if let accepted, !accepted.contains(image.manifest.mediaType) {
                    output.failures.append(
                        .init(
                            imageId: reference.echo, failureCode: "ImageNotFound",
                            failureReason:
                                "the image is a \(image.manifest.mediaType), which acceptedMediaTypes does not list"))
                    continue
                }
                output.images.append(
                    ECRShape.Image(
                        registryId: registryId, repositoryName: name.rawValue,
                        imageId: .init(imageDigest: image.digest.rawValue, imageTag: tag?.rawValue),
                        imageManifest: image.manifest.content, imageManifestMediaType: image.manifest.mediaType))
            }
        }
        return output
    }

    /// `BatchDeleteImage`: by tag, the tag (and the image with its last tag, as ECR does); by digest,
    /// the image and its tags, unless an index of the repository names it.
    func batchDeleteImage() async throws -> some Encodable {
        struct Output: Encodable {
            var imageIds: [ECRShape.ImageIdentifier]
            var failures: [ECRShape.ImageFailure]
        }
        let name = try input.repositoryName()
        var output = Output(imageIds: [], failures: [])
        for reference in try imageReferences() {
            switch resolve(reference, in: try repository(name)) {
            case .failure(let code, let reason):
                output.failures.append(.init(imageId: reference.echo, failureCode: code, failureReason: reason))
            case .found(let image, let tag?):
                try await submit(.untagImage(repository: name, tag: tag, pruneUntaggedImage: true))
                output.imageIds.append(.init(imageDigest: image.digest.rawValue, imageTag: tag.rawValue))
            case .found(let image, nil):
                let written: RegistryStore.Written
                do {
                    written = try await submit(
                        .deleteManifest(repository: name, digest: image.digest, refuseIfReferenced: true))
                } catch RegistryError.imageReferencedByIndex(_, _, let parents) {
                    output.failures.append(
                        .init(
                            imageId: reference.echo, failureCode: "ImageReferencedByManifestList",
                            failureReason:
                                "Requested image referenced by manifest list: [\(parents.map(\.rawValue).joined(separator: ", "))]"
                        ))
                    continue
                }
                let deleted = written.before[scope].repositories[name]?.images[image.digest] ?? image
                output.imageIds +=
                    deleted.tags.isEmpty
                    ? [.init(imageDigest: deleted.digest.rawValue)]
                    : deleted.sortedTags.map { .init(imageDigest: deleted.digest.rawValue, imageTag: $0.rawValue) }
            }
        }
        return output
    }

    struct ImageDetail: Encodable {
        struct ScanFindingsSummary: Encodable {
            var imageScanCompletedAt: ECRShape.Time
            var vulnerabilitySourceUpdatedAt: ECRShape.Time
            var findingSeverityCounts: [String: Int]
        }

        var registryId: String
        var repositoryName: String
        var imageDigest: String
        var imageTags: [String]?
        var imageSizeInBytes: Int64
        var imagePushedAt: ECRShape.Time
        var imageManifestMediaType: String
        var artifactMediaType: String?
        var subjectManifestDigest: String?
        var imageStatus: String
        var lastRecordedPullTime: ECRShape.Time?
        var imageScanStatus: ECRShape.ScanStatus?
        var imageScanFindingsSummary: ScanFindingsSummary?
    }

    func imageDetail(_ image: Image, in name: RepositoryName) -> ImageDetail {
        let references = image.manifest.references
        return ImageDetail(
            registryId: registryId, repositoryName: name.rawValue, imageDigest: image.digest.rawValue,
            imageTags: image.tags.isEmpty ? nil : image.sortedTags.map(\.rawValue),
            imageSizeInBytes: references.layers.reduce(Int64(0)) { $0 + $1.size } + (references.config?.size ?? 0),
            imagePushedAt: .init(image.pushedAt), imageManifestMediaType: image.manifest.mediaType,
            artifactMediaType: references.config?.mediaType, subjectManifestDigest: references.subject?.rawValue,
            imageStatus: image.archived == true ? "ARCHIVED" : "ACTIVE",
            lastRecordedPullTime: controller.pullTimes.last(scope, name, image.digest).map(ECRShape.Time.init),
            imageScanStatus: image.scan.map { _ in ECRShape.ScanStatus() },
            imageScanFindingsSummary: image.scan.map {
                .init(
                    imageScanCompletedAt: .init($0.completedAt), vulnerabilitySourceUpdatedAt: .init($0.completedAt),
                    findingSeverityCounts: Self.severityCounts($0))
            })
    }

    /// ECR's `tagStatus` filter.
    enum TagStatus: String {
        case tagged = "TAGGED"
        case untagged = "UNTAGGED"
        case any = "ANY"

        /// Whether the filter lets `image` through.
        func admits(_ image: Image) -> Bool { self == .any || (self == .tagged) == !image.tags.isEmpty }
    }

    func tagStatusFilter() throws(ECRError) -> TagStatus {
        let text = try input.structure("filter")?.string("tagStatus") ?? "ANY"
        guard let status = TagStatus(rawValue: text) else {
            throw ECRInput.invalid("filter.tagStatus", "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]")
        }
        return status
    }

    func describeImages() throws -> some Encodable {
        struct Output: Encodable {
            var imageDetails: [ImageDetail]
            var nextToken: String?
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        if let ids = try input.list("imageIds", count: 1...100) {
            var details: [ImageDetail] = []
            for reference in ids.map(ImageReference.init) {
                switch resolve(reference, in: repository) {
                case .found(let image, _): details.append(imageDetail(image, in: name))
                case .failure(let code, let reason):
                    if code == "ImageNotFound" { throw imageNotFound(reference, in: name) }
                    throw ECRError(.invalidParameter, reason)
                }
            }
            return Output(imageDetails: details)
        }
        let status = try tagStatusFilter()
        let (limit, after) = try input.page(max: 1000)
        // The digests in order from the token on, filtered lazily: one more than a page tells
        // whether another follows.
        let digests = controller.imageListings.sorted(repository.images, of: name, in: scope)
        let start = after.flatMap(Digest.init).map { last in digests.partitioningIndex { $0 > last } } ?? 0
        let images = Array(
            digests[start...].lazy.map { repository.images[$0]! }.filter(status.admits).prefix(limit + 1))
        return Output(
            imageDetails: images.prefix(limit).map { imageDetail($0, in: name) },
            nextToken: images.count > limit ? nextToken(after: images[limit - 1].digest.rawValue) : nil)
    }

    /// `ListImages`: one entry per tag, and one per untagged image.
    func listImages() throws -> some Encodable {
        struct Output: Encodable {
            var imageIds: [ECRShape.ImageIdentifier]
            var nextToken: String?
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        let status = try tagStatusFilter()
        let (limit, after) = try input.page(max: 1000)
        var entries: [(key: String, id: ECRShape.ImageIdentifier)] = []
        for image in repository.images.values {
            if image.tags.isEmpty {
                if status != .tagged {
                    entries.append((image.digest.rawValue, .init(imageDigest: image.digest.rawValue)))
                }
            } else if status != .untagged {
                for tag in image.sortedTags {
                    entries.append(
                        (
                            image.digest.rawValue + "|" + tag.rawValue,
                            .init(imageDigest: image.digest.rawValue, imageTag: tag.rawValue)
                        ))
                }
            }
        }
        entries.sort { $0.key < $1.key }
        let start = after.map { a in entries.firstIndex { $0.key > a } ?? entries.count } ?? 0
        let end = min(entries.count, start + limit)
        return Output(
            imageIds: entries[start..<end].map(\.id),
            nextToken: end < entries.count ? nextToken(after: entries[end - 1].key) : nil)
    }

    func listImageReferrers() throws -> some Encodable {
        struct Referrer: Encodable {
            var digest: String
            var mediaType: String
            var artifactType: String?
            var size: Int64
            var annotations: [String: String]?
            var artifactStatus = "ACTIVE"
        }
        struct Output: Encodable {
            var referrers: [Referrer]
            var nextToken: String?
        }
        let name = try input.repositoryName()
        let repository = try repository(name)
        guard let text = try input.structure("subjectId", required: true)!.string("imageDigest", required: true),
            let subject = Digest(text)
        else {
            throw ECRInput.invalid("subjectId.imageDigest", "Member must be a valid digest")
        }
        let types = try input.structure("filter")?.strings("artifactTypes", count: 1...5)
        let (limit, after) = try input.page(max: 50)
        let referrers = repository.referrers(of: subject).filter { image in
            types.map { $0.contains(image.artifactType ?? "") } ?? true
        }
        let selected = page(referrers.map(\.digest), after: after.flatMap(Digest.init), limit: limit)
        return Output(
            referrers: selected.items.map { digest in
                let image = repository.images[digest]!
                let annotations = image.manifest.references.annotations
                return Referrer(
                    digest: digest.rawValue, mediaType: image.manifest.mediaType, artifactType: image.artifactType,
                    size: image.manifest.size, annotations: annotations.isEmpty ? nil : annotations)
            },
            nextToken: selected.hasMore ? selected.items.last.map { nextToken(after: $0.rawValue) } : nil)
    }
}
