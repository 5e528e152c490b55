import FoundationEssentials
import HTTPTypes
import Hummingbird
import NIOCore
import StowageCore
import StowageStorage

/// The exception shapes of the ECR service model, spelled as on the wire.
enum ECRErrorType: String, Sendable {
    case serverException = "ServerException"
    case invalidParameter = "InvalidParameterException"
    case invalidTagParameter = "InvalidTagParameterException"
    case tooManyTags = "TooManyTagsException"
    case repositoryNotFound = "RepositoryNotFoundException"
    case repositoryAlreadyExists = "RepositoryAlreadyExistsException"
    case repositoryNotEmpty = "RepositoryNotEmptyException"
    case repositoryPolicyNotFound = "RepositoryPolicyNotFoundException"
    case lifecyclePolicyNotFound = "LifecyclePolicyNotFoundException"
    case lifecyclePolicyPreviewNotFound = "LifecyclePolicyPreviewNotFoundException"
    case registryPolicyNotFound = "RegistryPolicyNotFoundException"
    case signingConfigurationNotFound = "SigningConfigurationNotFoundException"
    case exclusionNotFound = "ExclusionNotFoundException"
    case exclusionAlreadyExists = "ExclusionAlreadyExistsException"
    case scanNotFound = "ScanNotFoundException"
    case unsupportedImageType = "UnsupportedImageTypeException"
    case templateAlreadyExists = "TemplateAlreadyExistsException"
    case templateNotFound = "TemplateNotFoundException"
    case imageStorageClassUpdateNotSupported = "ImageStorageClassUpdateNotSupportedException"
    case imageArchived = "ImageArchivedException"
    case pullThroughCacheRuleAlreadyExists = "PullThroughCacheRuleAlreadyExistsException"
    case pullThroughCacheRuleNotFound = "PullThroughCacheRuleNotFoundException"
    case unsupportedUpstreamRegistry = "UnsupportedUpstreamRegistryException"
    case imageNotFound = "ImageNotFoundException"
    case imageAlreadyExists = "ImageAlreadyExistsException"
    case imageTagAlreadyExists = "ImageTagAlreadyExistsException"
    case imageDigestDoesNotMatch = "ImageDigestDoesNotMatchException"
    case layersNotFound = "LayersNotFoundException"
    case referencedImagesNotFound = "ReferencedImagesNotFoundException"
    case uploadNotFound = "UploadNotFoundException"
    case invalidLayerPart = "InvalidLayerPartException"
    case invalidLayer = "InvalidLayerException"
    case emptyUpload = "EmptyUploadException"
    case layerAlreadyExists = "LayerAlreadyExistsException"
    case layerPartTooSmall = "LayerPartTooSmallException"
    case limitExceeded = "LimitExceededException"
    case validation = "ValidationException"
    case unknownOperation = "UnknownOperationException"
    case serialization = "SerializationException"
    case unsupportedOperation = "UnsupportedOperationException"
    /// Not in the ECR model: the AWS-wide throttling error every SDK retries (a rate limit, a fault).
    case throttling = "ThrottlingException"
}

/// An error on the ECR JSON API: HTTP 400 (500 for `ServerException`) with
/// `{"__type": "<shape>", "message": "..."}` and any modeled extra fields.
struct ECRError: HTTPResponseError {
    /// The members some exceptions carry besides their message.
    struct Fields: Sendable {
        var registryId: String?
        var repositoryName: String?
        var uploadId: String?
        var lastValidByteReceived: Int64?
    }

    var type: ECRErrorType
    var message: String
    var fields = Fields()
    /// A status other than the protocol's (an injected fault's).
    var statusOverride: HTTPResponse.Status?

    init(_ type: ECRErrorType, _ message: String, fields: Fields = Fields()) {
        self.type = type
        self.message = message
        self.fields = fields
    }

    var status: HTTPResponse.Status {
        statusOverride ?? (type == .serverException ? .internalServerError : .badRequest)
    }

