/// A content descriptor inside a manifest: what it points at and how large it is.
public struct Descriptor: Hashable, Sendable, Codable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var artifactType: String?

    public init(mediaType: String, digest: Digest, size: Int64, artifactType: String? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.artifactType = artifactType
    }
}

/// What a manifest refers to, parsed at the edge so that the reducer never parses JSON.
public struct ManifestReferences: Hashable, Sendable, Codable {
    /// The image configuration blob, if any.
    public var config: Descriptor?
    /// Layer blobs, in order.
    public var layers: [Descriptor]
    /// Child manifests of an index or manifest list.
    public var manifests: [Descriptor]
    /// The manifest this one refers to (OCI `subject`); it may not exist.
    public var subject: Digest?
    /// The OCI `artifactType`, if set.
    public var artifactType: String?
    /// The manifest's top-level annotations.
    public var annotations: [String: String]

    public init(
        config: Descriptor? = nil, layers: [Descriptor] = [], manifests: [Descriptor] = [],
        subject: Digest? = nil, artifactType: String? = nil, annotations: [String: String] = [:]
    ) {
        self.config = config
        self.layers = layers
        self.manifests = manifests
        self.subject = subject
        self.artifactType = artifactType
        self.annotations = annotations
    }

    /// Every blob the manifest needs in its repository: the config, then the layers.
    public var blobs: [Descriptor] { (config.map { [$0] } ?? []) + layers }
}

/// A manifest exactly as a client sent it, with the facts the edge derived from its bytes.
///
/// Manifests are JSON, so their bytes are valid UTF-8 and `content` keeps them exactly;
/// `digest` is the hash of `content.utf8`.
public struct Manifest: Hashable, Sendable, Codable {
    public var digest: Digest
    public var mediaType: String
    public var content: String
    public var references: ManifestReferences

    public init(digest: Digest, mediaType: String, content: String, references: ManifestReferences) {
        self.digest = digest
        self.mediaType = mediaType
        self.content = content
        self.references = references
    }

    /// The size of the manifest in bytes.
    public var size: Int64 { Int64(content.utf8.count) }
}

/// The manifest media types the registry stores.
public enum ManifestMediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"

    public static let images: Set<String> = [ociManifest, dockerManifest]
    public static let indexes: Set<String> = [ociIndex, dockerList]
    public static let all = images.union(indexes)
}

extension Manifest {
    /// Whether this is an image manifest (not an index): what can be scanned and archived.
    public var isImageManifest: Bool { ManifestMediaType.images.contains(mediaType) }
}
