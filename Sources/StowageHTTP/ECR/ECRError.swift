import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import StowageCore

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
}

/// An error on the ECR JSON API: HTTP 400 (500 for `ServerException`) with
/// `{"__type": "<shape>", "message": "..."}` and any modeled extra fields.
struct ECRError: HTTPResponseError {
    var type: ECRErrorType
    var message: String
    var fields: [String: any Sendable] = [:]

    init(_ type: ECRErrorType, _ message: String, fields: [String: any Sendable] = [:]) {
        self.type = type
        self.message = message
        self.fields = fields
    }

    var status: HTTPResponse.Status { type == .serverException ? .internalServerError : .badRequest }

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
                fields: ["uploadId": id.rawValue, "lastValidByteReceived": expected - 1])
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
        case .pointUnavailable:
            self.init(.serverException, error.description)
        case .settingNotFound:
            self.init(.exclusionNotFound, error.description)
        case .settingAlreadyExists:
            self.init(.exclusionAlreadyExists, error.description)
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: Any] = ["__type": type.rawValue, "message": message]
        for (key, value) in fields { body[key] = value }
        return ECRResponse.make(body, status: status)
    }
}

/// Responses in the AWS JSON 1.1 protocol.
enum ECRResponse {
    static func make(_ body: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = JSON.serialize(body)
        return Response(
            status: status,
            headers: [.contentType: "application/x-amz-json-1.1", .amznRequestID: randomUUID()],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
