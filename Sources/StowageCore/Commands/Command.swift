/// Every change the registry can undergo. Each case carries all its reducer needs:
/// the core never reads a clock, makes an id or touches a byte of blob content.
public enum Command: Hashable, Sendable, Codable {
    // Repositories
    case createRepository(name: RepositoryName, settings: RepositorySettings)
    case deleteRepository(name: RepositoryName, force: Bool)
    case setTagMutability(repository: RepositoryName, mutability: TagMutability, exclusions: [String])
    case setScanOnPush(repository: RepositoryName, scanOnPush: Bool)
    case setRepositoryPolicy(repository: RepositoryName, policy: String?)
    case setLifecyclePolicy(repository: RepositoryName, policy: LifecyclePolicy?)
    case setLifecyclePreview(repository: RepositoryName, policy: LifecyclePolicy?)
    /// Adds or replaces resource tags; with a `limit`, refused when the repository would have more.
    case tagRepository(repository: RepositoryName, tags: [ResourceTag], limit: Int? = nil)
    case untagRepository(repository: RepositoryName, keys: [String])

    /// Changes a registry-level setting of the envelope's account-region.
    case changeRegistrySettings(RegistrySettingChange)

    // Blob uploads
    case startUpload(id: UploadID, repository: RepositoryName)
    case appendChunk(upload: UploadID, repository: RepositoryName, offset: Int64, length: Int64)
    /// Makes the upload's bytes the blob `computed`, linked in the repository; refused when
    /// `claimed` is not `computed`. With `layerRules`, also refused as ECR's `CompleteLayerUpload` is.
    case commitUpload(
        upload: UploadID, repository: RepositoryName, claimed: Digest, computed: Digest, size: Int64,
        layerRules: LayerUploadRules? = nil)
    case cancelUpload(upload: UploadID, repository: RepositoryName)
    /// Ends an upload the registry gave up on, with why: nobody touched it for too long, or a
    /// crash took bytes it had acknowledged.
    case endUpload(upload: UploadID, repository: RepositoryName, reason: UploadEnd)
    /// A blob whose bytes arrived whole and were verified and stored at the edge.
    case putBlob(repository: RepositoryName, digest: Digest, size: Int64)
    /// Links a blob another repository of the account-region has: `from`, or (with `nil`) the
    /// first repository by name that has it.
    case mountBlob(repository: RepositoryName, digest: Digest, from: RepositoryName?)
    case deleteBlobLink(repository: RepositoryName, digest: Digest)

    // Images
    /// Stores an image (if new) and points the tag (and the options' other tags) at it; refused
    /// when it names blobs or child manifests the repository lacks, unless the options allow it.
    case putManifest(repository: RepositoryName, manifest: Manifest, tag: Tag?, options: PutManifestOptions? = nil)
    case tagImage(repository: RepositoryName, tag: Tag, digest: Digest)
    /// Removes a tag; with `pruneUntaggedImage`, also the image when no tag is left on it (ECR's rule).
    case untagImage(repository: RepositoryName, tag: Tag, pruneUntaggedImage: Bool)
    /// Removes an image and its tags. With `refuseIfReferenced` (ECR), refused while an index of
    /// the repository names it.
    case deleteManifest(repository: RepositoryName, digest: Digest, refuseIfReferenced: Bool? = nil)
    /// Moves an image to ECR's ARCHIVE storage class, or back to STANDARD.
    case setImageArchived(repository: RepositoryName, digest: Digest, archived: Bool)
    /// Records a completed scan of an image, with its findings.
    case recordImageScan(repository: RepositoryName, digest: Digest, findings: [ScanFinding])
    /// Removes images a lifecycle policy expired (with their tags), all or none.
    /// With `rules`, the priority of the lifecycle rule that expired each image, in the same order.
    case expireImages(repository: RepositoryName, digests: [Digest], rules: [Int]? = nil)