    /// The one place where the registry's refusals become ECR exceptions.
    init(_ error: RegistryError, scope: Scope) {
        let registry = scope.account.rawValue
        switch error {
        case .repositoryNotFound(let name):
            self.init(
                .repositoryNotFound,
                "The repository with name '\(name)' does not exist in the registry with id '\(registry)'")
        case .repositoryAlreadyExists(let name):
            self.init(
                .repositoryAlreadyExists,
                "The repository with name '\(name)' already exists in the registry with id '\(registry)'")
        case .repositoryNotEmpty(let name, _):
            self.init(
                .repositoryNotEmpty,
                "The repository with name '\(name)' in registry with id '\(registry)' cannot be deleted because it still contains images"
            )
        case .uploadNotFound(let id), .uploadAlreadyExists(let id):
            self.init(.uploadNotFound, "The upload with id '\(id)' does not exist in this repository")
        case .chunkOutOfOrder(let id, let expected, _):
            self.init(
                .invalidLayerPart, error.description,
                fields: Fields(uploadId: id.rawValue, lastValidByteReceived: expected - 1))
        case .invalidChunkLength:
            self.init(.invalidLayerPart, error.description)
        case .digestMismatch(_, let claimed, _):
            self.init(
                .invalidLayer,
                "The layer digest \(claimed) does not match the digest of the uploaded content: \(error.description)")
        case .sizeMismatch:
            self.init(.invalidLayer, error.description)
        case .blobNotFound(_, let digest):
            self.init(.layersNotFound, "The following layers were not found: \(digest)")
        case .manifestReferencesMissing(_, let blobs, let manifests):
            if !blobs.isEmpty {
                self.init(
                    .layersNotFound,
                    "Layers with digests \(blobs.map(\.rawValue)) required for pushing image into repository are not found"
                )
            } else {
                self.init(
                    .referencedImagesNotFound,
                    "The images with digests \(manifests.map(\.rawValue)) referenced by the manifest list are not found in the repository"
                )
            }
        case .manifestNotFound, .tagNotFound:
            self.init(.imageNotFound, error.description)
        case .tagImmutable(let name, let tag, _):
            self.init(
                .imageTagAlreadyExists,
                "The image tag '\(tag)' already exists in the '\(name)' repository and cannot be overwritten because the repository is immutable."
            )
        case .imageAlreadyExists(let name, let digest, let tag):
            self.init(
                .imageAlreadyExists,
                "Image with digest '\(digest)'\(tag.map { " and tag '\($0)'" } ?? "") already exists in the repository with name '\(name)' in registry with id '\(registry)'"
            )
        case .layerAlreadyExists(let name, let digest):
            self.init(
                .layerAlreadyExists,
                "The layer with digest '\(digest)' already exists in the repository with name '\(name)' in registry with id '\(registry)'"
            )
        case .emptyUpload(let id):
            self.init(
                .emptyUpload, "The upload with id '\(id)' does not contain any layer parts",
                fields: Fields(uploadId: id.rawValue))
        case .partTooSmall(let id, let size, let minimum):
            self.init(
                .layerPartTooSmall,
                "Layer part size must be at least \(minimum) bytes except for the last part; a part of \(size) bytes was sent",
                fields: Fields(uploadId: id.rawValue))
        case .tooManyResourceTags(_, let limit):
            self.init(.tooManyTags, "a repository may have at most \(limit) tags")
        case .limitExceeded(let what, let limit):
            self.init(.limitExceeded, "a registry has at most \(limit) \(what)")
        case .imageReferencedByIndex, .invalidRequest:
            self.init(.invalidParameter, error.description)
        case .pointUnavailable:
            self.init(.serverException, error.description)
        case .settingNotFound:
            self.init(.exclusionNotFound, error.description)
        case .settingAlreadyExists:
            self.init(.exclusionAlreadyExists, error.description)
        case .templateNotFound(let prefix):
            self.init(
                .templateNotFound,
                "No repository creation template with prefix '\(prefix)' exists in the registry with id '\(registry)'")
        case .templateAlreadyExists(let prefix):
            self.init(
                .templateAlreadyExists,
                "A repository creation template with prefix '\(prefix)' already exists in the registry with id '\(registry)'"
            )
        case .pullThroughRuleNotFound(let prefix):
            self.init(
                .pullThroughCacheRuleNotFound,
                "The pull through cache rule with prefix '\(prefix)' does not exist in the registry with id '\(registry)'"
            )
        case .pullThroughRuleAlreadyExists(let prefix):
            self.init(
                .pullThroughCacheRuleAlreadyExists,
                "A pull through cache rule with prefix '\(prefix)' already exists in the registry with id '\(registry)'"
            )
        }
    }

    private struct Body: Encodable {
        var type: String
        var message: String
        var registryId: String?
        var repositoryName: String?
        var uploadId: String?
        var lastValidByteReceived: Int64?

        enum CodingKeys: String, CodingKey {
            case type = "__type"
            case message, registryId, repositoryName, uploadId, lastValidByteReceived
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try ECRResponse.make(
            Body(
                type: type.rawValue, message: message, registryId: fields.registryId,
                repositoryName: fields.repositoryName, uploadId: fields.uploadId,
                lastValidByteReceived: fields.lastValidByteReceived),
            status: status)
    }
}

/// Responses in the AWS JSON 1.1 protocol.
enum ECRResponse {
    static func make(_ body: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/x-amz-json-1.1", .amznRequestID: randomUUID()],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try StateCodec.encode(body))))
    }
}
