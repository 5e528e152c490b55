/// Why the reducer refused a command, in the registry's own words.
///
/// The wire layers map each case to their protocol's error (OCI codes, ECR exception names)
/// in exactly one place each.
public enum RegistryError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    case repositoryNotFound(RepositoryName)
    case repositoryAlreadyExists(RepositoryName)
    case repositoryNotEmpty(RepositoryName, images: Int)
    case uploadNotFound(UploadID)
    case uploadAlreadyExists(UploadID)
    /// A chunk did not start where the upload stands.
    case chunkOutOfOrder(UploadID, expectedOffset: Int64, offset: Int64)
    case invalidChunkLength(UploadID, length: Int64)
    /// The digest the client claimed is not the digest of the bytes it sent.
    case digestMismatch(UploadID?, claimed: Digest, computed: Digest)
    case sizeMismatch(UploadID, expected: Int64, size: Int64)
    case blobNotFound(RepositoryName, Digest)
    /// A manifest names blobs or child manifests that are not in its repository; every one is listed.
    case manifestReferencesMissing(RepositoryName, blobs: [Digest], manifests: [Digest])
    case manifestNotFound(RepositoryName, reference: String)
    case tagNotFound(RepositoryName, Tag)
    /// The tag exists, points at another image, and the repository's settings make it immutable.
    case tagImmutable(RepositoryName, Tag, current: Digest)
    /// A restore names a stored state that is not available.
    case pointUnavailable(UInt64)
    /// A registry setting to remove is not there (e.g. a pull-time exclusion never registered).
    case settingNotFound(String)
    /// A registry setting to add is already there.
    case settingAlreadyExists(String)
    /// The image (with the tag, if one is given) is already in the repository (ECR `PutImage`).
    case imageAlreadyExists(RepositoryName, Digest, tag: Tag?)
    /// The blob an upload would commit is already linked in the repository (ECR `CompleteLayerUpload`).
    case layerAlreadyExists(RepositoryName, Digest)
    /// An upload was completed without a byte in it.
    case emptyUpload(UploadID)
    /// A part other than the last was smaller than the repository's minimum part size.
    case partTooSmall(UploadID, size: Int64, minimum: Int64)
    /// A repository would have more resource tags than allowed.
    case tooManyResourceTags(RepositoryName, limit: Int)
    /// A registry-level list would grow past its limit.
    case limitExceeded(String, limit: Int)
    /// The image is a child of an index in the repository, and may not be deleted while it is.
    case imageReferencedByIndex(RepositoryName, Digest, parents: [Digest])
    case templateNotFound(prefix: String)
    case templateAlreadyExists(prefix: String)
    case pullThroughRuleNotFound(prefix: String)
    case pullThroughRuleAlreadyExists(prefix: String)
    /// A request refused at the edge, in its words (recorded with ``Command/refuseRequest(upload:repository:request:)``).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .repositoryNotFound(let r): "repository '\(r)' does not exist"
        case .repositoryAlreadyExists(let r): "repository '\(r)' already exists"
        case .repositoryNotEmpty(let r, let n):
            "repository '\(r)' still holds \(n) image(s); delete them first or force the deletion"
        case .uploadNotFound(let u): "upload '\(u)' is not in progress in this repository"
        case .uploadAlreadyExists(let u): "upload '\(u)' already exists"
        case .chunkOutOfOrder(let u, let expected, let offset):
            "chunk for upload '\(u)' starts at byte \(offset), but the upload stands at byte \(expected)"
        case .invalidChunkLength(let u, let length): "chunk for upload '\(u)' has invalid length \(length)"
        case .digestMismatch(_, let claimed, let computed):
            "the content's digest is \(computed), not the \(claimed) that was claimed"
        case .sizeMismatch(let u, let expected, let size):
            "upload '\(u)' holds \(expected) bytes, but \(size) were committed"
        case .blobNotFound(let r, let d): "blob \(d) is not in repository '\(r)'"
        case .manifestReferencesMissing(let r, let blobs, let manifests):
            "manifest refers to content that is not in repository '\(r)': "
                + (blobs.map { "blob \($0)" } + manifests.map { "manifest \($0)" }).joined(separator: ", ")
        case .manifestNotFound(let r, let reference): "manifest '\(reference)' is not in repository '\(r)'"
        case .tagNotFound(let r, let t): "tag '\(t)' is not in repository '\(r)'"
        case .tagImmutable(let r, let t, let current):
            "tag '\(t)' in repository '\(r)' is immutable and already points at \(current)"
        case .pointUnavailable(let point): "the state after record \(point) is not stored any more"
        case .settingNotFound(let what): "\(what) is not registered"
        case .settingAlreadyExists(let what): "\(what) is already registered"
        case .imageAlreadyExists(let r, let d, let tag):
            "image \(d)\(tag.map { " with tag '\($0)'" } ?? "") is already in repository '\(r)'"
        case .layerAlreadyExists(let r, let d): "layer \(d) is already in repository '\(r)'"
        case .emptyUpload(let u): "upload '\(u)' holds no bytes"
        case .partTooSmall(let u, let size, let minimum):
            "upload '\(u)' has a part of \(size) bytes before its last; every part but the last must be at least \(minimum)"
        case .tooManyResourceTags(let r, let limit): "repository '\(r)' may have at most \(limit) resource tags"
        case .limitExceeded(let what, let limit): "at most \(limit) \(what) can be registered"
        case .imageReferencedByIndex(let r, let d, let parents):
            "image \(d) in repository '\(r)' is referenced by the index(es) \(parents.map(\.rawValue).joined(separator: ", "))"
        case .templateNotFound(let prefix): "there is no repository creation template with prefix '\(prefix)'"
        case .templateAlreadyExists(let prefix): "a repository creation template with prefix '\(prefix)' already exists"
        case .pullThroughRuleNotFound(let prefix): "there is no pull-through cache rule with prefix '\(prefix)'"
        case .pullThroughRuleAlreadyExists(let prefix):
            "a pull-through cache rule with prefix '\(prefix)' already exists"
        case .invalidRequest(let why): why
        }
    }
}
