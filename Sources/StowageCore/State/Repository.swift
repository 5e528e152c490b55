public import HashTreeCollections

/// A repository: its settings, images, tags, blob links and the index of referrers.
///
/// Its fields are kept behind one shared reference (``CopiedOnWrite``): the repositories are the
/// values of a persistent tree, and every command that writes into one of them copies the tree
/// node that holds it, with up to 31 other repositories, retaining every reference each of them
/// holds. Inline, a repository held five (its settings and four trees), each a separate object and
/// at a thousand repositories a cache miss; behind the box, a copy retains one.
public struct Repository: Hashable, Sendable, Codable {
    private var box: CopiedOnWrite<Fields>
    /// Writes made through this value: with its box's identity, what tells a repository written
    /// into since from one untouched (a write into a box no other value shares is made in place).
    /// Every value holding a box has the count of the writes made into it, as only a value that
    /// shares its box with no other writes into it; so a box and a count name one content.
    private var writes: UInt = 0

    private var fields: Fields {
        _read { yield box.wrappedValue }
        _modify {
            writes &+= 1
            yield &box.wrappedValue
        }
    }

    /// What a repository holds, encoded as the repository itself.
    private struct Fields: Hashable, Sendable, Codable {
        var name: RepositoryName
        var createdAt: Timestamp
        @CopiedOnWrite var settings: RepositorySettings
        var images: TreeDictionary<Digest, Image> = [:]
        var tags: TreeDictionary<Tag, TagTarget> = [:]
        var blobs: TreeDictionary<Digest, Int64> = [:]
        var referrers: TreeDictionary<Digest, [Digest]> = [:]

        init(name: RepositoryName, createdAt: Timestamp, settings: RepositorySettings) {
            self.name = name
            self.createdAt = createdAt
            self.settings = settings
        }

        private enum CodingKeys: String, CodingKey {
            case name, createdAt, settings, images, tags, blobs, referrers
        }

        /// Tags are encoded as their digests, and point at the image of that digest when decoded.
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(RepositoryName.self, forKey: .name)
            createdAt = try container.decode(Timestamp.self, forKey: .createdAt)
            settings = try container.decode(RepositorySettings.self, forKey: .settings)
            images = try container.decode(TreeDictionary<Digest, Image>.self, forKey: .images)
            let digests = try container.decode(TreeDictionary<Tag, Digest>.self, forKey: .tags)
            tags = try Repository.targets(of: digests, in: images)
            blobs = try container.decode(TreeDictionary<Digest, Int64>.self, forKey: .blobs)
            referrers = try container.decode(TreeDictionary<Digest, [Digest]>.self, forKey: .referrers)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(settings, forKey: .settings)
            try container.encode(images, forKey: .images)
            try container.encode(tags.mapValues(\.digest), forKey: .tags)
            try container.encode(blobs, forKey: .blobs)
            try container.encode(referrers, forKey: .referrers)
        }
    }

    /// A tag table read as digests, each tag pointing at the image of its digest.
    ///
    /// - Throws: ``DanglingTag`` when a tag names a digest the repository holds no image of.
    public static func targets(
        of digests: TreeDictionary<Tag, Digest>, in images: TreeDictionary<Digest, Image>
    ) throws(DanglingTag) -> TreeDictionary<Tag, TagTarget> {
        struct Missing: Error {}
        do {
            // The same tree with other values: no tag hashed or inserted again (a restart reads a
            // million of them).
            return try digests.mapValues { digest in
                guard let image = images[digest] else { throw Missing() }
                return image.tagTarget
            }
        } catch {
            let (tag, digest) = digests.first { images[$0.value] == nil }!
            throw DanglingTag(tag: tag, digest: digest)
        }
    }

    /// A tag read from a snapshot or an export names an image its repository does not hold.
    public struct DanglingTag: Error, CustomStringConvertible {
        public var tag: Tag
        public var digest: Digest
        public var description: String { "tag \(tag) points at \(digest), which its repository holds no image of" }
    }

    public init(name: RepositoryName, createdAt: Timestamp, settings: RepositorySettings = .init()) {
        box = CopiedOnWrite(wrappedValue: Fields(name: name, createdAt: createdAt, settings: settings))
    }

    public init(from decoder: any Decoder) throws { box = CopiedOnWrite(wrappedValue: try Fields(from: decoder)) }

    /// What names its contents: the same for a later value of it only if nothing was written
    /// into it since. A snapshot copies what it wrote of those from the snapshot before, holding
    /// their identities, which keep nothing of their contents alive.
    public var identity: Identity { Identity(box: box.identity, writes: writes) }

    public struct Identity: Equatable, Sendable {
        let box: ObjectIdentity
        let writes: UInt
    }

    /// Equal contents, whatever was written to reach them.
    public static func == (lhs: Repository, rhs: Repository) -> Bool { lhs.box == rhs.box }

    public func hash(into hasher: inout Hasher) { hasher.combine(box) }

    public func encode(to encoder: any Encoder) throws { try fields.encode(to: encoder) }

    public var name: RepositoryName {
        _read { yield fields.name }
        _modify { yield &fields.name }
    }

    public var createdAt: Timestamp {
        _read { yield fields.createdAt }
        _modify { yield &fields.createdAt }
    }

    public var settings: RepositorySettings {
        _read { yield fields.settings }
        _modify { yield &fields.settings }
    }

    public var images: TreeDictionary<Digest, Image> {
        _read { yield fields.images }
        _modify { yield &fields.images }
    }

    /// Each tag and the image it points at (``TagTarget``: its digest, by its manifest's reference).
    public var tags: TreeDictionary<Tag, TagTarget> {
        _read { yield fields.tags }
        _modify { yield &fields.tags }
    }

    /// Blobs linked into this repository, with their sizes.
    public var blobs: TreeDictionary<Digest, Int64> {
        _read { yield fields.blobs }
        _modify { yield &fields.blobs }
    }

    /// For each subject digest, the sorted digests of the manifests that name it as `subject`.
    public var referrers: TreeDictionary<Digest, [Digest]> {
        _read { yield fields.referrers }
        _modify { yield &fields.referrers }
    }
}
