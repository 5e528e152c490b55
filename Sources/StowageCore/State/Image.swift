public import HashTreeCollections

/// An image in a repository: its manifest, when it was first pushed, and its tags.
public struct Image: Hashable, Sendable {
    @CopiedOnWrite public var manifest: Manifest
    public var pushedAt: Timestamp
    /// The tags that point at this image.
    ///
    /// A persistent set, not a sorted array: the published state shares this image with the next
    /// one, so an array would be copied whole for each tag added to or taken off the image (an
    /// image with 20,000 tags made every tagging push cost 20,000 copies). Ordered views use
    /// ``sortedTags``; the encoded form is the sorted array, as it always was.
    public var tags: TreeSet<Tag>
    /// The last scan of the image, if it was scanned.
    public var scan: ImageScan?
    /// `true` once the image is moved to ECR's ARCHIVE storage class: it cannot be pulled until restored.
    public var archived: Bool?

    public init(manifest: Manifest, pushedAt: Timestamp, tags: [Tag] = []) {
        self.manifest = manifest
        self.pushedAt = pushedAt
        self.tags = TreeSet(tags)
    }

    public var digest: Digest { manifest.digest }

    /// What a tag on this image holds: the reference to its manifest that the image holds.
    public var tagTarget: TagTarget { TagTarget(_manifest) }

    /// The image's tags in order.
    public var sortedTags: [Tag] { tags.sorted() }
}

/// What a tag points at: its image's manifest, by the one reference the image holds, so 8 bytes
/// in the repository's tag table where the digest itself took 40. Over 125,000 tags, the table
/// alone went from 110 bytes a tag to 51, and a tag in the state (the table and its image's set of
/// tags) from 138-143 to 99 (`stowage-bench`'s row): about 40 MB less for a million tagged images.
/// Equal, hashed and shown by its digest.
public struct TagTarget: Hashable, Sendable {
    private let manifest: CopiedOnWrite<Manifest>

    init(_ manifest: CopiedOnWrite<Manifest>) { self.manifest = manifest }

    public var digest: Digest { manifest.wrappedValue.digest }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.digest == rhs.digest }

    public func hash(into hasher: inout Hasher) { hasher.combine(digest) }
}

extension Image: Codable {
    private enum CodingKeys: String, CodingKey {
        case manifest, pushedAt, tags, scan, archived
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        manifest = try container.decode(Manifest.self, forKey: .manifest)
        pushedAt = try container.decode(Timestamp.self, forKey: .pushedAt)
        tags = TreeSet(try container.decode([Tag].self, forKey: .tags))
        scan = try container.decodeIfPresent(ImageScan.self, forKey: .scan)
        archived = try container.decodeIfPresent(Bool.self, forKey: .archived)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(manifest, forKey: .manifest)
        try container.encode(pushedAt, forKey: .pushedAt)
        try container.encode(sortedTags, forKey: .tags)
        try container.encodeIfPresent(scan, forKey: .scan)
        try container.encodeIfPresent(archived, forKey: .archived)
    }
}
