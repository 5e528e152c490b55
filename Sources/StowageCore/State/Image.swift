/// An image in a repository: its manifest, when it was first pushed, and its tags.
public struct Image: Hashable, Sendable, Codable {
    public var manifest: Manifest
    public var pushedAt: Timestamp
    /// The tags that point at this image, sorted.
    public var tags: [Tag]
    /// The last scan of the image, if it was scanned.
    public var scan: ImageScan?
    /// `true` once the image is moved to ECR's ARCHIVE storage class: it cannot be pulled until restored.
    public var archived: Bool?

    public init(manifest: Manifest, pushedAt: Timestamp, tags: [Tag] = []) {
        self.manifest = manifest
        self.pushedAt = pushedAt
        self.tags = tags
    }

    public var digest: Digest { manifest.digest }
}
