import HashTreeCollections

/// A manifest reference in a URL: a tag or a digest.
public enum Reference: Hashable, Sendable, CustomStringConvertible {
    case tag(Tag)
    case digest(Digest)

    /// A digest when the text has a colon, a tag otherwise; `nil` when neither grammar matches.
    public init?(_ text: String) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let digest = Digest(text) else { return nil }
            self = .digest(digest)
        } else {
            guard let tag = Tag(text) else { return nil }
            self = .tag(tag)
        }
    }

    public var description: String {
        switch self {
        case .tag(let t): t.rawValue
        case .digest(let d): d.rawValue
        }
    }

    /// Whether the reference is a tag.
    public var isTag: Bool {
        if case .tag = self { return true }
        return false
    }
}

/// One page of a sorted listing.
public struct Page<Element: Sendable>: Sendable {
    public var items: [Element]
    /// Whether more items follow the last one.
    public var hasMore: Bool
}

/// Returns up to `limit` of `sorted` after `last`, in order.
public func page<T: Comparable & Sendable>(_ sorted: [T], after last: T?, limit: Int?) -> Page<T> {
    let start = last.map { l in sorted.partitioningIndex { $0 > l } } ?? 0
    // `start + limit` could overflow for a huge limit from a URL: compare with what remains instead.
    let end = limit.map { start + min(sorted.count - start, max(0, $0)) } ?? sorted.count
    return Page(items: Array(sorted[start..<end]), hasMore: end < sorted.count)
}

extension Repository {
    /// Tags in lexical order, `limit` at most, starting after `last` (OCI `n` and `last`).
    public func tags(after last: Tag? = nil, limit: Int? = nil) -> Page<Tag> {
        page(tags.keys.sorted(), after: last, limit: limit)
    }

    /// The image a tag or digest names.
    public func image(_ reference: Reference) -> Image? {
        switch reference {
        case .tag(let tag): tags[tag].flatMap { images[$0.digest] }
        case .digest(let digest): images[digest]
        }
    }

    /// The images whose manifest names `subject` as its subject, optionally only those of one
    /// artifact type (the manifest's `artifactType`, else its config's media type), by digest.
    public func referrers(of subject: Digest, artifactType: String? = nil) -> [Image] {
        (referrers[subject] ?? []).compactMap { images[$0] }.filter { image in
            artifactType == nil || image.artifactType == artifactType
        }
    }

    /// The size of a linked blob, or `nil` when the blob is not in this repository.
    public func blobSize(_ digest: Digest) -> Int64? { blobs[digest] }
}

extension Image {
    /// The artifact type as the referrers API reports it: the manifest's `artifactType`,
    /// else its config's media type.
    public var artifactType: String? {
        manifest.references.artifactType ?? manifest.references.config?.mediaType
    }
}

extension ScopeState {
    /// Repository names in lexical order (the `_catalog` listing).
    public func repositoryNames(after last: RepositoryName? = nil, limit: Int? = nil) -> Page<RepositoryName> {
        page(repositories.keys.sorted(), after: last, limit: limit)
    }

    /// The upload `id` if it is in flight in `repository`.
    public func upload(_ id: UploadID, in repository: RepositoryName) -> Upload? {
        uploads[id].flatMap { $0.repository == repository ? $0 : nil }
    }
}

extension RegistryState {
    /// Every blob digest linked in any repository of any account-region.
    public var linkedBlobs: Set<Digest> {
        var digests = Set<Digest>()
        for scope in scopes.values {
            for repository in scope.repositories.values { digests.formUnion(repository.blobs.keys) }
        }
        return digests
    }

    /// Whether a repository of any account-region links `blob` (one lookup per repository).
    public func links(blob digest: Digest) -> Bool {
        scopes.values.contains { scope in scope.repositories.values.contains { $0.blobs[digest] != nil } }
    }

    /// Every upload in flight, in every account-region.
    public var uploadsInFlight: [(scope: Scope, upload: Upload)] {
        scopes.flatMap { entry in entry.value.uploads.values.map { (entry.key, $0) } }
    }

    /// Counts for statistics: repositories, images, tags, linked blobs and uploads.
    public var counts: (repositories: Int, images: Int, tags: Int, blobLinks: Int, uploads: Int) {
        var result = (repositories: 0, images: 0, tags: 0, blobLinks: 0, uploads: 0)
        for scope in scopes.values {
            result.repositories += scope.repositories.count
            result.uploads += scope.uploads.count
            for repository in scope.repositories.values {
                result.images += repository.images.count
                result.tags += repository.tags.count
                result.blobLinks += repository.blobs.count
            }
        }
        return result
    }
}