    // The registry as a whole
    case reset(extent: ResetExtent)
    case checkpoint(name: CheckpointName)
    /// The registry becomes the stored state `point` (the state as it was after record `point`,
    /// or an imported one stored under this command's own sequence number). Checkpoints are kept;
    /// uploads in flight are cancelled, since their bytes belong to the present.
    case restore(point: UInt64, cause: RestoreCause)
    /// The server's clock stands `offsetMilliseconds` from its source from this record on (the
    /// admin API set or advanced it). Kept in the state, so a restart keeps the clock where it was.
    case setClock(offsetMilliseconds: Int64)
    /// A request refused at the edge before it became a command (a malformed digest, a chunk for
    /// an upload that ended): recorded as a refusal, so the history of the upload it names shows
    /// it. Never applied.
    case refuseRequest(upload: UploadID?, repository: RepositoryName?, request: String)
    /// The server's switches (``Switches``) are these from this record on. Like the clock, they
    /// are the server's, not the registry's content: resets, rewinds and imports keep them.
    case configure(Switches)
    /// A request answered by an injected fault (`/_admin/faults`) instead of the registry: a
    /// record of what was asked and what was answered, so the history (and the story of the
    /// upload it names) shows it. Changes nothing.
    case injectFault(upload: UploadID?, repository: RepositoryName?, request: String, answer: String)
}

/// How a manifest is put, beyond the defaults (all of them off).
public struct PutManifestOptions: Hashable, Sendable, Codable {
    /// ECR `PutImage`: refused when the image is there already and the tag, if any, points at it.
    public var refuseIfPresent: Bool?
    /// `--sparse-manifests`: an image manifest may name layers, an index child manifests, that the
    /// repository lacks (the config must be there).
    public var allowMissingReferences: Bool?
    /// More tags to point at the image in the same command (the distribution-spec's `?tag=` list).
    public var moreTags: [Tag]?

    public init(refuseIfPresent: Bool? = nil, allowMissingReferences: Bool? = nil, moreTags: [Tag]? = nil) {
        self.refuseIfPresent = refuseIfPresent
        self.allowMissingReferences = allowMissingReferences
        self.moreTags = moreTags
    }
}

/// Why the registry ended an upload.
public enum UploadEnd: String, Hashable, Sendable, Codable {
    /// Nobody touched it for the upload timeout (`--upload-timeout`) of the server's clock.
    case expired
    /// After a crash or a power cut its spool held fewer bytes than the log had acknowledged.
    case bytesLost
}

/// The rules ECR's `CompleteLayerUpload` adds to a commit: an upload must hold bytes, every part
/// but the last must be at least `minimumPartSize`, and the layer must not be linked already.
public struct LayerUploadRules: Hashable, Sendable, Codable {
    public var minimumPartSize: Int64

    public init(minimumPartSize: Int64) { self.minimumPartSize = minimumPartSize }
}

/// Why the registry was restored to a stored state.
public enum RestoreCause: Hashable, Sendable, Codable {
    /// `POST /_admin/rewind` to a sequence number, or to a named checkpoint.
    case rewind(to: UInt64, checkpoint: CheckpointName?)
    /// `POST /_admin/import` of an export file with this many bytes.
    case importFile(bytes: Int64)
}

/// What a reset empties.
public enum ResetExtent: String, Hashable, Sendable, Codable {
    /// Every account and region. Checkpoints are kept.
    case everything
    /// Only the envelope's account and region.
    case scope
}

/// A checkpoint's name: 1 to 128 of `[A-Za-z0-9._-]`.
public struct CheckpointName: ValidatedString {
    public let rawValue: String

    public init?(_ text: String) {
        let bytes = text.utf8
        guard (1...128).contains(bytes.count),
            bytes.allSatisfy({
                ASCII.isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            })
        else { return nil }
        rawValue = text
    }
}

extension Command {
    /// The tags a `putManifest` points at the image: its tag, then the options' other tags.
    public static func tags(_ tag: Tag?, _ options: PutManifestOptions?) -> [Tag] {
        (tag.map { [$0] } ?? []) + (options?.moreTags ?? [])
    }

