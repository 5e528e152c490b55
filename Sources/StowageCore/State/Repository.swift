public import HashTreeCollections

/// A repository: its settings, images, tags, blob links and the index of referrers.
public struct Repository: Hashable, Sendable, Codable {
    public var name: RepositoryName
    public var createdAt: Timestamp
    @CopiedOnWrite public var settings: RepositorySettings
    public var images: TreeDictionary<Digest, Image>
    public var tags: TreeDictionary<Tag, Digest>
    /// Blobs linked into this repository, with their sizes.
    public var blobs: TreeDictionary<Digest, Int64>
    /// For each subject digest, the sorted digests of the manifests that name it as `subject`.
    public var referrers: TreeDictionary<Digest, [Digest]>

    public init(name: RepositoryName, createdAt: Timestamp, settings: RepositorySettings = .init()) {
        self.name = name
        self.createdAt = createdAt
        self.settings = settings
        images = [:]
        tags = [:]
        blobs = [:]
        referrers = [:]
    }
}