    /// Every command kind, in the order of the enum (what ``kind`` can be).
    public static let kinds: [String] = [
        "createRepository", "deleteRepository", "setTagMutability", "setScanOnPush", "setRepositoryPolicy",
        "setLifecyclePolicy", "setLifecyclePreview", "tagRepository", "untagRepository", "changeRegistrySettings",
        "startUpload", "appendChunk", "commitUpload", "cancelUpload", "endUpload", "putBlob", "mountBlob",
        "deleteBlobLink",
        "putManifest", "tagImage", "untagImage", "deleteManifest", "setImageArchived", "recordImageScan",
        "expireImages", "reset", "checkpoint", "restore", "setClock", "refuseRequest", "configure", "injectFault",
    ]

    /// Whether it replaces the state rather than changing it (a reset, a restore): what was said
    /// of the state before, such as which repositories a snapshot wrote, no longer holds.
    public var replacesState: Bool {
        switch self {
        case .reset, .restore: true
        default: false
        }
    }

    /// The command's name as logged and filtered on (`kind=` in the admin log), e.g. `putManifest`.
    public var kind: String {
        switch self {
        case .createRepository: "createRepository"
        case .deleteRepository: "deleteRepository"
        case .setTagMutability: "setTagMutability"
        case .setScanOnPush: "setScanOnPush"
        case .setRepositoryPolicy: "setRepositoryPolicy"
        case .setLifecyclePolicy: "setLifecyclePolicy"
        case .setLifecyclePreview: "setLifecyclePreview"
        case .tagRepository: "tagRepository"
        case .untagRepository: "untagRepository"
        case .changeRegistrySettings: "changeRegistrySettings"
        case .startUpload: "startUpload"
        case .appendChunk: "appendChunk"
        case .commitUpload: "commitUpload"
        case .cancelUpload: "cancelUpload"
        case .endUpload: "endUpload"
        case .putBlob: "putBlob"
        case .mountBlob: "mountBlob"
        case .deleteBlobLink: "deleteBlobLink"
        case .putManifest: "putManifest"
        case .tagImage: "tagImage"
        case .untagImage: "untagImage"
        case .deleteManifest: "deleteManifest"
        case .expireImages: "expireImages"
        case .recordImageScan: "recordImageScan"
        case .setImageArchived: "setImageArchived"
        case .reset: "reset"
        case .checkpoint: "checkpoint"
        case .restore: "restore"
        case .setClock: "setClock"
        case .refuseRequest: "refuseRequest"
        case .configure: "configure"
        case .injectFault: "injectFault"
        }
    }

    /// The repository the command acts on, if it acts on one.
    public var repository: RepositoryName? {
        switch self {
        case .createRepository(let name, _), .deleteRepository(let name, _): name
        case .setTagMutability(let r, _, _), .setScanOnPush(let r, _), .setRepositoryPolicy(let r, _),
            .setLifecyclePolicy(let r, _), .setLifecyclePreview(let r, _), .tagRepository(let r, _, _),
            .untagRepository(let r, _),
            .startUpload(_, let r), .appendChunk(_, let r, _, _), .commitUpload(_, let r, _, _, _, _),
            .cancelUpload(_, let r), .endUpload(_, let r, _), .putBlob(let r, _, _), .mountBlob(let r, _, _),
            .deleteBlobLink(let r, _),
            .putManifest(let r, _, _, _), .tagImage(let r, _, _), .untagImage(let r, _, _),
            .deleteManifest(let r, _, _),
            .expireImages(let r, _, _), .recordImageScan(let r, _, _), .setImageArchived(let r, _, _):
            r
        case .refuseRequest(_, let r, _), .injectFault(_, let r, _, _): r
        case .reset, .checkpoint, .restore, .changeRegistrySettings, .setClock, .configure: nil
        }
    }

    /// The upload the command acts on, if any.
    public var upload: UploadID? {
        switch self {
        case .startUpload(let id, _), .appendChunk(let id, _, _, _), .commitUpload(let id, _, _, _, _, _),
            .cancelUpload(let id, _), .endUpload(let id, _, _):
            id
        case .refuseRequest(let id, _, _), .injectFault(let id, _, _, _): id
        default: nil
        }
    }
}
